"""办件信息上报: a case's record, already in the platform's field names and codes, POSTed as JSON to the upstream
government-service platform; the HTTP call and its errors are http/json's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import http_json
from .base import Connector, Secrets, register

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "record"],
    "properties": {
        "url": {"type": "string", "pattern": "^https?://", "maxLength": 2000},
        # The name of a stored secret sent as "Authorization: Bearer …"; none: the platform asks for no token.
        "bearer_secret": {"type": "string", "maxLength": 100},
        "verify_tls": {"type": "boolean", "default": True},
        # The platform's field → its value, mapped when the report was queued: exactly what is sent.
        "record": {"type": "object", "minProperties": 1,
                   "additionalProperties": {"type": "string", "maxLength": 2000}},
    },
}


def call(params: Mapping[str, Any], secrets: Secrets, timeout_seconds: float, idempotency_key: str) -> dict[str, Any]:
    request: dict[str, Any] = {"method": "POST", "url": params["url"], "body": dict(params["record"]),
                               "verify_tls": params.get("verify_tls", True)}
    if params.get("bearer_secret"):
        request["bearer_secret"] = params["bearer_secret"]
    return http_json.call(request, secrets, timeout_seconds, idempotency_key)


CONNECTOR = register(Connector("platform/case_report", "办件信息上报", PARAMETERS, http_json.RESULT, call,
                               secret_parameters=("bearer_secret",)))
