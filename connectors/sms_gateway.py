"""SMS through an HTTP gateway: a template from connectors/data/sms_templates.toml, filled and POSTed as JSON."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import http_json
from .base import Connector, ConnectorError, Secrets, register

TEMPLATES_FILE = Path(__file__).resolve().parent / "data" / "sms_templates.toml"
# Mainland mobile numbers: 11 digits, 1 then 3–9 (no +86, spaces or dashes: the gateway gets one form only).
PHONE = r"^1[3-9][0-9]{9}$"
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
CODE = r"^[a-z][a-z0-9_]{0,49}$"
# A value may not open a line or a second 【signature】: an SMS that seems to come from someone else is a phishing aid.
FORBIDDEN_IN_VALUE = re.compile(r"[\r\n\t【】]")
MAX_VALUE_CHARS = 100
VALUE_PATTERN = r"^(?=.*\S)[^\r\n\t【】]+$"


@dataclass(frozen=True)
class Template:
    code: str
    title: str
    text: str
    variables: tuple[str, ...]

    def render(self, values: Mapping[str, str]) -> str:
        # Substituted by name, never str.format: a value or the file cannot reach attributes or indexes.
        return PLACEHOLDER.sub(lambda found: values[found.group(1)], self.text)


def load_templates(path: Path = TEMPLATES_FILE) -> dict[str, Template]:
    """The templates in `path`; a template whose placeholders differ from its declared variables is refused here,
    at import, rather than when a citizen's SMS is due."""
    with path.open("rb") as file:
        raw = tomllib.load(file)
    templates: dict[str, Template] = {}
    for code, entry in raw.items():
        if not re.fullmatch(CODE, code) or not isinstance(entry, dict):
            raise ValueError(f"{path.name}: 模板代码 {code!r} 不合规（小写字母、数字、下划线）")
        text, variables = entry.get("text"), entry.get("variables")
        if not isinstance(text, str) or not isinstance(variables, list) or not all(
                isinstance(v, str) for v in variables):
            raise ValueError(f"{path.name}: 模板 {code} 须有 text（文本）和 variables（变量名列表）")
        used = PLACEHOLDER.findall(text)
        if set(used) != set(variables) or len(set(variables)) != len(variables):
            raise ValueError(f"{path.name}: 模板 {code} 的变量 {variables} 与正文中的占位符 {used} 不一致")
        if "{" in PLACEHOLDER.sub("", text) or "}" in PLACEHOLDER.sub("", text):
            raise ValueError(f"{path.name}: 模板 {code} 的正文中有不成对的花括号")
        templates[code] = Template(code, str(entry.get("title", code)), text, tuple(variables))
    return templates


TEMPLATES = load_templates()

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["gateway_url", "api_key_secret", "template", "phone", "variables"],
    "properties": {
        "gateway_url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
        # The name of a stored secret sent in `api_key_header`; the diagram never holds the key itself.
        "api_key_secret": {"type": "string", "maxLength": 100},
        "api_key_header": {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$", "default": "X-API-Key"},
        "template": {"enum": sorted(TEMPLATES)},
        "phone": {"type": "string", "pattern": PHONE},
        "variables": {"type": "object", "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_CHARS}},
        "verify_tls": {"type": "boolean", "default": True},
    },
    # Each template's own variables, so checking the parameters already finds a missing or undeclared one.
    "allOf": [{"if": {"required": ["template"], "properties": {"template": {"const": code}}},
               "then": {"properties": {"variables": {
                   "required": list(template.variables), "additionalProperties": False,
                   "properties": {name: {"type": "string", "maxLength": MAX_VALUE_CHARS,
                                         "pattern": VALUE_PATTERN} for name in template.variables}}}}}
              for code, template in sorted(TEMPLATES.items())],
}
RESULT = {"type": "object", "properties": {"status": {"type": "integer"}, "body": {}, "text": {"type": "string"}}}


def rendered(template_code: str, phone: str, variables: Mapping[str, Any]) -> tuple[Template, str]:
    """The template and its text for these values; every problem refuses the message before anything is sent."""
    template = TEMPLATES.get(template_code)
    if template is None:
        known = "、".join(sorted(TEMPLATES))
        raise ConnectorError(f"短信模板“{template_code}”不存在（可用：{known}）", retryable=False)
    if not isinstance(phone, str) or not re.fullmatch(PHONE, phone):
        raise ConnectorError("手机号码格式不正确：应为 11 位中国大陆手机号码，不含 +86、空格或横线", retryable=False)
    missing = [name for name in template.variables if name not in variables]
    extra = sorted(set(variables) - set(template.variables))
    problems = []
    if missing:
        problems.append(f"缺少变量 {'、'.join(missing)}")
    if extra:
        problems.append(f"模板未声明变量 {'、'.join(extra)}")
    for name in template.variables:
        value = variables.get(name)
        if name in missing:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"变量 {name} 须为非空文本")
        elif len(value) > MAX_VALUE_CHARS:
            problems.append(f"变量 {name} 超过 {MAX_VALUE_CHARS} 个字符")
        elif FORBIDDEN_IN_VALUE.search(value):
            problems.append(f"变量 {name} 不能含换行、制表符或【】")
    if problems:
        raise ConnectorError(f"短信模板“{template_code}”：{'；'.join(problems)}，未发送", retryable=False)
    return template, template.render({name: variables[name] for name in template.variables})


def call(params: Mapping[str, Any], secrets: Secrets, timeout_seconds: float, idempotency_key: str) -> dict[str, Any]:
    template, text = rendered(params["template"], params["phone"], params["variables"])
    body = {"phone": params["phone"], "template": template.code, "text": text,
            "variables": {name: params["variables"][name] for name in template.variables}}
    headers = {params.get("api_key_header", "X-API-Key"): secrets.get(params["api_key_secret"])}
    # The same request, errors and retry rules as any HTTP/JSON call (a 5xx or time-out may pass, a 4xx will not).
    answer = http_json.call({"method": "POST", "url": params["gateway_url"], "headers": headers, "body": body,
                             "verify_tls": params.get("verify_tls", True)}, secrets, timeout_seconds, idempotency_key)
    return {**answer, "text": text}


CONNECTOR = register(Connector("sms/gateway", "发送短信（HTTP 短信网关）", PARAMETERS, RESULT, call,
                               secret_parameters=("api_key_secret",)))
