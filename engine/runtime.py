"""The one place that changes a case: start, claim, release, complete, fire timers — each in one locked transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from . import audit, calendar, clock, forms, routing
from .catalog import FORM_PROPERTY, UI_FORM_PROPERTY, current_version_id
from .db import Database, queue_update, queue_write
from .errors import BianminError, Conflict, Forbidden, NotFound, ValidationFailed
from .idcard import InvalidIdNumber, validate_id_number
from .models import Case, CaseSequence, OrgUnit, Role, Task, Timer, User
from .routing import Actor
from .workflow import (
    MAX_TASK_DEPTH,
    SERIALIZER_VERSION,
    LoadedVersion,
    StateCache,
    VersionCache,
    dump_state,
    load_state,
    new_workflow,
    utc_from_iso,
)

# Hot-path statements are built once and go to the tables directly: building a statement per call
# and ORM-enabled bulk statements cost more than the database work itself. An UPDATE sets the
# columns present in its parameters. Writes are queued and sent at commit (see Database.write).
TASKS, TIMERS, CASES = Task.__table__, Timer.__table__, Case.__table__
INSERT = {table: insert(table).inline() for table in (TASKS, TIMERS)}
LOCK_CASE = select(Case).where(Case.id == bindparam("case_id")).with_for_update()
FRESH = {"populate_existing": True}
INSERT_CASE = insert(CASES).returning(CASES.c.id)
USERS, ORGS = User.__table__, OrgUnit.__table__
_TOWN = ORGS.alias("town")
VILLAGE = select(
    ORGS.c.id, ORGS.c.level, _TOWN.c.id.label("town_id"), _TOWN.c.parent_id.label("county_id"),
).select_from(ORGS.outerjoin(_TOWN, _TOWN.c.id == ORGS.c.parent_id)).where(ORGS.c.code == bindparam("code"))
ACTOR = routing.ACTOR_ROWS.where(USERS.c.id == bindparam("user_id"))
_ACTOR, _ACTOR_ORG = USERS.alias("actor"), ORGS.alias("actor_org")
# The case, the task and the acting user in one statement. Both the case and the task row are locked,
# the case first as every writer does, so a writer that had to wait re-reads both as committed by
# the one before it; the people a task row names are read by the ids in that fresh row.
LOCK_TASK = select(
    Case, TASKS.c.id.label("task_id"), TASKS.c.name.label("task_name"), TASKS.c.role_code.label("task_role_code"),
    TASKS.c.org_id.label("task_org_id"), TASKS.c.form_file, TASKS.c.status.label("task_status"),
    TASKS.c.assignee_id, TASKS.c.completed_by_id, TASKS.c.completed_at.label("task_completed_at"),
    _ACTOR.c.id.label("actor_id"), _ACTOR.c.username.label("actor_username"),
    _ACTOR.c.display_name.label("actor_name"), _ACTOR.c.role_code.label("actor_role_code"),
    _ACTOR.c.org_id.label("actor_org_id"), _ACTOR.c.away.label("actor_away"),
    _ACTOR_ORG.c.level.label("actor_org_level"),
).select_from(
    CASES.join(TASKS, TASKS.c.case_id == CASES.c.id).join(_ACTOR, _ACTOR.c.id == bindparam("user_id"))
    .join(_ACTOR_ORG, _ACTOR_ORG.c.id == _ACTOR.c.org_id)
).where(TASKS.c.id == bindparam("task_id"), _ACTOR.c.active.is_(True)).with_for_update(of=[CASES, TASKS])
PERSON = select(USERS.c.display_name, USERS.c.away).where(USERS.c.id == bindparam("user_id"))


@dataclass(frozen=True)
class Person:
    display_name: str
    away: bool = False


@dataclass(frozen=True)
class TaskRecord:
    """A task row as read under the case lock."""

    id: str
    case_id: int
    name: str
    role_code: str
    org_id: int
    form_file: str | None
    status: str
    assignee_id: int | None
    assignee: Person | None
    completed_at: datetime | None
    completed_by: Person | None


PHONE_DIGITS = (7, 11, 12)
REFERENCE_TTL_SECONDS = 300


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str
    phone: str

    @classmethod
    def parse(cls, raw: Any) -> Applicant:
        if not isinstance(raw, dict):
            raise ValidationFailed("申请人信息缺失：需要姓名、身份证号码和联系电话")
        problems = []
        name = str(raw.get("name") or "").strip()
        if not 2 <= len(name) <= 30:
            problems.append("申请人姓名应为 2 至 30 个字")
        try:
            id_number = validate_id_number(str(raw.get("id_number") or ""))
        except InvalidIdNumber as exc:
            problems.append(str(exc))
            id_number = ""
        phone = str(raw.get("phone") or "").replace("-", "").replace(" ", "")
        if not (phone.isdigit() and len(phone) in PHONE_DIGITS):
            problems.append("联系电话应为 11 位手机号码或带区号的固定电话")
        if problems:
            raise ValidationFailed("申请人信息有误：" + "；".join(problems), details=problems)
        return cls(name, id_number, phone)


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


@dataclass(frozen=True)
class Step:
    """What a change left behind: the case, its open tasks, and how many timers fired."""

    case: Case
    open_tasks: list[OpenTask]
    timers_fired: int = 0


class CaseService:
    """Engine services used by the web UI, the API, the CLI and the scheduler alike."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.versions = VersionCache()
        self.states = StateCache()
        self._reference: tuple[float, calendar.WorkCalendar, dict[str, Role]] | None = None

    # -- starting -----------------------------------------------------------------------------

    def start_case(
        self, actor_id: int, item_code: str, village_code: str, applicant: Any, data: Any
    ) -> Step:
        person = Applicant.parse(applicant)
        with self.db.write() as session:
            actor = self._user(session, actor_id)
            if not routing.accepts_applications(actor):
                raise Forbidden("只有村代办员和便民服务中心窗口人员可以受理申请")
            version = self.versions.get(session, current_version_id(session, item_code))
            village = session.connection().execute(VILLAGE, {"code": village_code}).first()
            if village is None or village.level != "village" or village.county_id is None:
                raise NotFound(f"未找到行政区划代码为“{village_code}”的村（社区）")
            if actor.org_level == "village" and actor.org_id != village.id:
                raise Forbidden("只能为本村（社区）的群众受理申请")
            if actor.org_id not in (village.id, village.town_id, village.county_id):
                raise Forbidden("该村（社区）不在您的辖区内")
            application_form = version.guide.get("application_form")
            if application_form:
                forms.validate(version.forms[application_form], data, "申请表")
            elif not isinstance(data, dict):
                raise ValidationFailed("申请数据格式不正确")
            now = clock.now()
            values = {
                "case_number": self._next_case_number(session, item_code, now), "item_code": item_code,
                "version_id": version.id, "village_id": village.id, "town_id": village.town_id,
                "county_id": village.county_id, "applicant_name": person.name,
                "applicant_id_number": person.id_number, "applicant_phone": person.phone, "status": "running",
                "result": None, "started_by_id": actor.id, "accepted_at": now, "completed_at": None,
                "workflow_state": "", "serializer_version": SERIALIZER_VERSION, "revision": 0, "event_count": 0,
                "last_event_hash": audit.GENESIS, **self._due_date(version, now, session),
            }
            # A plain INSERT; the Case object handed back is built from the same values, not loaded.
            case = Case(id=session.connection().execute(INSERT_CASE, values).scalar_one(), **values)
            # Form fields come first so an application cannot overwrite the case's own identity.
            workflow = new_workflow(version.spec, version.subprocess_specs, {
                **data,
                "case_number": case.case_number,
                "applicant": {"name": person.name, "phone": person.phone},
            })
            audit.append(session, case, "case_started", actor, now, step="受理", after={
                "item_code": item_code, "version": version.version, "village": village_code,
                "applicant": person.name, "data": data, "due_date": case.due_date.isoformat()
                if case.due_date else None,
            })
            step = self._advance(session, case, workflow, Mirrored({}, {}), actor, now)
        self.states.put(case.id, case.revision, workflow)
        return step

    def _next_case_number(self, session: Session, item_code: str, now: datetime) -> str:
        """ITEM-YYYYMMDD-NNNN; the upsert is atomic, so concurrent starts never share a number."""
        day = now.astimezone(clock.SHANGHAI).strftime("%Y%m%d")
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
        sequences = CaseSequence.__table__
        stmt = insert(sequences).values(item_code=item_code, day=day, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["item_code", "day"], set_={"last": sequences.c.last + 1}
        ).returning(sequences.c.last)
        number = session.connection().execute(stmt).scalar_one()
        return f"{item_code}-{day}-{number:04d}"

    def _reference_data(self, session: Session) -> tuple[calendar.WorkCalendar, dict[str, Role]]:
        """Calendar and roles, re-read at most every few minutes: they change a few times a year."""
        if self._reference is None or time.monotonic() - self._reference[0] > REFERENCE_TTL_SECONDS:
            roles = {role.code: role for role in session.scalars(select(Role))}
            for role in roles.values():
                session.expunge(role)
            self._reference = (time.monotonic(), calendar.load(session), roles)
        return self._reference[1], self._reference[2]

    def forget_reference_data(self) -> None:
        """Call after the administrator changed roles or the holiday calendar in this process."""
        self._reference = None

    def _role(self, session: Session, code: str) -> Role | None:
        role = self._reference_data(session)[1].get(code)
        if role is None:
            # A role added since the last read: look again before refusing.
            self.forget_reference_data()
            role = self._reference_data(session)[1].get(code)
        return role

    def _due_date(self, version: LoadedVersion, now: datetime, session: Session) -> dict[str, Any]:
        days = int(version.guide.get("promised_days", 0))
        try:
            work_calendar = self._reference_data(session)[0]
            return {"due_date": work_calendar.add_working_days(now.astimezone(clock.SHANGHAI).date(), days),
                    "due_note": None}
        except calendar.MissingHolidayData as exc:
            # The case is still accepted: the applicant must not lose the application over our data.
            return {"due_date": None, "due_note": exc.message}

    def fill_due_dates(self) -> list[str]:
        """Promised dates for running cases accepted while their year's holidays were not yet entered.

        Counted from each case's acceptance, as they would have been; returns the case numbers dated.
        """
        self.forget_reference_data()
        with self.db.read() as session:
            waiting = list(session.scalars(select(Case.id).where(
                Case.status == "running", Case.due_date.is_(None), Case.due_note.is_not(None)).order_by(Case.id)))
        dated = []
        for case_id in waiting:
            with self.db.write() as session:
                case = self._lock_case(session, case_id)
                if case.due_date is not None:
                    continue
                due = self._due_date(self.versions.get(session, case.version_id), case.accepted_at, session)
                if due["due_date"] is None:
                    continue
                audit.append(session, case, "due_date_set", None, clock.now(), step="承诺办结日期",
                             before={"due_note": case.due_note}, after={"due_date": due["due_date"].isoformat()})
                _write(session, case, **due)
                dated.append(case.case_number)
        return dated

    # -- tasks --------------------------------------------------------------------------------

    def claim(self, actor_id: int, task_id: str) -> TaskRecord:
        with self.db.write() as session:
            actor, task, case = self._lock_task(session, actor_id, task_id)
            if task.assignee_id == actor.id:
                return task
            if not routing.can_work(actor, task):
                raise self._refusal(actor, task)
            before = {"assignee": task.assignee.display_name if task.assignee else None}
            queue_update(session, TASKS, task.id, assignee_id=actor.id)
            audit.append(session, case, "task_claimed", actor, clock.now(), task_id=task.id, step=task.name,
                         before=before, after={"assignee": actor.display_name})
            return task

    def release(self, actor_id: int, task_id: str) -> TaskRecord:
        with self.db.write() as session:
            actor, task, case = self._lock_task(session, actor_id, task_id)
            if task.assignee_id != actor.id:
                raise Conflict("只能退回自己认领的任务")
            queue_update(session, TASKS, task.id, assignee_id=None)
            audit.append(session, case, "task_released", actor, clock.now(), task_id=task.id, step=task.name,
                         before={"assignee": actor.display_name}, after={"assignee": None})
            return task

    def complete(self, actor_id: int, task_id: str, data: Any) -> Step:
        with self.db.write() as session:
            actor, task, case = self._lock_task(session, actor_id, task_id)
            if not routing.can_work(actor, task):
                raise self._refusal(actor, task)
            version = self.versions.get(session, case.version_id)
            if task.form_file:
                forms.validate(version.forms[task.form_file], data, task.name)
            elif not isinstance(data, dict):
                raise ValidationFailed("提交的数据格式不正确")
            workflow = self._load(case, version)
            mirrored = _mirrored(workflow)
            spiff_task = workflow.get_task_from_id(UUID(task.id))
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise Conflict("该任务在流程中已不可办理，请刷新页面")
            before = {key: spiff_task.data.get(key) for key in data}
            spiff_task.data.update(data)
            now = clock.now()
            try:
                spiff_task.run()
            except WorkflowException as exc:
                raise BianminError(f"环节“{task.name}”执行失败：{exc}") from exc
            queue_update(session, TASKS, task.id, status="completed", completed_at=now, completed_by_id=actor.id,
                         assignee_id=task.assignee_id or actor.id)
            audit.append(session, case, "task_completed", actor, now, task_id=task.id, step=task.name,
                         before=before, after=data)
            mirrored.ready.pop(task.id, None)
            step = self._advance(session, case, workflow, mirrored, actor, now)
        self.states.put(case.id, case.revision, workflow)
        return step

    def _lock_task(self, session: Session, actor_id: int, task_id: str) -> tuple[Actor, TaskRecord, Case]:
        row = session.execute(LOCK_TASK, {"task_id": task_id, "user_id": actor_id}, execution_options=FRESH).first()
        if row is None:
            self._user(session, actor_id)  # a missing or disabled account is refused as such
            raise NotFound("任务不存在")
        case: Case = row.Case
        actor = Actor(row.actor_id, row.actor_username, row.actor_name, row.actor_role_code, row.actor_org_id,
                      row.actor_org_level, row.actor_away)
        # Who holds or finished the task matters only off the usual path (someone else's claim, a conflict).
        if row.assignee_id == actor.id:
            assignee: Person | None = Person(actor.display_name, actor.away)
        else:
            assignee = self._person(session, row.assignee_id)
        completer = self._person(session, row.completed_by_id) if row.task_status == "completed" else None
        task = TaskRecord(row.task_id, case.id, row.task_name, row.task_role_code, row.task_org_id, row.form_file,
                          row.task_status, row.assignee_id, assignee, row.task_completed_at, completer)
        if not routing.holds_post(actor, task):
            raise Forbidden("您不是该任务所属岗位的人员，无权办理")
        if task.status == "completed":
            who = task.completed_by.display_name if task.completed_by else "他人"
            when = task.completed_at.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M") \
                if task.completed_at else ""
            raise Conflict(f"该任务已由{who}于 {when} 办理完毕，无需重复办理")
        if task.status != "open":
            raise Conflict("该任务已撤销，无需办理")
        return actor, task, case

    def _refusal(self, actor: Actor, task: TaskRecord) -> BianminError:
        if actor.away:
            return Forbidden("您已标记为不在岗，请先恢复在岗再办理任务")
        holder = task.assignee.display_name if task.assignee else "他人"
        return Conflict(f"该任务已由{holder}认领，请联系其办理或等待其退回")

    # -- timers -------------------------------------------------------------------------------

    def due_timer_cases(self, limit: int = 100) -> list[int]:
        with self.db.read() as session:
            return list(session.scalars(
                select(Timer.case_id).where(Timer.status == "waiting", Timer.due_at <= clock.now())
                .group_by(Timer.case_id).limit(limit)
            ))

    def fire_timers(self, case_id: int) -> int:
        """Fire the due timers of one case; a second process arriving later finds nothing to do."""
        with self.db.write() as session:
            case = self._lock_case(session, case_id)
            now = clock.now()
            due = session.scalars(select(Timer).where(
                Timer.case_id == case_id, Timer.status == "waiting", Timer.due_at <= now)).all()
            if not due or case.status != "running":
                return 0
            workflow = self._load(case, self.versions.get(session, case.version_id))
            mirrored = _mirrored(workflow)
            workflow.refresh_timers()
            step = self._advance(session, case, workflow, mirrored, None, now)
        self.states.put(case.id, case.revision, workflow)
        return step.timers_fired

    def run_due_timers(self) -> int:
        return sum(self.fire_timers(case_id) for case_id in self.due_timer_cases())

    # -- internals ----------------------------------------------------------------------------

    def _user(self, session: Session, user_id: int) -> Actor:
        row = session.connection().execute(ACTOR, {"user_id": user_id}).first()
        if row is None or not row.active:
            raise Forbidden("用户不存在或已停用")
        return Actor.from_row(row)

    def _person(self, session: Session, user_id: int | None) -> Person | None:
        row = session.connection().execute(PERSON, {"user_id": user_id}).first() if user_id else None
        return Person(row.display_name, row.away) if row else None

    def _lock_case(self, session: Session, case_id: int) -> Case:
        case = session.scalar(LOCK_CASE, {"case_id": case_id}, execution_options=FRESH)
        if case is None:
            raise NotFound("办件不存在")
        return case

    def _load(self, case: Case, version: LoadedVersion) -> BpmnWorkflow:
        cached = self.states.take(case.id, case.revision)
        return cached or load_state(case.workflow_state, version.spec, version.subprocess_specs)

    def _advance(self, session: Session, case: Case, workflow: BpmnWorkflow, before: Mirrored,
                 actor: Actor | None, now: datetime) -> Step:
        """Run engine steps, then make task rows, timer rows and case status agree with the workflow.

        `before` is what the rows mirrored when the workflow was loaded (the rows always mirror the
        stored state), so only the difference is written and nothing needs to be read back.
        """
        try:
            workflow.do_engine_steps()
        except WorkflowException as exc:
            raise BianminError(f"流程执行出错：{exc}") from exc
        after = _mirrored(workflow)
        ready = after.ready
        if any(t.depth > MAX_TASK_DEPTH for t in ready.values()):
            raise BianminError("该办件退回或循环次数过多，流程已停止推进，请联系系统管理员处理")
        fired = sorted(before.timers.keys() - after.timers.keys())
        for timer_id in fired:
            queue_update(session, TIMERS, timer_id, status="fired", fired_at=now)
            spec = workflow.get_task_from_id(UUID(timer_id)).task_spec
            audit.append(session, case, "timer_fired", actor, now, task_id=timer_id,
                         step=spec.bpmn_name or spec.bpmn_id)
        for timer_id in sorted(after.timers.keys() - before.timers.keys()):
            self._create_timer(session, case, after.timers[timer_id], actor, now)
        cancelled = sorted(before.ready.keys() - after.ready.keys())
        for task_id in cancelled:
            queue_update(session, TASKS, task_id, status="cancelled")
            audit.append(session, case, "task_cancelled", actor, now, task_id=task_id)
        open_tasks = [self._open_task(session, case, spiff_task) for spiff_task in ready.values()]
        for task in open_tasks:
            if task.id not in before.ready:
                self._create_task(session, case, task, actor, now)
        changes: dict[str, Any] = {}
        if workflow.is_completed() and case.status == "running":
            end = next(iter(workflow.get_tasks(state=TaskState.COMPLETED, spec_class=EndEvent)), None)
            properties = end.task_spec.extensions.get("properties", {}) if end else {}
            changes = {"status": "completed", "completed_at": now, "result": properties.get("caseResult", "completed")}
            audit.append(session, case, "case_completed", actor, now,
                         step=end.task_spec.bpmn_name if end else None, after={"result": changes["result"]})
        _write(session, case, **changes, workflow_state=dump_state(workflow), revision=case.revision + 1)
        return Step(case, open_tasks, len(fired))

    def _open_task(self, session: Session, case: Case, spiff_task: Any) -> OpenTask:
        spec = spiff_task.task_spec
        role = self._role(session, spec.lane)
        if role is None:
            raise BianminError(f"环节“{spec.bpmn_name}”的泳道“{spec.lane}”不是已知角色，无法分派")
        properties = spec.extensions.get("properties", {})
        return OpenTask(str(spiff_task.id), spec.bpmn_id, spec.bpmn_name or spec.bpmn_id, role.code, role.name,
                        routing.org_for_role(case, role), properties.get(FORM_PROPERTY),
                        properties.get(UI_FORM_PROPERTY))

    def _create_task(self, session: Session, case: Case, task: OpenTask, actor: Actor | None, now: datetime) -> None:
        row = {
            "id": task.id, "case_id": case.id, "element_id": task.element_id, "name": task.name,
            "role_code": task.role_code, "org_id": task.org_id, "form_file": task.form_file,
            "ui_form_file": task.ui_form_file, "status": "open", "created_at": now, "assignee_id": None,
            "completed_at": None, "completed_by_id": None,
        }
        queue_write(session, INSERT[TASKS], row)
        audit.append(session, case, "task_created", actor, now, task_id=task.id, step=task.name,
                     after={"role": task.role_code, "role_name": task.role_name, "org_id": task.org_id})

    def _create_timer(self, session: Session, case: Case, spiff_task: Any, actor: Actor | None,
                      now: datetime) -> None:
        spec = spiff_task.task_spec
        row = {"id": str(spiff_task.id), "case_id": case.id, "element_id": spec.bpmn_id,
               "name": spec.bpmn_name or spec.bpmn_id, "status": "waiting", "fired_at": None,
               "due_at": utc_from_iso(spiff_task.internal_data["event_value"])}
        queue_write(session, INSERT[TIMERS], row)
        audit.append(session, case, "timer_started", actor, now, task_id=row["id"], step=row["name"],
                     after={"due_at": row["due_at"].isoformat()})


@dataclass
class Mirrored:
    """The workflow tasks that have rows: READY user tasks (Task) and WAITING timers (Timer)."""

    ready: dict[str, Any]
    timers: dict[str, Any]


def _mirrored(workflow: BpmnWorkflow) -> Mirrored:
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


def _write(session: Session, case: Case, **values: Any) -> None:
    """UPDATE the case row at commit, skipping the unit of work; the object shows the new values at once."""
    queue_update(session, CASES, case.id, **values)
    for key, value in values.items():
        set_committed_value(case, key, value)


