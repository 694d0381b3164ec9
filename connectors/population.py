"""人口库查询: the household of one ID number from the population database, over HTTP JSON.

The contract (Bianmin's own; a county's population service is put behind an adapter that speaks it):

    POST <url>            Content-Type: application/json, Authorization: Bearer <key> when a key is configured
    {"id_number": "510123195603121234"}

    200 {"household_number": "510123101201000317", "address": "青山县清水镇东坡村三组 17 号",
         "members": [{"name": "…", "id_number": "…", "relation": "户主", "gender": "男", "birth_date": "1956-03-12"}]}
    404 no one with that number is registered

The number travels in the body, never in the URL, whose query strings proxies and access logs keep. Every member
needs a name and a relation; the other fields may be missing (they come back empty). Any other answer is malformed,
and so is a household without members. Errors, time-outs and retries are http_json's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import http_json
from .base import Connector, ConnectorError, MalformedAnswer, Secrets, register

ID_NUMBER = "^[0-9]{17}[0-9X]$"
MEMBER_FIELDS = ("name", "id_number", "relation", "gender", "birth_date")
REQUIRED_MEMBER_FIELDS = ("name", "relation")

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "id_number"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
        "id_number": {"type": "string", "pattern": ID_NUMBER},
        # The name of a stored secret sent as "Authorization: Bearer …", as for http/json.
        "bearer_secret": {"type": "string", "maxLength": 100},
        "verify_tls": {"type": "boolean", "default": True},
    },
}
_TEXT = {"type": "string"}
RESULT = {
    "type": "object",
    "properties": {
        "household_number": _TEXT, "address": _TEXT,
        "members": {"type": "array", "items": {"type": "object",
                                               "properties": {field: _TEXT for field in MEMBER_FIELDS}}},
    },
}


class NotInRegister(ConnectorError):
    """The population database answered that no one is registered under the number."""

    def __init__(self) -> None:
        super().__init__("人口库中没有该身份证号码的户籍信息", retryable=False, status=404)


def call(params: Mapping[str, Any], secrets: Secrets, timeout_seconds: float, idempotency_key: str) -> dict[str, Any]:
    request = {"method": "POST", "url": params["url"], "body": {"id_number": params["id_number"]},
               "verify_tls": params.get("verify_tls", True)}
    if params.get("bearer_secret"):
        request["bearer_secret"] = params["bearer_secret"]
    try:
        answer = http_json.call(request, secrets, timeout_seconds, idempotency_key)
    except ConnectorError as exc:
        if exc.status == 404:
            raise NotInRegister() from None
        raise
    return household(answer["body"])


def household(body: Any) -> dict[str, Any]:
    """The answer as the contract has it, each member with every field (empty when not given); MalformedAnswer
    saying what is wrong otherwise."""
    if not isinstance(body, dict):
        raise MalformedAnswer("人口库的应答格式不正确：应为 JSON 对象")
    members = body.get("members")
    if not isinstance(members, list) or not members:
        raise MalformedAnswer("人口库的应答格式不正确：缺少家庭成员列表（members）")
    return {"household_number": _text(body, "household_number", "户号"), "address": _text(body, "address", "住址"),
            "members": [_member(index, member) for index, member in enumerate(members, start=1)]}


def _member(index: int, member: Any) -> dict[str, str]:
    if not isinstance(member, dict):
        raise MalformedAnswer(f"人口库的应答格式不正确：第 {index} 名家庭成员不是 JSON 对象")
    shown = {field: _text(member, field, f"第 {index} 名家庭成员的 {field}") for field in MEMBER_FIELDS}
    missing = [field for field in REQUIRED_MEMBER_FIELDS if not shown[field].strip()]
    if missing:
        raise MalformedAnswer(f"人口库的应答格式不正确：第 {index} 名家庭成员缺少 {'、'.join(missing)}")
    return shown


def _text(found: dict[str, Any], key: str, label: str) -> str:
    value = found.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedAnswer(f"人口库的应答格式不正确：{label}应为文本")
    return value


CONNECTOR = register(Connector("population/lookup", "人口信息查询", PARAMETERS, RESULT, call,
                               secret_parameters=("bearer_secret",)))
