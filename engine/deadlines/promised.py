"""Promised dates (承诺办结日期): counted in working days from acceptance, and what state one is in today."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting

# The module, not its names: reconcile imports the clock's tracking, which imports this module.
from ..cases import reconcile
from ..cases.context import Runtime
from ..cases.locking import lock_case
from ..models import Case, Deadline, Task
from ..vocabulary import CaseStatus, EventKind, TaskStatus
from . import calendar, clocks


class DueState(StrEnum):
    NONE = ""
    TODAY = "today"
    OVERDUE = "overdue"


def promised(work_calendar: calendar.WorkCalendar, promised_days: int, accepted_at: datetime) -> dict[str, Any]:
    """The case columns for a promised date, or for why there is none yet (a holiday year not entered)."""
    try:
        day = work_calendar.add_working_days(accepted_at.astimezone(clock.SHANGHAI).date(), promised_days)
    except calendar.MissingHolidayData as exc:
        # The case is still accepted: the applicant must not lose the application over our data.
        return {"promised_date": None, "promised_note": exc.message, "promised_provisional": False}
    return {"promised_date": day, "promised_note": None, "promised_provisional": False}


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



def fill_promised_dates(rt: Runtime) -> list[str]:
    """Promised dates for running cases accepted while their year's holidays were not yet entered.

    Counted from each case's acceptance, as they would have been; returns the case numbers dated.
    """
    rt.reference.forget()
    with rt.db.read() as session:
        waiting = list(session.scalars(select(Case.id).where(
            Case.status == CaseStatus.RUNNING, Case.promised_date.is_(None), Case.promised_note.is_not(None))
            .order_by(Case.id)))
    dated = []
    for case_id in waiting:
        with rt.db.write() as session:
            case = lock_case(session, case_id)
            if case.promised_date is not None:
                continue
            guide = rt.versions.get(session, case.version_id).guide
            columns = promised(rt.reference.calendar(session), promised_days(guide), case.accepted_at)
            if columns["promised_date"] is None:
                continue
            chain.append(session, case, EventKind.PROMISED_DATE_SET, None, clock.now(), step="承诺办结日期",
                         before={"promised_note": case.promised_note},
                         after={"promised_date": columns["promised_date"].isoformat()})
            reconcile.write_case(session, case, **columns)
            session.execute(update(Task).where(Task.case_id == case.id).values(promised_date=columns["promised_date"]))
            dated.append(case.case_number)
    return dated


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
