"""HTTP/JSON: a request with a JSON body (or none) to a URL, answered with JSON; TLS certificates are verified
unless the diagram turns it off for that call."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from .base import Connector, ConnectorError, MalformedAnswer, Secrets, register

# An answer larger than this is not a look-up result but a mistake (a file, a page): refused rather than kept.
MAX_ANSWER_BYTES = 1_048_576
RETRYABLE_STATUS = (408, 425, 429, 500, 502, 503, 504)

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "POST"},
        "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
        "headers": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 2000}},
        "body": {},
        "verify_tls": {"type": "boolean", "default": True},
        # The name of a stored secret sent as "Authorization: Bearer …"; the diagram never holds the key itself.
        "bearer_secret": {"type": "string", "maxLength": 100},
    },
}
RESULT = {"type": "object", "properties": {"status": {"type": "integer"}, "body": {}}}


def call(params: Mapping[str, Any], secrets: Secrets, timeout_seconds: float, idempotency_key: str) -> dict[str, Any]:
    method = params.get("method", "POST")
    headers = {"Accept": "application/json", "Idempotency-Key": idempotency_key, **params.get("headers", {})}
    data = None
    if "body" in params and method != "GET":
        data = json.dumps(params["body"], ensure_ascii=False).encode()
        headers["Content-Type"] = "application/json; charset=utf-8"
    if params.get("bearer_secret"):
        headers["Authorization"] = f"Bearer {secrets.get(params['bearer_secret'])}"
    request = urllib.request.Request(params["url"], data=data, headers=headers, method=method)
    context = ssl.create_default_context()
    if params.get("verify_tls") is False:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds, context=context) as answer:
            status, raw = answer.status, answer.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        status = exc.code
        raise ConnectorError(f"对方返回 HTTP {status}", retryable=status in RETRYABLE_STATUS, status=status) from None
    except TimeoutError:
        raise ConnectorError(f"{timeout_seconds:g} 秒内未收到应答（超时）", retryable=True) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLError):
            raise ConnectorError(f"TLS 证书校验失败：{reason}", retryable=False) from None
        if isinstance(reason, TimeoutError):
            raise ConnectorError(f"{timeout_seconds:g} 秒内未收到应答（超时）", retryable=True) from None
        raise ConnectorError(f"无法连接：{reason}", retryable=True) from None
    except (ConnectionError, OSError) as exc:
        raise ConnectorError(f"连接中断：{exc}", retryable=True) from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise MalformedAnswer("应答超过 1 MB，不是预期的 JSON 结果")
    if not raw.strip():
        return {"status": status, "body": None}
    try:
        return {"status": status, "body": json.loads(raw)}
    except (ValueError, UnicodeDecodeError):
        raise MalformedAnswer("应答不是有效的 JSON") from None


CONNECTOR = register(Connector("http/json", "HTTP/JSON 接口调用", PARAMETERS, RESULT, call,
                               secret_parameters=("bearer_secret",)))
