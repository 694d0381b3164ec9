"""Errors the engine raises; each carries a message in Chinese that can be shown to the user as is."""

from __future__ import annotations


class BianminError(Exception):
    """Base class; `status` is the HTTP status a web layer should answer with."""

    status = 400

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(BianminError):
    status = 404


class Forbidden(BianminError):
    status = 403


class Conflict(BianminError):
    status = 409


class ValidationFailed(BianminError):
    status = 422


class DeployRefused(BianminError):
    status = 422
