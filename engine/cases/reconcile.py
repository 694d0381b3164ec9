"""After SpiffWorkflow has moved a case on: make its task, timer and case rows agree with the workflow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .. import scriptpool
from ..audit import chain
from ..audit.chain import Acting
from ..db import queue_update, queue_write
from ..deadlines import clocks, marks, tracking
from ..documents import decisions
from ..errors import StepFailed
from ..models import Case, Task, Timer
from ..outbox import calls as service_calls
from ..outbox import milestones
from ..outbox import queue as outbox
from ..people.jurisdiction import org_for_role
from ..procedures import variables
from ..procedures.forms import FORM_PROPERTY, UI_FORM_PROPERTY
from ..procedures.spiff import MAX_TASK_DEPTH, deepest_task, dump_state, end_reached, utc_from_iso, waiting_tasks
from ..tasks import countersign
from ..vocabulary import CaseResult, CaseStatus, DeadlineStatus, EventKind, TaskStatus, TimerStatus
from .context import Runtime

# Hot-path statements are built once and go to the tables directly: building a statement per call
# and ORM-enabled bulk statements cost more than the database work itself. Writes are queued and
# sent at commit (see Database.write).
TASKS, TIMERS, CASES = Task.__table__, Timer.__table__, Case.__table__
INSERT = {table: insert(table).inline() for table in (TASKS, TIMERS)}
# One statement shape for every new task row: the operations' columns are empty unless a task arrives by one.
NO_ARRIVAL = {"arrival": None, "arrival_note": None, "arrival_by_id": None, "signing_for": None,
              "sign_position": None, "delegated_by_id": None, "answer": None}
CANCEL_SIGNERS = update(TASKS).where(
    TASKS.c.signing_for == bindparam("task_id"), TASKS.c.status.in_([TaskStatus.OPEN, TaskStatus.PENDING])
).values(status=TaskStatus.CANCELLED)


@dataclass(frozen=True)
class OpenTask:
    """A task a step left open, as its inbox row has it."""

    id: str
    element_id: str
    name: str
    role_code: str
    role_name: str
    org_id: int
    form_file: str | None
    ui_form_file: str | None
    # The step's own limit (timeLimitWorkingDays) and its spec, where the clock reads a pause.
    limit_days: int | None = None
    spec: Any = None


@dataclass(frozen=True)
class Step:
    """What a change left behind: the case, its open tasks, and how many timers fired."""

    case: Case
    open_tasks: list[OpenTask]
    timers_fired: int = 0


@dataclass
class Mirrored:
    """The workflow tasks that have rows: READY user tasks (Task) and WAITING timers (Timer)."""

    ready: dict[str, Any]
    timers: dict[str, Any]


def mirrored(workflow: BpmnWorkflow) -> Mirrored:
    # The flat task maps are far cheaper to scan than walking the task tree once per state.
    ready: dict[str, Any] = {}
    timers: dict[str, Any] = {}
    for tasks in [workflow.tasks, *(sub.tasks for sub in workflow.subprocesses.values())]:
        for task in tasks.values():
            if task.state == TaskState.READY and task.task_spec.manual:
                ready[str(task.id)] = task
            elif task.state == TaskState.WAITING and isinstance(
                getattr(task.task_spec, "event_definition", None), TimerEventDefinition
            ) and isinstance(task.internal_data.get("event_value"), str):
                timers[str(task.id)] = task
    return Mirrored(ready, timers)


def write_case(session: Session, case: Case, **values: Any) -> None:
    """UPDATE the case row at commit, skipping the unit of work; the object shows the new values at once."""
    queue_update(session, CASES, case.id, **values)
    for key, value in values.items():
        set_committed_value(case, key, value)


def advance(rt: Runtime, session: Session, case: Case, workflow: BpmnWorkflow, before: Mirrored,
            actor: Acting | None, now: datetime, *, opened_by: str | None = None,
            arrival: Callable[[OpenTask], dict[str, Any]] | None = None) -> Step:
    """Run engine steps, then make task rows, timer rows and case status agree with the workflow.

    `before` is what the rows mirrored when the workflow was loaded (the rows always mirror the
    stored state), so only the difference is written and nothing needs to be read back. New task rows
    record `opened_by` (the completed task that opened them) and what `arrival` says of them (退回, 撤回).
    """
    with variables.collecting() as scripted, scriptpool.step_budget(), service_calls.collecting() as calls:
        try:
            workflow.do_engine_steps()
        except WorkflowException as exc:
            raise StepFailed(f"流程执行出错：{exc}", element=element_name(exc.task_spec)) from exc
    _refuse_too_deep(workflow)
    after = mirrored(workflow)
    ready = after.ready
    ctx = _Clock(rt, session, case)
    ended = sorted(before.timers.keys() - after.timers.keys())
    # A boundary timer whose task was done first is cancelled with it, never fired.
    fired = [timer_id for timer_id in ended if before.timers[timer_id].state != TaskState.CANCELLED]
    for timer_id in ended:
        spec = before.timers[timer_id].task_spec
        if timer_id not in fired:
            queue_update(session, TIMERS, timer_id, status=TimerStatus.CANCELLED, fired_at=None)
        else:
            queue_update(session, TIMERS, timer_id, status=TimerStatus.FIRED, fired_at=now)
            chain.append(session, case, EventKind.TIMER_FIRED, actor, now, task_id=timer_id,
                         step=spec.bpmn_name or spec.bpmn_id)
        if marks.pause_reason(spec):
            tracking.resume(session, case, spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, ctx.guide,
                            ctx.calendar, now, actor)
    changes: dict[str, Any] = {}
    # Before the tasks and timers they led to, as the scripts ran before those were reached.
    if scripted:
        for change in scripted:
            chain.append(session, case, EventKind.VARIABLES_SET, actor, now, task_id=change.task_id,
                         step=change.step, before=change.before or None, after=change.after)
        changes["variables"] = variables.merged(case.variables, scripted)
    if calls:
        outbox.queue(session, case, calls, actor, now)
    for timer_id in sorted(after.timers.keys() - before.timers.keys()):
        _create_timer(session, case, after.timers[timer_id], ctx, actor, now)
    for task_id in sorted(before.ready.keys() - after.ready.keys()):
        queue_update(session, TASKS, task_id, status=TaskStatus.CANCELLED)
        # Its signers' shares (会签, 加签) go with it.
        queue_write(session, CANCEL_SIGNERS, {"task_id": task_id})
        chain.append(session, case, EventKind.TASK_CANCELLED, actor, now, task_id=task_id)
        spec = before.ready[task_id].task_spec
        if marks.step_limit(spec):
            tracking.close_step(session, task_id, now, DeadlineStatus.CANCELLED)
        if marks.pause_reason(spec):
            tracking.resume(session, case, spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, ctx.guide,
                            ctx.calendar, now, actor)
    open_tasks = [_open_task(rt, session, case, spiff_task) for spiff_task in ready.values()]
    for task in open_tasks:
        if task.id not in before.ready:
            _create_task(session, case, task, ctx, actor, now, opened_by, arrival(task) if arrival else None)
    if workflow.is_completed() and case.status == CaseStatus.RUNNING:
        end = _end_of_finished(workflow)
        properties = end.task_spec.extensions.get("properties", {})
        result = properties.get("caseResult", CaseResult.COMPLETED)
        changes.update(status=CaseStatus.COMPLETED, completed_at=now, result=result)
        clocks.finish_case_clock(session, case, now)
        # The written decision comes first: 办结 is recorded once the applicant's decision exists.
        decisions.issue_decision(rt, session, case, result, end, actor, now)
        chain.append(session, case, EventKind.CASE_COMPLETED, actor, now,
                     step=end.task_spec.bpmn_name, after={"result": result})
        milestones.decided(session, case, ctx.guide.get("name", case.item_code), result, actor, now)
    write_case(session, case, **changes, workflow_state=dump_state(workflow), revision=case.revision + 1)
    return Step(case, open_tasks, len(fired))


def element_name(spec: Any) -> str | None:
    """How a diagram element is named to people: its label, else its id."""
    return (spec.bpmn_name or spec.bpmn_id or spec.name) if spec is not None else None


def _refuse_too_deep(workflow: BpmnWorkflow) -> None:
    deepest, depth = deepest_task(workflow)
    if depth > MAX_TASK_DEPTH:
        spec = deepest.task_spec
        raise StepFailed(
            f"流程在“{element_name(spec)}”处已流转 {depth} 层，超过上限 {MAX_TASK_DEPTH} 层："
            "流程图中的循环（退回或“脚本 → 网关 → 脚本”）执行次数过多。这一步未执行，办件保持原状；"
            "请联系系统管理员检查该循环的退出条件", element=element_name(spec))


def _end_of_finished(workflow: BpmnWorkflow) -> Any:
    """The end event that completed the case; the library's `is_completed()` alone is not trusted for it."""
    end, left = end_reached(workflow), waiting_tasks(workflow)
    if end is None or left:
        names = "、".join(dict.fromkeys(f"“{t.task_spec.bpmn_name or t.task_spec.bpmn_id or t.task_spec.name}”"
                                        for t in left))
        raise StepFailed("流程没有到达结束事件" + (f"，仍有环节未完成：{names}" if names else "") +
                         "。这一步未执行，办件保持原状；请联系系统管理员检查流程图（每条路径都应以结束事件收尾）")
    return end


def _open_task(rt: Runtime, session: Session, case: Case, spiff_task: Any) -> OpenTask:
    spec = spiff_task.task_spec
    role = rt.reference.role(session, spec.lane)
    if role is None:
        raise StepFailed(f"环节“{spec.bpmn_name}”的泳道“{spec.lane}”不是已知角色，无法分派", element=element_name(spec))
    properties = spec.extensions.get("properties", {})
    return OpenTask(str(spiff_task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, role.code, role.name,
                    org_for_role(case, role), properties.get(FORM_PROPERTY), properties.get(UI_FORM_PROPERTY),
                    marks.step_limit(spec), spec)


class _Clock:
    """The item's guide and the holiday calendar, fetched only if a step touches a clock: most steps do not."""

    def __init__(self, rt: Runtime, session: Session, case: Case) -> None:
        self.rt, self.session, self.case = rt, session, case

    @property
    def guide(self) -> dict[str, Any]:
        return self.rt.versions.get(self.session, self.case.version_id).guide

    @property
    def calendar(self) -> Any:
        return self.rt.reference.calendar(self.session)


def _create_task(session: Session, case: Case, task: OpenTask, ctx: _Clock, actor: Acting | None,
                 now: datetime, opened_by: str | None, arrival: dict[str, Any] | None) -> None:
    row = {
        "id": task.id, "case_id": case.id, "element_id": task.element_id, "name": task.name,
        "role_code": task.role_code, "org_id": task.org_id, "form_file": task.form_file,
        "ui_form_file": task.ui_form_file, "status": TaskStatus.OPEN, "created_at": now, "assignee_id": None,
        "completed_at": None, "completed_by_id": None, "promised_date": case.promised_date,
        "opened_by_task_id": opened_by, **NO_ARRIVAL, **(arrival or {}),
    }
    # 会签/或签: the step's own row is held out of every inbox while its posts sign, each on a row of their own.
    signers = countersign.signers(ctx.rt, session, case, row, task.spec)
    held = {"status": TaskStatus.HELD} if signers else {}
    queue_write(session, INSERT[TASKS], row | held)
    chain.append(session, case, EventKind.TASK_CREATED, actor, now, task_id=task.id, step=task.name,
                 after={"role": task.role_code, "role_name": task.role_name, "org_id": task.org_id, **held})
    for signer in signers:
        queue_write(session, INSERT[TASKS], signer.row)
        chain.append(session, case, EventKind.TASK_CREATED, actor, now, task_id=signer.row["id"], step=task.name,
                     after={"role": signer.row["role_code"], "role_name": signer.role_name,
                            "org_id": signer.row["org_id"], "signing_for": task.id})
    if task.limit_days:
        tracking.open_step(session, case, task.id, task.name, task.limit_days, ctx.guide, ctx.calendar, now)
    if marks.pause_reason(task.spec):
        tracking.pause(session, case, task.spec, now, actor)


def _create_timer(session: Session, case: Case, spiff_task: Any, ctx: _Clock, actor: Acting | None,
                  now: datetime) -> None:
    spec = spiff_task.task_spec
    length = marks.timer_length(spec, ctx.guide)
    due = tracking.timer_due(length, ctx.calendar, now) if length else None
    if due is not None:
        # Counted here rather than from the diagram's ISO expression; SpiffWorkflow compares with this value.
        spiff_task.internal_data["event_value"] = due.isoformat()
    row = {"id": str(spiff_task.id), "case_id": case.id, "element_id": spec.bpmn_id,
           "name": spec.bpmn_name or spec.bpmn_id, "status": TimerStatus.WAITING, "fired_at": None,
           "due_at": utc_from_iso(spiff_task.internal_data["event_value"])}
    queue_write(session, INSERT[TIMERS], row)
    chain.append(session, case, EventKind.TIMER_STARTED, actor, now, task_id=row["id"], step=row["name"],
                 after={"due_at": row["due_at"].isoformat()})
    if marks.pause_reason(spec):
        tracking.pause(session, case, spec, now, actor)
