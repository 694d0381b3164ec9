"""受理: a village agent or town window registers an application, and the case starts under a new case number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..deadlines import clocks, marks, promised, tracking
from ..errors import Forbidden, NotFound, ValidationFailed
from ..idcard import InvalidIdNumber, validate_id_number
from ..models import Case, CaseSequence, OrgUnit
from ..people import access
from ..procedures import crosschecks, forms
from ..procedures.deploy import current_version_id
from ..procedures.spiff import SERIALIZER_VERSION, new_workflow
from ..vocabulary import CaseStatus, EventKind
from . import locking
from .context import Runtime
from .reconcile import Mirrored, Step, advance

PHONE_DIGITS = (7, 11, 12)
CASES, ORGS = Case.__table__, OrgUnit.__table__
INSERT_CASE = insert(CASES).returning(CASES.c.id)
_TOWN = ORGS.alias("town")
# Named as a case's places are, so the jurisdiction rule reads it as it reads a case.
VILLAGE = select(
    ORGS.c.id.label("village_id"), ORGS.c.level, _TOWN.c.id.label("town_id"), _TOWN.c.parent_id.label("county_id"),
).select_from(ORGS.outerjoin(_TOWN, _TOWN.c.id == ORGS.c.parent_id)).where(ORGS.c.code == bindparam("code"))


def name_problem(name: str) -> str | None:
    """What is wrong with a person's name as typed (stripped), or None."""
    return None if 2 <= len(name) <= 30 else "姓名应为 2 至 30 个字"


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

    @classmethod
    def parse(cls, raw: Any) -> Applicant:
        """The applicant, or ValidationFailed with each problem keyed by its field (name, id_number, phone)."""
        if not isinstance(raw, dict):
            raise ValidationFailed("申请人信息缺失：需要姓名、身份证号码和联系电话")
        fields: dict[str, list[str]] = {}
        name = str(raw.get("name") or "").strip()
        if problem := name_problem(name):
            fields["name"] = [f"申请人{problem}"]
        try:
            id_number = validate_id_number(str(raw.get("id_number") or ""))
        except InvalidIdNumber as exc:
            fields["id_number"] = [str(exc)]
            id_number = ""
        phone = normal_phone(str(raw.get("phone") or ""))
        if problem := phone_problem(phone):
            fields["phone"] = [problem]
        if fields:
            problems = [text for texts in fields.values() for text in texts]
            raise ValidationFailed("申请人信息有误：" + "；".join(problems), details=problems, fields=fields)
        return cls(name, id_number, phone)


def start_case(rt: Runtime, actor_id: int, item_code: str, village_code: str, applicant: Any, data: Any) -> Step:
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
        now = clock.now()
        work_calendar, limit_days = rt.reference.calendar(session), promised.promised_days(version.guide)
        # With an acceptance step in the diagram the clock waits for it; otherwise registering is 受理.
        accepting = marks.acceptance_step(marks.element_specs(version.spec, version.subprocess_specs))
        clock_columns = (tracking.awaiting_acceptance(accepting) if accepting else
                         {"clock_started_at": now, **promised.promised(work_calendar, limit_days, now)})
        values = {
            "case_number": _next_case_number(session, item_code, now), "item_code": item_code,
            "version_id": version.id, "village_id": village.village_id, "town_id": village.town_id,
            "county_id": village.county_id, "applicant_name": person.name,
            "applicant_id_number": person.id_number, "applicant_phone": person.phone,
            "status": CaseStatus.RUNNING, "result": None, "started_by_id": actor.id, "accepted_at": now,
            "completed_at": None, "workflow_state": "",
            "serializer_version": SERIALIZER_VERSION, "revision": 0, "event_count": 0,
            "last_event_hash": chain.GENESIS, "variables": None, **clock_columns,
        }
        # A plain INSERT; the Case object handed back is built from the same values, not loaded.
        case = Case(id=session.connection().execute(INSERT_CASE, values).scalar_one(), **values)
        if not accepting:
            clocks.open_case_clock(session, case, version.guide, work_calendar, limit_days, now)
        workflow = new_workflow(version.spec, version.subprocess_specs, data, case.case_number,
                                {"name": person.name, "phone": person.phone})
        chain.append(session, case, EventKind.CASE_STARTED, actor, now, step="受理", after={
            "item_code": item_code, "version": version.version, "village": village_code,
            "applicant": person.name, "data": data,
            "promised_date": case.promised_date.isoformat() if case.promised_date else None,
            # 预计 travels with the date wherever the history shows it.
            **({"promised_provisional": True} if case.promised_provisional else {}),
        })
        step = advance(rt, session, case, workflow, Mirrored({}, {}), actor, now)
    rt.states.put(case.id, case.revision, workflow)
    return step


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
