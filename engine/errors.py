"""Errors the engine raises; each carries a message in Chinese that can be shown to the user as is."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"  # refuses the deployment
    WARNING = "warning"  # shown, not blocking: data may come from outside the diagram


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a procedure, placed so a modeler can mark it on the diagram element."""

    file: str
    message: str
    element_id: str | None = None
    element_name: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def text(self) -> str:
        """Where and what, without the severity mark (for a list already headed as warnings)."""
        element = ""
        if self.element_id:
            element = f"{self.element_id}（{self.element_name}）：" if self.element_name else f"{self.element_id}："
        file = f"{self.file}：" if self.file else ""
        return f"{file}{element}{self.message}"

    def __str__(self) -> str:
        return f"［提示］{self.text}" if self.severity == Severity.WARNING else self.text

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class BianminError(Exception):
    """Base class; `status` is the HTTP status a web layer should answer with.

    `details` lists every problem as text; `fields` keys field errors by the field's name, so a form
    marks them without reading the messages.
    """

    status = 400

    def __init__(self, message: str, *, details: list[str] | None = None,
                 fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.fields = fields or {}

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers an answer carrying this error adds."""
        return {}


class NotFound(BianminError):
    status = 404


class Unauthorized(BianminError):
    status = 401


class Forbidden(BianminError):
    status = 403


class Conflict(BianminError):
    status = 409


class ValidationFailed(BianminError):
    status = 422


class Busy(BianminError):
    """The database did not free what this request waits for in time; nothing was changed, it may be sent again."""

    status = 503
    retry_after_seconds = 5

    def __init__(self) -> None:
        super().__init__(f"系统繁忙：所需数据正被其他操作占用，本次操作未执行，"
                         f"请约 {self.retry_after_seconds} 秒后重试")

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class Unavailable(Busy):
    """The database connection was lost (a server restart or failover); nothing was changed, it may be sent again."""

    def __init__(self) -> None:
        BianminError.__init__(self, f"数据库暂时无法连接（可能正在重启），本次操作未执行，"
                                    f"请约 {self.retry_after_seconds} 秒后重试")


class SecretsUnavailable(BianminError):
    """Stored secrets cannot be written or read: BIANMIN_SECRETS_KEY is unset, malformed, or not the key they were
    written with. An operator's fix (the environment), not something the user who met it can correct."""

    status = 503


class StepFailed(BianminError):
    """A step the diagram could not carry through; the case stays as it was before the step.

    `element` names the diagram element where it failed (a gateway, a script task), when known.
    """

    status = 422

    def __init__(self, message: str, *, element: str | None = None) -> None:
        super().__init__(message)
        self.element = element


class StepHeld(StepFailed):
    """A clerk's completion whose following path failed: kept with an incident for an administrator to repair.

    Accepted (202) rather than refused: the input is not lost, and the clerk has nothing to send again.
    """

    status = 202

    def __init__(self, failure: StepFailed, incident_id: int) -> None:
        where = f"在“{failure.element}”处" if failure.element else ""
        super().__init__(f"办理未能完成：流程{where}出错（{failure.message}）。您填写的内容已保存，系统管理员已收到通知；"
                         "修复后将按您填写的内容继续办理，无需重新填写。", element=failure.element)
        self.cause = failure.message
        self.incident_id = incident_id


class UndeclaredFields(ValidationFailed):
    """Data naming fields the form does not declare, or names reserved for the system: a malformed request."""

    status = 400


class DeployRefused(BianminError):
    status = 422

    def __init__(self, message: str, *, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message, details=[str(problem) for problem in self.problems])
