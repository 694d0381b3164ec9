"""What the task operations share: the reason each must give, the refusal each words the same way, earlier answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..errors import Forbidden, ValidationFailed
from ..models import CaseEvent
from ..people.access import OperatedTask, Staff, may_operate
from ..vocabulary import EventKind, TaskOperation

REASON_LIMIT = 500
NAMES = {
    TaskOperation.SEND_BACK: "退回", TaskOperation.WITHDRAW: "撤回", TaskOperation.TRANSFER: "转办",
    TaskOperation.DELEGATE: "委派", TaskOperation.ADD_SIGNER: "加签", TaskOperation.COPY: "抄送",
    TaskOperation.CHASE: "催办",
}
EVENTS = CaseEvent.__table__
LAST_ANSWER = select(EVENTS.c.after).where(
    EVENTS.c.case_id == bindparam("case_id"), EVENTS.c.task_id == bindparam("task_id"),
    EVENTS.c.kind == EventKind.TASK_COMPLETED,
).order_by(EVENTS.c.seq.desc()).limit(1)


def reason(text: Any, operation: TaskOperation, *, required: bool = True) -> str:
    """The reason as written down: required for every operation that moves work (说明理由), at most 500 characters."""
    value = text.strip() if isinstance(text, str) else ""
    name = NAMES[operation]
    if required and not value:
        raise ValidationFailed(f"请填写{name}理由", fields={"reason": [f"请填写{name}理由"]})
    if len(value) > REASON_LIMIT:
        raise ValidationFailed(f"{name}理由不能超过 {REASON_LIMIT} 字",
                               fields={"reason": [f"不能超过 {REASON_LIMIT} 字"]})
    return value


def ensure_may(actor: Staff, operation: TaskOperation, task: OperatedTask, case: Any) -> None:
    if not may_operate(actor, operation, task, case):
        raise Forbidden(f"您不能{NAMES[operation]}该任务：" + _why_not(actor, operation, task))


def _why_not(actor: Staff, operation: TaskOperation, task: OperatedTask) -> str:
    if operation == TaskOperation.WITHDRAW:
        return "只能撤回自己办理完毕的环节"
    if operation == TaskOperation.CHASE:
        return "催办由本辖区的电子监察人员、乡镇领导或本村代办员发起，且任务须尚未办理"
    if task.signing_for is not None:
        return "会签或加签任务只能签署意见"
    if task.delegated_by_id is not None:
        return "受委派的任务办理后交回委派人，不能再转交"
    return "任务须由您所在岗位办理，且已由您认领或尚未被他人认领"


def previous_answer(session: Session, case_id: int, task_id: str) -> dict[str, Any] | None:
    """What was submitted when the task was last completed: shown to whoever gets the step back."""
    return session.execute(LAST_ANSWER, {"case_id": case_id, "task_id": task_id}).scalar()
