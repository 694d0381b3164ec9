"""Promised dates (承诺办结日期): counted in working days from acceptance, and what state one is in today."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, extract, func, or_, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting

# The module, not its names: reconcile imports the clock's tracking, which imports this module.
from ..cases import reconcile
from ..cases.context import Runtime
from ..cases.locking import lock_case
from ..models import CalendarYear, Case, ClockPause, Deadline, Task
from ..vocabulary import CaseStatus, DeadlineStatus, EventKind, TaskStatus
from . import calendar, clocks


class DueState(StrEnum):
    NONE = ""
    TODAY = "today"
    OVERDUE = "overdue"


def promised(work_calendar: calendar.WorkCalendar, promised_days: int, accepted_at: datetime) -> dict[str, Any]:
    """The case columns for a promised date: 预计 when counted on a year not entered, none only past every year."""
    start = accepted_at.astimezone(clock.SHANGHAI).date()
    try:
        day = work_calendar.add_working_days(start, promised_days)
    except calendar.MissingHolidayData as exc:
        # The case is still accepted: the applicant must not lose the application over our data.
        return {"promised_date": None, "promised_note": exc.message, "promised_provisional": False}
    return {"promised_date": day, "promised_note": None, "promised_provisional": work_calendar.provisional(start, day)}


def due_state(promised_date: date | None, status: str = CaseStatus.RUNNING) -> DueState:
    """Overdue or due today for a running case, measured in Shanghai."""
    if promised_date is None or status != CaseStatus.RUNNING:
        return DueState.NONE
    today = clock.local_now().date()
    if promised_date < today:
        return DueState.OVERDUE
    return DueState.TODAY if promised_date == today else DueState.NONE


def promised_days(guide: dict[str, Any]) -> int:
    return int(guide.get("promised_days", 0))



def _year(column: Any) -> Any:
    return extract("year", column)


def _entered_between(first: Any, last: Any) -> Any:
    """How many years from `first` to `last` (SQL expressions) have their 放假安排 entered."""
    return (select(func.count()).select_from(CalendarYear)
            .where(CalendarYear.year >= first, CalendarYear.year <= last).scalar_subquery())


# Provisional deadlines whose every year is now entered, and undated ones whose first year is: a recount makes
# them final. One that still reaches a year not entered keeps waiting, so a batch never meets it again in vain.
_STARTED = _year(Deadline.started_at)
WAITING_FOR_A_YEAR = select(Deadline.case_id).where(
    Deadline.status == DeadlineStatus.OPEN,
    or_(Deadline.provisional, Deadline.due_date.is_(None)),
    or_(and_(Deadline.due_date.is_not(None),
             _entered_between(_STARTED, _year(Deadline.due_date)) == _year(Deadline.due_date) - _STARTED + 1),
        and_(Deadline.due_date.is_(None), _entered_between(_STARTED, _STARTED) == 1)),
).distinct().order_by(Deadline.case_id)


def recount_provisional(rt: Runtime, limit: int) -> int:
    """Recount up to `limit` cases' provisional deadlines now that their years are entered; returns how many.

    Each case in its own transaction under its lock, so a county with thousands of open cases never holds one
    giant transaction; the scheduler calls this every tick for whatever a calendar load left.
    """
    with rt.db.read() as session:
        waiting = list(session.scalars(WAITING_FOR_A_YEAR.limit(limit)))
    if waiting:
        # The year may have been entered by another process: count on the calendar as stored now.
        rt.reference.forget()
    for case_id in waiting:
        with rt.db.write() as session:
            case = lock_case(session, case_id)
            work_calendar = rt.reference.calendar(session)
            guide = rt.versions.get(session, case.version_id).guide
            for deadline in session.scalars(select(Deadline).where(
                    Deadline.case_id == case.id, Deadline.status == DeadlineStatus.OPEN,
                    or_(Deadline.provisional, Deadline.due_date.is_(None))).order_by(Deadline.id)):
                recount(session, case, deadline, work_calendar, guide, clock.now(), None,
                        why=f"{_counted_years(deadline)}年放假安排录入")
    return len(waiting)


RECOUNT_BATCH = 200


def enter_years(rt: Runtime, entries: list[calendar.YearEntry], *, replace: bool = False,
                batches: int | None = None, by: Acting | None = None) -> tuple[list[int], int]:
    """Store checked years (all or none), then recount the deadlines they make final; (years, cases recounted).

    At most `batches` batches when given (a web request), else until one comes back short; the scheduler
    recounts whatever is left, as it does after a load that was stopped.
    """
    with rt.db.write() as session:
        years = calendar.enter(session, entries, replace=replace, by=by)
    recounted, runs = 0, 0
    while (batches is None or runs < batches) and (done := recount_provisional(rt, RECOUNT_BATCH)) > 0:
        recounted, runs = recounted + done, runs + 1
        if done < RECOUNT_BATCH:
            break
    return years, recounted


def _counted_years(deadline: Deadline) -> str:
    """The years a provisional count ran through; the start year only when it is the only one (it was known
    when the clock started, unless the case was accepted in a year not entered either)."""
    first = deadline.started_at.astimezone(clock.SHANGHAI).year
    last = deadline.due_date.year if deadline.due_date else first
    return "、".join(str(year) for year in range(first + (last > first), last + 1))


def due_after(work_calendar: calendar.WorkCalendar, start: datetime, days: int) -> tuple[date | None, bool]:
    """The due date `days` working days after the day of `start`, and whether it is provisional (预计)."""
    first = start.astimezone(clock.SHANGHAI).date()
    try:
        due = work_calendar.add_working_days(first, days)
    except calendar.MissingHolidayData:
        return None, False
    return due, work_calendar.provisional(first, due)


def recount(session: Session, case: Case, deadline: Deadline, work_calendar: calendar.WorkCalendar,
            guide: dict[str, Any], now: datetime, actor: Acting | None, why: str) -> None:
    """Count a deadline's due date again: its limit plus paused and extended working days from its start.

    The one way a due date moves (a pause ended, an extension approved, a holiday year entered): the card
    schedule follows, the case clock's date goes to the case and its open tasks, and the change is recorded.
    """
    before = (deadline.due_date, deadline.provisional)
    total = deadline.limit_days + deadline.paused_days + deadline.extended_days
    due, provisional = due_after(work_calendar, deadline.started_at, total)
    deadline.due_date, deadline.provisional = due, provisional
    clocks.schedule(deadline, work_calendar, clocks.warning_days(deadline.limit_days, guide), now)
    if deadline.task_id is None and session.scalar(select(ClockPause.id).where(
            ClockPause.case_id == case.id, ClockPause.ended_at.is_(None)).limit(1)) is not None:
        deadline.next_check_at = None  # a pause holds the case clock (公示, 补正 …): no card until it ends
    if deadline.task_id is None:
        reconcile.write_case(session, case, promised_date=due, promised_provisional=provisional,
                   promised_note=None if due else case.promised_note)
        session.execute(update(Task).where(Task.case_id == case.id, Task.status == TaskStatus.OPEN)
                        .values(promised_date=due))
    if before != (due, provisional):
        chain.append(session, case, EventKind.DUE_DATE_CHANGED, actor, now, task_id=deadline.task_id,
                     step=deadline.name, before=_due(*before), after={**_due(due, provisional), "why": why})


def _due(day: date | None, provisional: bool) -> dict[str, Any]:
    return {"due_date": day.isoformat() if day else None, "provisional": provisional}
