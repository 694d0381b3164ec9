"""行政许可法 §32: an application taken in and not answered within 5 working days counts as accepted from receipt."""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import select, update

from .. import clock
from ..deadlines import calendar
from ..models import Case, CaseIntake
from ..notifications import notify
from ..vocabulary import CaseStatus, EventKind
from . import intake, locking
from .context import Runtime

log = logging.getLogger("bianmin.deemed")

# §32: 不予受理或补正告知 on the spot or within 5 days; §82: the law's days are working days.
NOTICE_DAYS = 5
# The receiving clerk is warned from the third working day, while there is still time to examine.
WARN_DAYS = 3
BASIS = ("《中华人民共和国行政许可法》第三十二条：申请材料不齐全或者不符合法定形式的，应当当场或者在五日内"
         "一次告知申请人需要补正的全部内容，逾期不告知的，自收到申请材料之日起即为受理；第八十二条：期限以工作日计算")


def days(work_calendar: calendar.WorkCalendar, received_at: datetime) -> tuple[date, date] | None:
    """The day the clerk is warned and the day the application counts as accepted; None in a year not entered."""
    start = received_at.astimezone(clock.SHANGHAI).date()
    try:
        return work_calendar.add_working_days(start, WARN_DAYS), work_calendar.add_working_days(start, NOTICE_DAYS)
    except calendar.MissingHolidayData:
        return None


def tick(rt: Runtime) -> int:
    """Warn on day 3 and accept on day 5 every application still 收件待审; returns how many were changed."""
    now = clock.now()
    today = now.astimezone(clock.SHANGHAI).date()
    with rt.db.read() as session:
        work_calendar = rt.reference.calendar(session)
        waiting = session.execute(select(CaseIntake.case_id, CaseIntake.received_at, CaseIntake.warned_at).join(
            Case, Case.id == CaseIntake.case_id).where(Case.status == CaseStatus.RECEIVED)
            .order_by(CaseIntake.received_at)).all()
    done = 0
    for row in waiting:
        due = days(work_calendar, row.received_at)
        if due is None:
            continue
        warn_on, deemed_on = due
        if today >= deemed_on:
            done += deem(rt, row.case_id)
        elif today >= warn_on and row.warned_at is None:
            done += warn(rt, row.case_id, deemed_on)
    return done


def warn(rt: Runtime, case_id: int, deemed_on: date) -> int:
    """Tell the clerk who took the application in; once, whichever process gets here first."""
    now = clock.now()
    with rt.db.write() as session:
        claimed = session.execute(update(CaseIntake).where(
            CaseIntake.case_id == case_id, CaseIntake.warned_at.is_(None)).values(warned_at=now)
            .returning(CaseIntake.received_by_id)).first()
        if claimed is None:
            return 0
        number = session.scalar(select(Case.case_number).where(Case.id == case_id))
        notify(session, [claimed.received_by_id], f"section32:{case_id}", "section32",
               f"办件{number}收件待审，请于 {deemed_on:%m月%d日} 前受理、告知补正或不予受理", now,
               body="逾期未告知的，依行政许可法第三十二条自收到申请材料之日起即为受理", case_id=case_id)
    return 1


def deem(rt: Runtime, case_id: int) -> int:
    """Accept as from the day of receipt, recording why; a second process finds it no longer waiting."""
    now = clock.now()
    with rt.db.write() as session:
        case = locking.lock_case(session, case_id)
        if case.status != CaseStatus.RECEIVED:
            return 0
        row = session.scalar(select(CaseIntake).where(CaseIntake.case_id == case_id))
        assert row is not None
        version = rt.versions.get(session, case.version_id)
        _step, workflow = intake.accept_later(
            rt, session, case, version, row, None, now, row.received_at, EventKind.CASE_DEEMED_ACCEPTED,
            {"after": "收件待审", "basis": BASIS})
    rt.states.put(case.id, case.revision, workflow)
    log.info("case %d accepted under §32 from its day of receipt", case_id)
    return 1
