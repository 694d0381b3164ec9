"""撤回: the one who completed a step takes it back, while nothing has been done on the case since."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import lock_task
from ..cases.reconcile import OpenTask, Step, advance, mirrored
from ..deadlines import marks
from ..errors import Conflict
from ..models import CaseEvent, Task
from ..vocabulary import Arrival, CaseStatus, EventKind, TaskOperation
from .operated import ensure_may, previous_answer, reason
from .rewind import rewind

EVENTS = CaseEvent.__table__
# What counts as the next step having been acted on: anyone's work on the case after the completion, a 公示 or
# other timer that ran out, or a document issued by it (a decision cannot be taken back by 撤回).
ACTED = (
    EventKind.TASK_CLAIMED, EventKind.TASK_COMPLETED, EventKind.TIMER_FIRED, EventKind.TASK_SENT_BACK,
    EventKind.TASK_WITHDRAWN, EventKind.TASK_TRANSFERRED, EventKind.TASK_DELEGATED, EventKind.DELEGATE_ANSWERED,
    EventKind.SIGNER_ADDED, EventKind.TASK_SIGNED, EventKind.DOCUMENT_ISSUED, EventKind.CASE_COMPLETED,
    EventKind.CASE_CANCELLED, EventKind.CASE_MIGRATED, EventKind.PROXY_HANDED_OVER,
)
COMPLETION = select(EVENTS.c.seq).where(
    EVENTS.c.case_id == bindparam("case_id"), EVENTS.c.task_id == bindparam("task_id"),
    EVENTS.c.kind == EventKind.TASK_COMPLETED).order_by(EVENTS.c.seq.desc()).limit(1)
ACTED_SINCE = select(EVENTS.c.kind, EVENTS.c.step, EVENTS.c.actor_name).where(
    EVENTS.c.case_id == bindparam("case_id"), EVENTS.c.seq > bindparam("seq"), EVENTS.c.kind.in_(ACTED),
).order_by(EVENTS.c.seq.desc()).limit(1)
TASKS = Task.__table__
SIGNED = select(exists().where(TASKS.c.signing_for == bindparam("task_id")))
WORDS = {EventKind.TASK_CLAIMED: "认领", EventKind.DOCUMENT_ISSUED: "出具"}


def withdraw(rt: Runtime, actor_id: int, task_id: str, why: str) -> Step:
    """Reopen the completed task `task_id` for the one who completed it; the steps it opened are cancelled."""
    written = reason(why, TaskOperation.WITHDRAW)
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id, open_only=False)
        ensure_may(actor, TaskOperation.WITHDRAW, task, case)
        if case.status != CaseStatus.RUNNING:
            raise Conflict("办件已办结，不能撤回")
        if refused := blocker(session, case.id, task_id):
            raise Conflict(refused)
        now = clock.now()
        workflow = rt.load(case, rt.versions.get(session, case.version_id))
        before_rows = mirrored(workflow)
        target = workflow.get_task_from_id(UUID(task_id))
        if target is None or target.state != TaskState.COMPLETED:
            raise Conflict("该环节已不在办件当前的流程中，不能撤回")
        if session.scalar(SIGNED, {"task_id": task_id}):
            raise Conflict("该环节由多个岗位签署（会签或加签）后办结，不能由一人撤回；"
                           "如需更正，请联系后续环节的办理人退回")
        if marks.is_acceptance(target.task_spec):
            raise Conflict("受理已生效、承诺期限已起算，不能撤回；如受理有误，请联系系统管理员处理")
        answer = previous_answer(session, case.id, task_id)
        # Everything it led to lies below it in the tree: nothing was completed since, so no join was passed.
        rewind(workflow, target, None)
        chain.append(session, case, EventKind.TASK_WITHDRAWN, actor, now, task_id=task_id, step=task.name,
                     after={"reason": written})

        def arrival(opened: OpenTask) -> dict[str, Any]:
            return {"arrival": Arrival.WITHDRAWN, "arrival_note": written, "arrival_by_id": actor.id,
                    "answer": answer, "assignee_id": actor.id}

        step = advance(rt, session, case, workflow, before_rows, actor, now, arrival=arrival)
    rt.states.put(case.id, case.revision, workflow)
    return step


def blocker(session: Session, case_id: int, task_id: str) -> str | None:
    """Why the completed task can no longer be withdrawn, or None: asked by the case page before it offers 撤回."""
    seq = session.execute(COMPLETION, {"case_id": case_id, "task_id": task_id}).scalar()
    if seq is None:
        return "该环节没有办理记录，不能撤回"
    acted = session.execute(ACTED_SINCE, {"case_id": case_id, "seq": seq}).first()
    if acted is None:
        return None
    step = f"“{acted.step}”" if acted.step else "后续环节"
    if acted.kind == EventKind.TIMER_FIRED:
        return f"{step}已期满，办件已继续办理，不能撤回"
    return (f"{step}已由{acted.actor_name}{WORDS.get(acted.kind, '办理')}，不能撤回；"
            "如需更正，请联系后续环节的办理人退回")
