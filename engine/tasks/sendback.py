"""退回: the holder of an open task sends the case back to an earlier step of its path, with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..cases.context import Runtime
from ..cases.locking import lock_task
from ..cases.reconcile import OpenTask, Step, advance, element_name, mirrored
from ..deadlines import marks
from ..documents import decisions
from ..errors import Conflict
from ..models import Case, Task, User
from ..procedures.spiff import load_state
from ..vocabulary import Arrival, EventKind, TaskOperation
from .operated import ensure_may, previous_answer, reason
from .rewind import earlier_steps, rewind, undone

TASKS, USERS = Task.__table__, User.__table__
COMPLETER = select(USERS.c.id, USERS.c.role_code, USERS.c.org_id, USERS.c.active).join(
    TASKS, TASKS.c.completed_by_id == USERS.c.id).where(TASKS.c.id == bindparam("task_id"))


@dataclass(frozen=True)
class EarlierStep:
    """A step the case can be sent back to; a parallel split means every branch after it is done again."""

    task_id: str
    name: str
    element_id: str
    whole_split: bool


def targets(rt: Runtime, actor_id: int, task_id: str) -> list[EarlierStep]:
    """The steps the holder of `task_id` may send its case back to, earliest first; refused if they may not."""
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        ensure_may(actor, TaskOperation.SEND_BACK, task, case)
        return offered(rt, session, case, task_id)


def offered(rt: Runtime, session: Session, case: Case, task_id: str) -> list[EarlierStep]:
    """What a page offers to send back to, read from the stored state without the case lock or the state cache
    (`send_back` checks the choice again under the lock); empty once the task is no longer open."""
    version = rt.versions.get(session, case.version_id)
    workflow = load_state(case.workflow_state, version.spec, version.subprocess_specs)
    current = workflow.get_task_from_id(UUID(task_id))
    if current is None or current.state != TaskState.READY:
        return []
    return [_earlier(step) for step in _open_to(current)]


def _open_to(current: SpiffTask) -> list[SpiffTask]:
    """The earlier steps except those whose redoing would undo a formal act towards the applicant: the 受理 that
    started the clock (its notice is in their hands) or a written decision issued at a step."""
    return [step for step in earlier_steps(current)
            if not any(_formal(task) for task in [step, *undone(step, current)])]


def _formal(task: SpiffTask) -> bool:
    return task.task_spec.manual and bool(marks.is_acceptance(task.task_spec) or decisions.decided_at(task.task_spec))


def send_back(rt: Runtime, actor_id: int, task_id: str, target_id: str, why: str) -> Step:
    """Send the case back from the open task `task_id` to the earlier step `target_id`, which reopens with `why`."""
    written = reason(why, TaskOperation.SEND_BACK)
    with rt.db.write() as session:
        actor, task, case = lock_task(session, actor_id, task_id)
        ensure_may(actor, TaskOperation.SEND_BACK, task, case)
        now = clock.now()
        workflow = rt.load(case, rt.versions.get(session, case.version_id))
        before_rows = mirrored(workflow)
        current = _ready(workflow, task_id)
        steps = {str(step.id): step for step in _open_to(current)}
        target = steps.get(target_id)
        if target is None:
            raise Conflict("只能退回到本办件在当前环节之前已办理过的环节，请刷新页面后重新选择")
        # The answers of the steps done again, and who gave them, by diagram element: shown to the new holder.
        redone = [target, *undone(target, current)]
        earlier = {step.task_spec.bpmn_id: (previous_answer(session, case.id, str(step.id)), _completer(
            session, str(step.id))) for step in redone if step.task_spec.manual}
        name = element_name(target.task_spec)
        rewind(workflow, target, current)
        chain.append(session, case, EventKind.TASK_SENT_BACK, actor, now, task_id=task.id, step=task.name,
                     before={"step": task.name}, after={"to_step": name, "reason": written,
                                                        "whole_split": not target.task_spec.manual})

        def arrival(opened: OpenTask) -> dict[str, Any]:
            answer, completer = earlier.get(opened.element_id, (None, None))
            holder = completer.id if completer and (completer.role_code, completer.org_id) == (
                opened.role_code, opened.org_id) else None
            return {"arrival": Arrival.SENT_BACK, "arrival_note": written, "arrival_by_id": actor.id,
                    "answer": answer, "assignee_id": holder}

        step = advance(rt, session, case, workflow, before_rows, actor, now, arrival=arrival)
    rt.states.put(case.id, case.revision, workflow)
    return step


def _ready(workflow: BpmnWorkflow, task_id: str) -> SpiffTask:
    current = workflow.get_task_from_id(UUID(task_id))
    if current is None or current.state != TaskState.READY:
        raise Conflict("该任务在流程中已不可办理，请刷新页面")
    return current


def _earlier(step: SpiffTask) -> EarlierStep:
    whole = not step.task_spec.manual
    name = element_name(step.task_spec) or ""
    if whole:
        branches = "、".join(element_name(child.task_spec) or "" for child in step.children)
        name = f"并行办理的各环节全部重办（{branches}）" if branches else "并行办理的各环节全部重办"
    return EarlierStep(str(step.id), name, step.task_spec.bpmn_id, whole)


def _completer(session: Session, task_id: str) -> Any:
    """Who completed the step: it returns to them while they hold its post (their B post covers them if away)."""
    row = session.execute(COMPLETER, {"task_id": task_id}).first()
    return row if row is not None and row.active else None
