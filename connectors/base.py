"""The connector contract and the registry the diagrams' `spiffworkflow:serviceTaskOperator` names are looked up in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jsonschema


class Secrets(Protocol):
    """Named secrets (API keys, passwords), decrypted only when a call needs them; never logged or stored in events."""

    def get(self, name: str) -> str: ...


class ConnectorError(Exception):
    """A call that did not succeed. `retryable` says whether trying again may help (a time-out, a 5xx, a refused
    connection) or not (a 4xx, a malformed answer to a well-formed request). `status` is the HTTP status the other
    side answered with, when it answered over HTTP, so a connector can give one status a meaning of its own."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class MalformedAnswer(ConnectorError):
    """The other side answered, but not with what the connector's contract says: asking again will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class Connector:
    """One way out. `call(params, secrets, timeout_seconds, idempotency_key)` returns the result (a JSON object)."""

    name: str
    title: str
    parameters: dict[str, Any]
    result: dict[str, Any]
    call: Callable[[Mapping[str, Any], Secrets, float, str], dict[str, Any]]
    # Parameters whose values name a secret (resolved at call time); their values are never the secret itself.
    secret_parameters: tuple[str, ...] = field(default=())

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Every problem with `params` against the declared parameters, in Chinese, empty when they are fine."""
        validator = jsonschema.Draft202012Validator(self.parameters)
        return [f"参数 {'/'.join(map(str, error.path)) or '（整体）'}：{error.message}"
                for error in sorted(validator.iter_errors(dict(params)), key=lambda e: list(e.path))]


REGISTRY: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    REGISTRY[connector.name] = connector
    return connector
