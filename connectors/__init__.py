"""Connectors: how a service task or a notification reaches a system outside Bianmin (HTTP, e-mail, SMS …).

Each connector declares its name, its parameters (JSON Schema) and its result, and is called by the outbox worker
(`engine/outbox`) outside any case lock, with only the parameters the diagram mapped. Nothing here imports the engine.
"""

from __future__ import annotations

from .base import REGISTRY, Connector, ConnectorError, MalformedAnswer, Secrets, register

__all__ = ["REGISTRY", "Connector", "ConnectorError", "MalformedAnswer", "Secrets", "register"]

from . import case_report as _case_report  # noqa: E402,F401  (registers itself)
from . import http_json as _http_json  # noqa: E402,F401  (registers itself)
from . import population as _population  # noqa: E402,F401  (registers itself)
from . import sms_gateway as _sms_gateway  # noqa: E402,F401  (registers itself)
from . import smtp_mail as _smtp_mail  # noqa: E402,F401  (registers itself)
