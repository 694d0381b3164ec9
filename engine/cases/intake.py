"""受理: a village agent or town window registers an application, and the case starts under a new case number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..deadlines import clocks, marks, promised, tracking
from ..errors import Forbidden, NotFound, ValidationFailed
from ..idcard import InvalidIdNumber, validate_id_number
from ..models import Case, CaseIntake, CaseSequence, OrgUnit
from ..outbox import applicant as told
from ..outbox import milestones
from ..people import access
from ..procedures import crosschecks, forms
from ..procedures.deploy import current_version_id
from ..procedures.spiff import SERIALIZER_VERSION, LoadedVersion, new_workflow
from ..vocabulary import CaseStatus, EventKind
from . import checklist, duplicates, locking, outcomes
from .context import Runtime
from .outcomes import Outcome, Window
from .reconcile import Mirrored, Step, advance, write_case

PHONE_DIGITS = (7, 11, 12)
CASES, ORGS = Case.__table__, OrgUnit.__table__
INSERT_CASE = insert(CASES).returning(CASES.c.id)
INSERT_INTAKE = insert(CaseIntake.__table__)
_TOWN = ORGS.alias("town")
# Named as a case's places are, so the jurisdiction rule reads it as it reads a case.
VILLAGE = select(
    ORGS.c.id.label("village_id"), ORGS.c.level, _TOWN.c.id.label("town_id"), _TOWN.c.parent_id.label("county_id"),
).select_from(ORGS.outerjoin(_TOWN, _TOWN.c.id == ORGS.c.parent_id)).where(ORGS.c.code == bindparam("code"))


NAME_LIMIT = 30
HAN = "\u3400-\u4dbf\u4e00-\u9fff"
# 少数民族 names join their parts with the middle dot ·; ・ (the Japanese one an input method may give) is read as it.
CHINESE_NAME = re.compile(f"[{HAN}]+(·[{HAN}]+)*")
LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
FOREIGN_NAME = re.compile(f"[{LATIN}]+([ .'\\-]+[{LATIN}]+)*\\.?")
MIDDLE_DOTS = {"・": "·", "･": "·"}


def applicant_name(raw: str, who: str = "申请人") -> tuple[str, str | None]:
    """The name as stored, or the reason it is not a name: Chinese characters (· between a minority name's
    parts) or a foreign name in Latin letters with spaces, hyphens, apostrophes and dots."""
    name = " ".join(raw.split())
    for dot, middle in MIDDLE_DOTS.items():
        name = name.replace(dot, middle)
    if not 2 <= len(name) <= NAME_LIMIT:
        return name, f"{who}姓名应为 2 至 {NAME_LIMIT} 个字"
    if CHINESE_NAME.fullmatch(name) or FOREIGN_NAME.fullmatch(name):
        return name, None
    if any(ch in name for ch in ".•．") and re.search(f"[{HAN}]", name):
        return name, "少数民族姓名的分隔符应为间隔号“·”，如“阿依古丽·买买提”"
    return name, f"{who}姓名只能是汉字（少数民族姓名用“·”分隔），或外文姓名（拉丁字母、空格、连字符、撇号、点）"


def normal_phone(raw: str) -> str:
    return raw.strip().replace("-", "").replace(" ", "")


def phone_problem(phone: str) -> str | None:
    """What is wrong with a phone number as `normal_phone` wrote it, or None."""
    return None if phone.isdigit() and len(phone) in PHONE_DIGITS else "联系电话应为 11 位手机号码或带区号的固定电话"


@dataclass(frozen=True)
class Applicant:
    name: str
    id_number: str
    phone: str
    # How they want to hear of 受理, 补正 and 办结 ("sms", "email"); None when not asked (by SMS to a mobile).
    notify: tuple[str, ...] | None = None
    email: str | None = None

    @classmethod
    def parse(cls, raw: Any) -> Applicant:
        """The applicant, or ValidationFailed with each problem keyed by its field (name, id_number, phone)."""
        if not isinstance(raw, dict):
            raise ValidationFailed("申请人信息缺失：需要姓名、身份证号码和联系电话")
        fields: dict[str, list[str]] = {}
        name, wrong = applicant_name(str(raw.get("name") or ""))
        if wrong:
            fields["name"] = [wrong]
        try:
            id_number = validate_id_number(str(raw.get("id_number") or ""))
        except InvalidIdNumber as exc:
            fields["id_number"] = [str(exc)]
            id_number = ""
        phone = normal_phone(str(raw.get("phone") or ""))
        if problem := phone_problem(phone):
            fields["phone"] = [problem]
        notify, email = _channels(raw, phone, fields)
        if fields:
            problems = [text for texts in fields.values() for text in texts]
            raise ValidationFailed("申请人信息有误：" + "；".join(problems), details=problems, fields=fields)
        return cls(name, id_number, phone, notify, email)


def _channels(raw: dict[str, Any], phone: str,
              fields: dict[str, list[str]]) -> tuple[tuple[str, ...] | None, str | None]:
    """The applicant's choice of 通知方式 and their e-mail, each problem added to `fields`."""
    email = str(raw.get("email") or "").strip() or None
    if email is not None and (problem := told.email_problem(email)):
        fields["email"] = [problem]
    chosen = raw.get("notify")
    if chosen is None:
        return None, email
    if not isinstance(chosen, list | tuple) or not set(chosen) <= set(told.CHANNELS):
        fields["notify"] = ["通知方式只能是短信（sms）或电子邮件（email）"]
        return None, email
    notify = tuple(channel for channel in told.CHANNELS if channel in chosen)
    if told.SMS in notify and not told.MOBILE.match(phone):
        fields["notify"] = ["联系电话不是手机号码，收不到短信：请改填手机号码，或不选短信通知"]
    if told.EMAIL in notify and email is None:
        fields.setdefault("email", []).append("选择电子邮件通知时须填写电子邮箱")
    return notify, email


def start_case(rt: Runtime, actor_id: int, item_code: str, village_code: str, applicant: Any, data: Any,
               window: Window | None = None) -> Step:
    """Register an application; complete, it is accepted at once with a receipt (without a checklist: as before)."""
    window = window or Window()
    person = Applicant.parse(applicant)
    with rt.db.write() as session:
        actor = locking.actor(session, actor_id)
        if not access.may_accept(actor):
            raise Forbidden("只有村代办员和便民服务中心窗口人员可以受理申请")
        version = rt.versions.get(session, current_version_id(session, item_code))
        village = session.connection().execute(VILLAGE, {"code": village_code}).first()
        if village is None or village.level != "village" or village.county_id is None:
            raise NotFound(f"未找到行政区划代码为“{village_code}”的村（社区）")
        if not access.may_see_case(actor, village):
            raise Forbidden("只能为本村（社区）的群众受理申请" if actor.org_level == "village"
                            else "该村（社区）不在您的辖区内")
        application_form = version.guide.get("application_form")
        schema = version.forms[application_form] if application_form else forms.NO_FIELDS
        forms.validate(schema, data, "申请表")
        crosschecks.enforce(schema, data, crosschecks.Context({}, person.id_number, clock.local_now().date(),
                                                              crosschecks.titles(version.forms)), "申请表")
        rows = checklist.parse(version.guide, window.materials)
        # Without a checklist (an API caller or a script as before it) nothing says what was taken in: the case is
        # accepted as before, and no receipt claims materials nobody ticked.
        ticked = window.materials is not None
        duplicates.check(session, version.guide, item_code, person.id_number, window.confirm_repeat)
        outcomes.check(window, rows)
        now = clock.now()
        accepting = window.outcome == Outcome.ACCEPT
        clock_columns, waits = clock_start(rt, session, version, now) if accepting else (outcomes.WAITING, False)
        values = {
            "case_number": _next_case_number(session, item_code, now), "item_code": item_code,
            "version_id": version.id, "village_id": village.village_id, "town_id": village.town_id,
            "county_id": village.county_id, "applicant_name": person.name,
            "applicant_id_number": person.id_number, "applicant_phone": person.phone,
            "applicant_notify": list(person.notify) if person.notify is not None else None,
            "applicant_email": person.email,
            "status": CaseStatus.RUNNING if accepting else outcomes.STATUS[window.outcome], "result": None,
            "started_by_id": actor.id, "accepted_at": now, "completed_at": None, "workflow_state": "",
            "serializer_version": SERIALIZER_VERSION, "revision": 0, "event_count": 0,
            "last_event_hash": chain.GENESIS, "variables": None, **clock_columns,
        }
        # A plain INSERT; the Case object handed back is built from the same values, not loaded.
        case = Case(id=session.connection().execute(INSERT_CASE, values).scalar_one(), **values)
        if accepting and not waits:
            clocks.open_case_clock(session, case, version.guide, rt.reference.calendar(session),
                                   promised.promised_days(version.guide), now)
        chain.append(session, case, EventKind.CASE_STARTED, actor, now, step="受理" if accepting else "收件", after={
            "item_code": item_code, "version": version.version, "village": village_code,
            "applicant": person.name, "data": data, **({"materials": rows} if ticked else {}),
            **(_promised(case) if accepting else {"status": case.status}),
        })
        if accepting:
            milestones.accepted(session, case, version.guide.get("name", item_code), actor, now)
        session.connection().execute(INSERT_INTAKE, {
            "case_id": case.id, "materials": rows, "data": data, "received_at": now, "received_by_id": actor.id,
            "notice_at": None, "notice_missing": None, "warned_at": None, "refused_at": None, "refused_by_id": None,
            "refusal_reasons": None, "refusal_basis": None})
        if not accepting:
            return outcomes.apply(session, case, window, rows, actor, now, now, version.guide.get("name", item_code))
        step, workflow = run(rt, session, case, version, data, actor, now)
        if ticked:
            outcomes.receipt(session, case, rows, actor, now)
    rt.states.put(case.id, case.revision, workflow)
    return step


def clock_start(rt: Runtime, session: Session, version: LoadedVersion, accepted_at: datetime
                ) -> tuple[dict[str, Any], bool]:
    """The case's clock columns on 受理 at `accepted_at`, and whether they wait for the diagram's acceptance step."""
    accepting = marks.acceptance_step(marks.element_specs(version.spec, version.subprocess_specs))
    if accepting:
        return tracking.awaiting_acceptance(accepting), True
    work_calendar, limit_days = rt.reference.calendar(session), promised.promised_days(version.guide)
    return {"clock_started_at": accepted_at, **promised.promised(work_calendar, limit_days, accepted_at)}, False


def _promised(case: Case) -> dict[str, Any]:
    return {"promised_date": case.promised_date.isoformat() if case.promised_date else None,
            # 预计 travels with the date wherever the history shows it.
            **({"promised_provisional": True} if case.promised_provisional else {})}


def accept_later(rt: Runtime, session: Session, case: Case, version: LoadedVersion, intake: CaseIntake,
                 actor: Acting | None, now: datetime, accepted_at: datetime, kind: EventKind,
                 why: dict[str, Any]) -> tuple[Step, BpmnWorkflow]:
    """受理 of a case waiting at the window: counted from `accepted_at` (now, or the day of receipt under §32)."""
    columns, waits = clock_start(rt, session, version, accepted_at)
    write_case(session, case, status=CaseStatus.RUNNING, accepted_at=accepted_at, **columns)
    if not waits:
        clocks.open_case_clock(session, case, version.guide, rt.reference.calendar(session),
                               promised.promised_days(version.guide), accepted_at)
    chain.append(session, case, kind, actor, now, step="受理", after={
        "accepted_at": accepted_at.isoformat(), **why, **_promised(case)})
    milestones.accepted(session, case, version.guide.get("name", case.item_code), actor, now)
    found = run(rt, session, case, version, intake.data, actor, now)
    outcomes.receipt(session, case, intake.materials, actor, now)
    return found


def run(rt: Runtime, session: Session, case: Case, version: LoadedVersion, data: dict[str, Any],
        actor: Acting | None, now: datetime) -> tuple[Step, BpmnWorkflow]:
    """The workflow starts on the application; the caller caches it once the transaction commits."""
    workflow = new_workflow(version.spec, version.subprocess_specs, data, case.case_number,
                            {"name": case.applicant_name, "phone": case.applicant_phone})
    return advance(rt, session, case, workflow, Mirrored({}, {}), actor, now), workflow


def _next_case_number(session: Session, item_code: str, now: datetime) -> str:
    """ITEM-YYYYMMDD-NNNN; the upsert is atomic, so concurrent starts never share a number."""
    day = now.astimezone(clock.SHANGHAI).strftime("%Y%m%d")
    insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    sequences = CaseSequence.__table__
    stmt = insert_(sequences).values(item_code=item_code, day=day, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["item_code", "day"], set_={"last": sequences.c.last + 1}
    ).returning(sequences.c.last)
    number = session.connection().execute(stmt).scalar_one()
    return f"{item_code}-{day}-{number:04d}"
