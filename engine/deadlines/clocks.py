"""Deadline rows (the case clock and step limits): opening and closing them, and when their cards fall due."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from .. import clock
from ..models import Case, Deadline
from ..vocabulary import CardColor, DeadlineStatus
from . import calendar

CASE_CLOCK_NAME = "承诺办结期限"
# Without an item threshold a card shows one working day before the limit, or at 20 % of it when that is more.
DEFAULT_WARNING_SHARE = 0.2


def warning_days(limit_days: int, guide: dict[str, Any]) -> int:
    """Working days before the due date from which the yellow card shows (item.toml `warning_days`)."""
    configured = guide.get("warning_days")
    if configured:
        return int(configured)
    return max(1, math.ceil(limit_days * DEFAULT_WARNING_SHARE))


def day_start(day: date) -> datetime:
    """Midnight in Shanghai at the start of `day`, as the aware UTC moment the scheduler compares with."""
    return datetime.combine(day, time(), clock.SHANGHAI).astimezone(UTC)


class Dated(Protocol):
    """Anything due on a date that warns before it: a deadline, or a 差评's follow-up (engine.window.ratings)."""

    status: str
    due_date: date | None
    yellow_from: date | None


def card_on(deadline: Dated, today: date) -> str:
    """The card a deadline shows on a day: red once its due date has passed, yellow from its first warning day."""
    if deadline.status != DeadlineStatus.OPEN or deadline.due_date is None:
        return ""
    if today > deadline.due_date:
        return CardColor.RED
    if deadline.yellow_from is not None and today >= deadline.yellow_from:
        return CardColor.YELLOW
    return ""


def schedule(deadline: Deadline, work_calendar: calendar.WorkCalendar, warning: int, now: datetime) -> None:
    """Set the first warning day and the next moment the scheduler must look at this deadline.

    Call it whenever the due date moves. A card that no longer fits (a date moved later by an extension or a
    pause) is looked at straight away, so the scheduler is the one place that changes what a deadline shows.
    """
    if deadline.status != DeadlineStatus.OPEN or deadline.due_date is None:
        deadline.yellow_from, deadline.next_check_at = None, None
        return
    try:
        deadline.yellow_from = work_calendar.working_days_before(deadline.due_date, warning)
    except calendar.MissingHolidayData:
        deadline.yellow_from = deadline.due_date
    if card_on(deadline, now.astimezone(clock.SHANGHAI).date()) != deadline.card:
        deadline.next_check_at = now
    elif deadline.card == "":
        deadline.next_check_at = day_start(deadline.yellow_from)
    elif deadline.card == CardColor.YELLOW:
        deadline.next_check_at = day_start(deadline.due_date + timedelta(days=1))
    else:
        deadline.next_check_at = None


def open_case_clock(session: Session, case: Case, guide: dict[str, Any], work_calendar: calendar.WorkCalendar,
                    limit_days: int, now: datetime) -> Deadline:
    """The case's own deadline, counted from 受理 to its promised date."""
    deadline = Deadline(case_id=case.id, task_id=None, name=CASE_CLOCK_NAME, limit_days=limit_days,
                        started_at=now, due_date=case.promised_date, provisional=case.promised_provisional,
                        paused_days=0, extended_days=0, status=DeadlineStatus.OPEN, card="")
    schedule(deadline, work_calendar, warning_days(limit_days, guide), now)
    session.add(deadline)
    return deadline


def finish_case_clock(session: Session, case: Case, now: datetime) -> None:
    """Close the case clock when the case completes; done after its due date counts as late (逾期办结)."""
    today = now.astimezone(clock.SHANGHAI).date()
    late = case.promised_date is not None and today > case.promised_date
    session.execute(update(Deadline).where(
        Deadline.case_id == case.id, Deadline.task_id.is_(None), Deadline.status == DeadlineStatus.OPEN,
    ).values(status=DeadlineStatus.FINISHED, finished_at=now, late=late, next_check_at=None))
