"""What the task operations share: the reason each gives, one wording of refusals, earlier answers, answer checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import clock
from ..errors import Conflict, Forbidden, ValidationFailed
from ..models import Case, CaseEvent
from ..people.access import OperatedTask, Staff, may_operate
from ..procedures import crosschecks
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


def checked_answer(workflow: BpmnWorkflow, case: Case, version_forms: dict[str, Any], schema: dict[str, Any],
                   task_id: str, task_name: str, data: Any, now: datetime) -> SpiffTask:
    """The READY workflow task that `data` (already valid for its form) answers, once the cross-checks against the
    case's earlier answers hold: asked of the holder's completion and of a delegate's answer (委派) alike."""
    spiff_task = workflow.get_task_from_id(UUID(task_id))
    if spiff_task is None or spiff_task.state != TaskState.READY:
        raise Conflict("该任务在流程中已不可办理，请刷新页面")
    crosschecks.enforce(schema, data, crosschecks.Context(
        spiff_task.data, case.applicant_id_number, now.astimezone(clock.SHANGHAI).date(),
        crosschecks.titles(version_forms)), task_name)
    return spiff_task
