"""The clock as a case moves: 受理 at the acceptance step, step limits, working-day timers and clock pauses."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting

# The module, not its names: reconcile calls into this module as it moves a case.
from ..cases import reconcile
from ..db import queue_write
from ..models import Case, ClockPause, Deadline, Task
from ..outbox import milestones
from ..vocabulary import DeadlineStatus, EventKind, TaskStatus
from . import calendar, clocks, marks, promised

DEADLINES = Deadline.__table__
INSERT_DEADLINE = insert(DEADLINES).inline()
DEADLINE_COLUMNS = [column.key for column in DEADLINES.columns if column.key != "id"]
INSERT_PAUSE = insert(ClockPause.__table__).inline()
# While paused the case clock is not looked at, so no card falls due; resuming schedules it again.
HOLD_CASE_CLOCK = update(DEADLINES).where(
    DEADLINES.c.case_id == bindparam("held_case_id"), DEADLINES.c.task_id.is_(None),
    DEADLINES.c.status == DeadlineStatus.OPEN).values(next_check_at=None)


def awaiting_acceptance(step: Any) -> dict[str, Any]:
    """The case columns while the clock waits for the acceptance step (受理 is where the law starts counting)."""
    return {"clock_started_at": None, "promised_date": None, "promised_provisional": False,
            "promised_note": f"待“{step.bpmn_name or step.bpmn_id}”环节受理后起算"}


def start_clock(session: Session, case: Case, guide: dict[str, Any], work_calendar: calendar.WorkCalendar,
                now: datetime, actor: Acting | None, step: str) -> None:
    """受理 at the acceptance step: the promised date counts from now and the case clock opens."""
    limit = promised.promised_days(guide)
    columns = promised.promised(work_calendar, limit, now)
    reconcile.write_case(session, case, clock_started_at=now, **columns)
    clocks.open_case_clock(session, case, guide, work_calendar, limit, now)
    session.execute(update(Task).where(Task.case_id == case.id, Task.status == TaskStatus.OPEN)
                    .values(promised_date=case.promised_date))
    day = case.promised_date
    chain.append(session, case, EventKind.CLOCK_STARTED, actor, now, step=step,
                 after={"promised_date": day.isoformat() if day else None, "promised_note": case.promised_note})
    milestones.accepted(session, case, guide.get("name", case.item_code), actor, now)


def open_step(session: Session, case: Case, task_id: str, name: str, limit: int, guide: dict[str, Any],
              work_calendar: calendar.WorkCalendar, now: datetime) -> None:
    """A step's own limit, counted from the task's arrival; queued so it follows the task row it names."""
    due, provisional = promised.due_after(work_calendar, now, limit)
    deadline = Deadline(case_id=case.id, task_id=task_id, name=name, limit_days=limit, started_at=now,
                        due_date=due, provisional=provisional, paused_days=0, extended_days=0,
                        status=DeadlineStatus.OPEN, card="", finished_at=None, late=None)
    clocks.schedule(deadline, work_calendar, clocks.warning_days(limit, guide), now)
    queue_write(session, INSERT_DEADLINE, {key: getattr(deadline, key) for key in DEADLINE_COLUMNS})


def close_step(session: Session, task_id: str, now: datetime, status: DeadlineStatus) -> None:
    """Finished (late when done after its due date) or cancelled with its task."""
    today = now.astimezone(clock.SHANGHAI).date()
    late = Deadline.due_date < today if status == DeadlineStatus.FINISHED else None
    session.execute(update(Deadline).where(Deadline.task_id == task_id, Deadline.status == DeadlineStatus.OPEN)
                    .values(status=status, finished_at=now, late=late, next_check_at=None))


def timer_due(length: marks.TimerLength, work_calendar: calendar.WorkCalendar, now: datetime) -> datetime | None:
    """When a timer of `length` started now fires.

    Calendar days run as the ISO duration `P<n>D` does, to the minute. Working days run to the end of the
    n-th working day after today (midnight in Shanghai), the moment a deadline due that day turns red.
    None for a year whose holidays are not entered: the diagram's own expression applies.
    """
    if not length.working:
        return now + timedelta(days=length.days)
    try:
        last = work_calendar.add_working_days(now.astimezone(clock.SHANGHAI).date(), length.days)
    except calendar.MissingHolidayData:
        return None
    return clocks.day_start(last + timedelta(days=1))


def completed(session: Session, case: Case, spec: Any, task_id: str, guide: dict[str, Any],
              work_calendar: calendar.WorkCalendar, now: datetime, actor: Acting | None) -> None:
    """What finishing a user task does to the clocks: 受理 starts the case clock, a step limit and a pause end."""
    name = spec.bpmn_name or spec.bpmn_id
    if case.clock_started_at is None and marks.is_acceptance(spec):
        start_clock(session, case, guide, work_calendar, now, actor, name)
    if marks.step_limit(spec):
        close_step(session, task_id, now, DeadlineStatus.FINISHED)
    if marks.pause_reason(spec):
        resume(session, case, spec.bpmn_id, name, guide, work_calendar, now, actor)


def _case_clock(session: Session, case_id: int) -> Deadline | None:
    return session.scalar(select(Deadline).where(Deadline.case_id == case_id, Deadline.task_id.is_(None)))


def pause(session: Session, case: Case, spec: Any, now: datetime, actor: Acting | None) -> None:
    """An element not counted against the case clock began (公示, 补正 …): no card falls due while it runs."""
    if case.clock_started_at is None:
        return  # nothing runs before 受理, so nothing is paused
    name, reason = spec.bpmn_name or spec.bpmn_id, marks.pause_reason(spec)
    # Queued, like the task and timer rows: no round trip of its own on the hot path.
    queue_write(session, INSERT_PAUSE, {"case_id": case.id, "reason": reason, "step": name,
                                        "element_id": spec.bpmn_id, "started_at": now, "ended_at": None,
                                        "working_days": None})
    queue_write(session, HOLD_CASE_CLOCK, {"held_case_id": case.id})
    chain.append(session, case, EventKind.CLOCK_PAUSED, actor, now, step=name, after={"pause_reason": reason})


def resume(session: Session, case: Case, element_id: str, name: str, guide: dict[str, Any],
           work_calendar: calendar.WorkCalendar, now: datetime, actor: Acting | None) -> None:
    """The paused element ended: the promised date moves by the working days the case was paused."""
    pauses = session.scalars(select(ClockPause).where(ClockPause.case_id == case.id)).all()
    ended = next((row for row in pauses if row.element_id == element_id and row.ended_at is None), None)
    if ended is None:
        return
    ended.ended_at = now
    ended.working_days = len(_held(work_calendar, ended))
    session.flush()  # so the recount sees this pause ended (another may still hold the clock)
    chain.append(session, case, EventKind.CLOCK_RESUMED, actor, now, step=name,
                 after={"pause_reason": ended.reason, "working_days": ended.working_days})
    deadline = _case_clock(session, case.id)
    if deadline is None or deadline.status != DeadlineStatus.OPEN:
        return
    # Days two overlapping pauses share count once.
    held: set[date] = set().union(*(_held(work_calendar, row) for row in pauses if row.ended_at is not None))
    deadline.paused_days = len(held)
    promised.recount(session, case, deadline, work_calendar, guide, now, actor,
                     f"暂停计时（{ended.reason}）{ended.working_days} 个工作日")


def _held(work_calendar: calendar.WorkCalendar, row: ClockPause) -> set[date]:
    """The working days a pause held: after the day it began, up to and including the day it ended."""
    assert row.ended_at is not None
    start, end = (moment.astimezone(clock.SHANGHAI).date() for moment in (row.started_at, row.ended_at))
    try:
        return set(work_calendar.working_days_in(start, end))
    except calendar.MissingHolidayData:
        return set()  # no due date is counted in a year not entered either


def case_pauses(session: Session, case_id: int) -> list[ClockPause]:
    """Each interval the case clock stood still, oldest first (the last may still run)."""
    return list(session.scalars(select(ClockPause).where(ClockPause.case_id == case_id)
                                .order_by(ClockPause.started_at, ClockPause.id)))


def step_deadlines(session: Session, task_ids: list[str]) -> dict[str, Deadline]:
    """The step limits of these tasks, by task id (a task without a limit has none)."""
    if not task_ids:
        return {}
    return {row.task_id: row for row in session.scalars(select(Deadline).where(Deadline.task_id.in_(task_ids)))
            if row.task_id is not None}
