"""办理: a post holder submits a task's form and the case moves on to its next steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from sqlalchemy.orm import Session

from .. import clock, scriptpool
from ..audit import chain
from ..audit.chain import Acting
from ..cases import incidents
from ..cases.context import Runtime
from ..cases.locking import lock_task
from ..cases.reconcile import Step, advance, element_name, mirrored
from ..db import queue_update
from ..deadlines import tracking
from ..documents import decisions
from ..errors import StepFailed
from ..models import Case, Task
from ..people.access import task_access
from ..procedures import forms, variables
from ..procedures.spiff import LoadedVersion
from ..vocabulary import EventKind, IncidentKind, TaskStatus
from . import addsign, countersign, delegate
from .claim import refusal
from .copy import copy_on_completion
from .operated import checked_answer

TASKS = Task.__table__


def complete(rt: Runtime, actor_id: int, task_id: str, data: Any) -> Step:
    """Complete the task; a path that then fails keeps the input as an incident and raises StepHeld."""
    held: tuple[int, str, str, Acting] | None = None
    try:
        with rt.db.write() as session:
            actor, task, case = lock_task(session, actor_id, task_id)
            if task.delegated_by_id is not None:
                # 委派: the colleague's answer goes back to the one who delegated it; the workflow task stays open.
                return delegate.answer(rt, session, actor, task, case, data)
            decided = task_access(actor, task)
            if not decided.may_complete:
                raise refusal(task, decided.standing)
            held = (case.id, task.id, task.name, actor)
            now, revision = clock.now(), case.revision
            step, workflow = submit(rt, session, case, task, actor, data, now)
            if case.revision != revision:
                # A step kept after an earlier failure has now gone through as sent again: nothing left to repair.
                # (A signature that decides nothing yet has not moved the case.)
                incidents.resolve(session, case.id, now, IncidentKind.STEP)
    except StepFailed as exc:
        if held is None:
            raise
        # The step's transaction is rolled back whole; the failure and the input are kept in one of their own.
        raise incidents.hold_step(rt.db, *held, data, exc) from exc
    rt.states.put(case.id, case.revision, workflow)
    return step


class Submitted(Protocol):
    """The (locked, open) task row a submission is for."""

    id: str
    name: str
    form_file: str | None
    assignee_id: int | None
    signing_for: str | None
    sign_position: str | None


def submit(rt: Runtime, session: Session, case: Case, task: Submitted, actor: Acting, data: Any,
           now: datetime) -> tuple[Step, BpmnWorkflow]:
    """Submit `data` for the task: a signer's share (会签, 加签) and a holder's answer before the signer added after
    them are checked and kept; the workflow task completes only with the answer that decides it."""
    waiting = None if task.signing_for else addsign.waiting_after(session, task.id)
    if task.signing_for is None and waiting is None:
        return run_completion(rt, session, case, task.id, task.name, task.form_file, task.assignee_id, actor, data,
                              now)
    version = rt.versions.get(session, case.version_id)
    workflow = rt.load(case, version)
    step_id = task.signing_for or task.id
    spiff_task = _checked(version, workflow, case, step_id, task.name, task.form_file, data, now)
    if waiting is not None:
        decided = addsign.hand_on(session, case, task, waiting, actor, data, now)
    elif task.sign_position:
        decided = addsign.sign(session, case, task, actor, data, now)
    else:
        decided = countersign.sign(session, case, spiff_task.task_spec, task, actor, data, now)
    if decided is None:
        # Nothing moved: the workflow goes back to the cache as it was.
        return Step(case, []), workflow
    return run_completion(rt, session, case, step_id, task.name, task.form_file, None, actor, decided.answer, now,
                          workflow)


def _checked(version: LoadedVersion, workflow: BpmnWorkflow, case: Case, task_id: str, task_name: str,
             form_file: str | None, data: Any, now: datetime) -> SpiffTask:
    """The workflow's ready task `task_id`, once `data` passes its form and the form's checks against the case."""
    schema = forms.task_form(version.forms, form_file)
    forms.validate(schema, data, task_name)
    return checked_answer(workflow, case, version.forms, schema, task_id, task_name, data, now)


def run_completion(rt: Runtime, session: Session, case: Case, task_id: str, task_name: str, form_file: str | None,
                   assignee_id: int | None, actor: Acting, data: Any, now: datetime,
                   workflow: BpmnWorkflow | None = None) -> tuple[Step, BpmnWorkflow]:
    """Submit `data` as `actor`'s completion of the (locked, open) task and move the case on; `workflow` is the
    case's, when the caller has loaded it already."""
    version = rt.versions.get(session, case.version_id)
    workflow = workflow or rt.load(case, version)
    before_rows = mirrored(workflow)
    spiff_task = _checked(version, workflow, case, task_id, task_name, form_file, data, now)
    before = {key: spiff_task.data.get(key) for key in data}
    spiff_task.data.update(data)
    # Opened here as well as in advance(), so what the task's own post-script sets is recorded too, and
    # the post-script shares the step's time budget with everything the step runs after it.
    with variables.collecting(), scriptpool.step_budget():
        try:
            spiff_task.run()
        except WorkflowException as exc:
            raise StepFailed(f"环节“{task_name}”执行失败：{exc}", element=element_name(exc.task_spec)) from exc
        queue_update(session, TASKS, task_id, status=TaskStatus.COMPLETED, completed_at=now,
                     completed_by_id=actor.id, assignee_id=assignee_id or actor.id)
        chain.append(session, case, EventKind.TASK_COMPLETED, actor, now, task_id=task_id, step=task_name,
                     before=before, after=data)
        tracking.completed(session, case, spiff_task.task_spec, task_id, version.guide,
                           rt.reference.calendar(session), now, actor)
        copy_on_completion(rt, session, case, task_id, task_name, spiff_task.task_spec, now)
        if decided := decisions.decided_at(spiff_task.task_spec):
            decisions.issue_decision(rt, session, case, decided, spiff_task, actor, now)
        before_rows.ready.pop(task_id, None)
        return advance(rt, session, case, workflow, before_rows, actor, now, opened_by=task_id), workflow
