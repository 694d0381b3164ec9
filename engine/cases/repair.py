"""Repair of a case by an administrator: re-run its kept step, move it to a newer procedure version, or cancel it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import clock, scriptpool
from ..audit import chain, system
from ..db import queue_update
from ..errors import Conflict, Forbidden, StepFailed, ValidationFailed
from ..models import Case, ClockPause, Deadline, Incident, ProcedureVersion, Task, Timer, User
from ..outbox import milestones
from ..people import access
from ..people.jurisdiction import Actor
from ..procedures import variables
from ..procedures.forms import FORM_PROPERTY, UI_FORM_PROPERTY
from ..procedures.spiff import LoadedVersion, dump_state, spec_registry
from ..tasks.complete import TASKS, submit
from ..vocabulary import (
    WITHOUT_WORKFLOW,
    CaseStatus,
    DeadlineStatus,
    EventKind,
    IncidentKind,
    SystemEventKind,
    TaskStatus,
    TimerStatus,
)
from . import incidents
from .context import Runtime
from .locking import actor as read_actor
from .locking import lock_case
from .reconcile import Step, element_name, mirrored, write_case

TIMERS = Timer.__table__
MAX_REASON_CHARS = 500
LIVE = (TaskStatus.OPEN, TaskStatus.HELD, TaskStatus.PENDING)


@dataclass(frozen=True)
class ActiveElement:
    """Where a running case waits: an open task or a waiting timer, by its diagram element."""

    element_id: str
    name: str
    kind: str  # "task" or "timer"


def active_elements(session: Session, case_id: int) -> list[ActiveElement]:
    """The elements a migration must map, read from the rows that mirror the workflow."""
    tasks = session.execute(select(Task.element_id, Task.name).where(
        Task.case_id == case_id, Task.status == TaskStatus.OPEN).order_by(Task.created_at))
    timers = session.execute(select(Timer.element_id, Timer.name).where(
        Timer.case_id == case_id, Timer.status == TimerStatus.WAITING).order_by(Timer.due_at))
    found = [ActiveElement(row.element_id, row.name, "task") for row in tasks]
    found += [ActiveElement(row.element_id, row.name, "timer") for row in timers]
    return list({element.element_id: element for element in found}.values())


def newer_versions(session: Session, case: Case) -> list[ProcedureVersion]:
    """Versions of the case's procedure deployed after its own, newest first: where a migration may go."""
    current = session.get(ProcedureVersion, case.version_id)
    assert current is not None
    return list(session.scalars(select(ProcedureVersion).where(
        ProcedureVersion.item_code == case.item_code, ProcedureVersion.version > current.version)
        .order_by(ProcedureVersion.version.desc())))


def administrator(session: Session, actor_id: int) -> Actor:
    admin = read_actor(session, actor_id)
    if not access.may_repair(admin):
        raise Forbidden("只有系统管理员可以修复办件（重试、迁移版本或撤销）")
    return admin


def _running(case: Case) -> None:
    if case.status in WITHOUT_WORKFLOW:
        raise Conflict(f"办件{case.case_number}尚未受理或不予受理，没有可修复的流程")
    if case.status != CaseStatus.RUNNING:
        raise Conflict(f"办件{case.case_number}已{'撤销' if case.status == CaseStatus.CANCELLED else '办结'}，无需修复")


# -- retry -----------------------------------------------------------------------------------------


def retry(rt: Runtime, actor_id: int, case_id: int) -> Step:
    """Re-run the completion an incident kept, as its clerk submitted it, on the case's version as it is now."""
    held: tuple[str, str, User, dict[str, Any], Actor] | None = None
    try:
        with rt.db.write() as session:
            admin = administrator(session, actor_id)
            case = lock_case(session, case_id)
            _running(case)
            incident = incidents.open_step_incident(session, case_id)
            if incident is None or incident.task_id is None or incident.submitted_by_id is None:
                raise Conflict("该办件没有待重试的出错环节")
            task = session.get(Task, incident.task_id)
            if task is None or task.status != TaskStatus.OPEN:
                raise Conflict("出错的环节已不在办理中（可能已迁移或撤销），无法按保存的内容重试")
            clerk = session.get(User, incident.submitted_by_id)
            assert clerk is not None
            now = clock.now()
            version = session.get(ProcedureVersion, case.version_id)
            chain.append(session, case, EventKind.STEP_RETRIED, admin, now, task_id=task.id, step=task.name,
                         after={"incident": incident.id, "version": version.version if version else None})
            held = (task.id, task.name, clerk, dict(incident.submitted or {}), admin)
            # A signer's share (会签, 加签) is signed again, as its clerk sent it.
            step, workflow = submit(rt, session, case, task, clerk, incident.submitted, now)
            incidents.resolve(session, case_id, now, IncidentKind.STEP)
    except StepFailed as exc:
        if held is None:
            raise
        task_id, task_name, clerk, data, admin = held
        incidents.hold_step(rt.db, case_id, task_id, task_name, clerk, data, exc, acting=admin)
        raise StepFailed(f"重试未成功：流程在“{exc.element or task_name}”处仍然出错（{exc.message}）。"
                         "填写内容仍保存在异常办件中；请修正流程后迁移办件再重试，或撤销办件",
                         element=exc.element) from exc
    rt.states.put(case.id, case.revision, workflow)
    return step


# -- migration -------------------------------------------------------------------------------------


def migrate(rt: Runtime, actor_id: int, case_id: int, target_version_id: int,
            mapping: dict[str, str] | None = None) -> Case:
    """Move a running case to a newer version of its procedure, its open tasks and timers kept (same ids).

    `mapping` names, for an active element, the element of the target that takes its place (same id by default).
    Everything is checked before anything changes; a mapping that does not fit is refused with every problem.
    """
    with rt.db.write() as session:
        admin = administrator(session, actor_id)
        case = lock_case(session, case_id)
        _running(case)
        source = rt.versions.get(session, case.version_id)
        target = rt.versions.get(session, target_version_id)
        if target.item_code != case.item_code:
            raise ValidationFailed(f"第 {target.version} 版不是本办件事项（{case.item_code}）的版本")
        if target.version <= source.version:
            raise ValidationFailed(f"办件在第 {source.version} 版上，只能迁移到更新的版本")
        workflow = rt.load(case, source)
        if workflow.subprocesses:
            raise ValidationFailed("办件正在子流程中办理，暂不支持迁移")
        before = mirrored(workflow)
        active = {**before.ready, **before.timers}
        chosen = _mapping(active, mapping or {})
        problems = _check(active, chosen, target)
        if problems:
            raise ValidationFailed(f"无法迁移到第 {target.version} 版，办件未作改动", details=problems)
        timers_due = {task_id: dict(task.internal_data) for task_id, task in before.timers.items()}
        top, _ = diff_workflow(spec_registry(), workflow, target.spec, target.subprocess_specs)
        for task in active.values():
            top.alignment[task] = target.spec.task_specs[chosen[task.task_spec.name]]
        # Re-predicting the open tasks may run their pre-scripts: within a step's budget, as any step.
        with variables.collecting(), scriptpool.step_budget():
            migrate_workflow(top, workflow, target.spec)
        workflow.subprocess_specs = target.subprocess_specs
        for task_id, internal in timers_due.items():
            # Reset with the rest, a timer would count its period again from now; it keeps its due time.
            workflow.tasks[UUID(task_id)].internal_data = internal
        _check_moved(workflow, before, target)
        now = clock.now()
        for task_id, task in active.items():
            spec = target.spec.task_specs[chosen[task.task_spec.name]]
            name = element_name(spec)
            if task_id in before.ready:
                properties = spec.extensions.get("properties", {})
                queue_update(session, TASKS, task_id, element_id=spec.bpmn_id, name=name,
                             form_file=properties.get(FORM_PROPERTY), ui_form_file=properties.get(UI_FORM_PROPERTY))
            else:
                queue_update(session, TIMERS, task_id, element_id=spec.bpmn_id, name=name)
        chain.append(session, case, EventKind.CASE_MIGRATED, admin, now, before={"version": source.version},
                     after={"version": target.version, "mapping": chosen})
        system.append(session, SystemEventKind.CASE_MIGRATED, admin, now, case.case_number,
                      before={"case_id": case.id, "version_id": source.id, "version": source.version},
                      after={"version_id": target.id, "version": target.version, "mapping": chosen})
        write_case(session, case, version_id=target.id, workflow_state=dump_state(workflow),
                   revision=case.revision + 1)
    rt.states.put(case.id, case.revision, workflow)
    return case


def _mapping(active: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    elements = {task.task_spec.name for task in active.values()}
    unknown = sorted(set(given) - elements)
    if unknown:
        raise ValidationFailed("映射中的环节不是办件当前所在的环节：" + "、".join(unknown))
    return {element: (given.get(element) or "").strip() or element for element in sorted(elements)}


def _check(active: dict[str, Any], chosen: dict[str, str], target: LoadedVersion) -> list[str]:
    """Every active element must have a counterpart of the same kind in the target, and open tasks their forms."""
    problems: list[str] = []
    for task in active.values():
        old = task.task_spec
        wanted = chosen[old.name]
        where = f"“{element_name(old)}”（{old.name}）"
        new = target.spec.task_specs.get(wanted)
        if new is None:
            problems.append(f"{where}：第 {target.version} 版中没有环节“{wanted}”")
        elif type(new) is not type(old):
            problems.append(f"{where}：第 {target.version} 版的“{element_name(new)}”（{wanted}）类型不同"
                            f"（{type(old).__name__} → {type(new).__name__}），不能承接")
        elif isinstance(getattr(old, "event_definition", None), TimerEventDefinition) and not isinstance(
                getattr(new, "event_definition", None), TimerEventDefinition):
            problems.append(f"{where}：第 {target.version} 版的“{element_name(new)}”不是定时器")
        elif old.manual:
            properties = new.extensions.get("properties", {})
            for key in (FORM_PROPERTY, UI_FORM_PROPERTY):
                form = properties.get(key)
                if form and form not in target.forms:
                    problems.append(f"{where}：第 {target.version} 版缺少该环节的表单文件“{form}”")
    return problems


def _check_moved(workflow: Any, before: Any, target: LoadedVersion) -> None:
    """What the library moved: the same tasks and timers wait, and every recorded step exists in the target."""
    after = mirrored(workflow)
    if after.ready.keys() != before.ready.keys() or after.timers.keys() != before.timers.keys():
        raise ValidationFailed(f"迁移到第 {target.version} 版后待办环节或定时器与原来不一致，办件未作改动")
    gone = sorted({element_name(task.task_spec) or task.task_spec.name for task in workflow.tasks.values()
                   if target.spec.task_specs.get(task.task_spec.name) is not task.task_spec})
    if gone:
        raise ValidationFailed(f"已办过的环节在第 {target.version} 版中不存在，无法迁移：" + "、".join(gone))


# -- cancellation ----------------------------------------------------------------------------------


def cancel(rt: Runtime, actor_id: int, case_id: int, reason: str) -> Case:
    """End a running case without a result: open tasks, timers and deadlines cancelled, the reason recorded."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("撤销办件须填写原因", fields={"reason": ["请填写撤销原因"]})
    if len(reason) > MAX_REASON_CHARS:
        message = f"撤销原因不能超过 {MAX_REASON_CHARS} 字"
        raise ValidationFailed(message, fields={"reason": [message]})
    with rt.db.write() as session:
        admin = administrator(session, actor_id)
        case = lock_case(session, case_id)
        _running(case)
        now = clock.now()
        # Held and waiting rows too: a sign-off step's own row, a holder waiting for the signer added before them.
        for row in session.execute(select(Task.id, Task.name).where(
                Task.case_id == case_id, Task.status.in_(LIVE)).order_by(Task.created_at)):
            queue_update(session, TASKS, row.id, status=TaskStatus.CANCELLED)
            chain.append(session, case, EventKind.TASK_CANCELLED, admin, now, task_id=row.id, step=row.name)
        session.execute(update(Timer).where(Timer.case_id == case_id, Timer.status == TimerStatus.WAITING)
                        .values(status=TimerStatus.CANCELLED))
        session.execute(update(Deadline).where(Deadline.case_id == case_id, Deadline.status == DeadlineStatus.OPEN)
                        .values(status=DeadlineStatus.CANCELLED, finished_at=now, next_check_at=None))
        session.execute(update(ClockPause).where(ClockPause.case_id == case_id, ClockPause.ended_at.is_(None))
                        .values(ended_at=now))
        incidents.resolve(session, case_id, now, kind=None)
        chain.append(session, case, EventKind.CASE_CANCELLED, admin, now, after={"why": reason})
        system.append(session, SystemEventKind.CASE_CANCELLED, admin, now, case.case_number,
                      after={"case_id": case.id, "reason": reason})
        write_case(session, case, status=CaseStatus.CANCELLED, revision=case.revision + 1)
        milestones.cancelled(session, case, rt.versions.get(session, case.version_id).guide.get(
            "name", case.item_code), admin, now)
    return case


def open_incident(session: Session, case_id: int) -> Incident | None:
    """The case's open incident of either kind, the failed step first: what its page tells an administrator."""
    return incidents.open_step_incident(session, case_id) or session.scalar(
        select(Incident).where(Incident.case_id == case_id, incidents.OPEN).order_by(Incident.id.desc()))
