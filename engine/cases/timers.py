"""BPMN timers (公示 periods and the like) that have fallen due, fired exactly once whoever runs them, case by case."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from .. import clock
from ..errors import BianminError
from ..models import Timer
from ..vocabulary import CaseStatus, TimerStatus
from . import incidents
from .context import Runtime
from .locking import lock_case
from .reconcile import advance, mirrored

log = logging.getLogger("bianmin.timers")


def due_timer_cases(rt: Runtime, limit: int = 100) -> list[int]:
    """Cases with a due timer, longest due first; a case whose last try failed waits out its incident's wait."""
    now = clock.now()
    with rt.db.read() as session:
        return list(session.scalars(
            select(Timer.case_id).where(Timer.status == TimerStatus.WAITING, Timer.due_at <= now,
                                        ~incidents.held_back(Timer.case_id, now))
            .group_by(Timer.case_id).order_by(func.min(Timer.due_at), Timer.case_id).limit(limit)
        ))


def fire_timers(rt: Runtime, case_id: int) -> int:
    """Fire the due timers of one case; a second process arriving later finds nothing to do."""
    with rt.db.write() as session:
        case = lock_case(session, case_id)
        now = clock.now()
        due = session.scalars(select(Timer).where(
            Timer.case_id == case_id, Timer.status == TimerStatus.WAITING, Timer.due_at <= now)).all()
        # Whether fired now or by another process before, the path an incident waits on has run.
        incidents.resolve(session, case_id, now)
        if not due or case.status != CaseStatus.RUNNING:
            return 0
        workflow = rt.load(case, rt.versions.get(session, case.version_id))
        before = mirrored(workflow)
        workflow.refresh_timers()
        step = advance(rt, session, case, workflow, before, None, now)
    rt.states.put(case.id, case.revision, workflow)
    return step.timers_fired


def run_due_timers(rt: Runtime, policy: incidents.RetryPolicy, batch: int = 100) -> int:
    """Fire every due case, each in its own transaction; a case that fails becomes an incident and the rest go on."""
    fired = 0
    seen: set[int] = set()
    while True:
        found = due_timer_cases(rt, batch)
        due = [case_id for case_id in found if case_id not in seen]
        for case_id in due:
            seen.add(case_id)
            try:
                fired += fire_timers(rt, case_id)
            except Exception as exc:  # whatever stops one case must not stop the cases after it
                _record(rt, case_id, exc, policy)
        # A full batch may hide more due cases; one with nothing new means the rest are held back or stuck.
        if not due or len(found) < batch:
            return fired


def _record(rt: Runtime, case_id: int, exc: Exception, policy: incidents.RetryPolicy) -> None:
    if not isinstance(exc, BianminError):
        log.error("case %d: timer path failed unexpectedly", case_id, exc_info=exc)
    try:
        with rt.db.read() as session:
            names = session.scalars(select(Timer.name).where(
                Timer.case_id == case_id, Timer.status == TimerStatus.WAITING, Timer.due_at <= clock.now())
                .order_by(Timer.due_at)).all()
        step = "定时器“" + "”“".join(dict.fromkeys(names)) + "”到期后的流程" if names else "定时器到期后的流程"
        incidents.record_failure(rt.db, case_id, step, exc, policy)
    except Exception:
        # The database itself may be what failed: the case stays due and the next tick tries again.
        log.exception("case %d: timer path failed and the incident could not be recorded", case_id)
