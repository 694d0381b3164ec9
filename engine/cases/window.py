"""Cases waiting at the window (补正 or 收件待审): the clerk's list, and each examined again (accepted, told to 补正
once, or refused)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import clock
from ..deadlines import calendar
from ..errors import Conflict, Forbidden, NotFound
from ..models import Case, CaseIntake, ServiceItem, User
from ..people import access
from ..people.access import Placed
from ..vocabulary import AT_WINDOW, CaseStatus, EventKind
from . import checklist, deemed, intake, locking, outcomes
from .context import Runtime
from .outcomes import Outcome, Window
from .reconcile import Step


def examine(rt: Runtime, actor_id: int, case_id: int, window: Window) -> Step:
    """The applicant came back (补正) or the clerk examines what was taken in (收件待审); the same case continues."""
    with rt.db.write() as session:
        actor = locking.actor(session, actor_id)
        case = locking.lock_case(session, case_id)
        if not access.may_see_case(actor, case):
            raise NotFound("办件不存在")
        if not access.may_accept(actor):
            raise Forbidden("只有村代办员和便民服务中心窗口人员可以受理申请")
        if case.status not in AT_WINDOW:
            raise Conflict(f"办件{case.case_number}不在待补正或收件待审状态，无需再次受理")
        intake_row = session.scalar(select(CaseIntake).where(CaseIntake.case_id == case.id))
        if intake_row is None:
            raise NotFound("办件的收件记录不存在")
        version = rt.versions.get(session, case.version_id)
        rows = checklist.parse(version.guide, window.materials)
        if window.outcome == Outcome.RECEIVE:
            raise Conflict("办件已收件，请审查后受理、告知补正或不予受理")
        if window.outcome == Outcome.SUPPLEMENT and intake_row.notice_at is not None:
            raise outcomes.noticed_already(intake_row)
        outcomes.check(window, rows)
        now = clock.now()
        if window.outcome != Outcome.ACCEPT:
            return outcomes.apply(session, case, window, rows, actor, now, intake_row.received_at,
                                  version.guide.get("name", case.item_code))
        session.execute(update(CaseIntake).where(CaseIntake.case_id == case.id).values(materials=rows))
        intake_row.materials = rows
        was = "补正" if case.status == CaseStatus.SUPPLEMENT else "收件待审"
        step, workflow = intake.accept_later(rt, session, case, version, intake_row, actor, now, now,
                                             EventKind.CASE_ACCEPTED, {"after": was, "materials": rows})
    rt.states.put(case.id, case.revision, workflow)
    return step


@dataclass(frozen=True)
class Waiting:
    """A case at the window as the clerk sees it: what was received, what the notice asked for, and §32's days."""

    case: Case
    intake: CaseIntake
    item_name: str
    received_by: str
    # 收件待审 only: the day the clerk is warned and the day the application counts as accepted (§32).
    warn_on: date | None
    deemed_on: date | None
    days_left: int | None

    @property
    def warned(self) -> bool:
        return self.warn_on is not None and clock.local_now().date() >= self.warn_on


def _waiting(work_calendar: calendar.WorkCalendar, case: Case, row: CaseIntake, item_name: str,
             received_by: str) -> Waiting:
    due = deemed.days(work_calendar, row.received_at) if case.status == CaseStatus.RECEIVED else None
    left = None
    if due is not None:
        today = clock.local_now().date()
        left = len(work_calendar.working_days_in(today, due[1])) if today < due[1] else 0
    return Waiting(case, row, item_name, received_by, *(due or (None, None)), left)


def waiting_case(rt: Runtime, session: Session, case: Case) -> Waiting | None:
    """The window's record of one case (None: registered before checklists were kept)."""
    row = session.scalar(select(CaseIntake).where(CaseIntake.case_id == case.id))
    if row is None:
        return None
    received_by = session.scalar(select(User.display_name).where(User.id == row.received_by_id)) or ""
    item_name = session.scalar(select(ServiceItem.name).where(ServiceItem.code == case.item_code)) or ""
    return _waiting(rt.reference.calendar(session), case, row, item_name, received_by)


def waiting_list(rt: Runtime, session: Session, user: Placed, limit: int) -> list[Waiting]:
    """Cases of the user's place in 补正 or 收件待审, oldest received first (those nearest §32 on top)."""
    rows = session.execute(
        select(Case, CaseIntake, ServiceItem.name, User.display_name)
        .join(CaseIntake, CaseIntake.case_id == Case.id).join(ServiceItem, ServiceItem.code == Case.item_code)
        .join(User, User.id == CaseIntake.received_by_id)
        .where(access.case_visible_to(user), Case.status.in_(AT_WINDOW))
        .order_by(CaseIntake.received_at, Case.id).limit(limit)).all()
    work_calendar = rt.reference.calendar(session)
    return [_waiting(work_calendar, *row) for row in rows]
