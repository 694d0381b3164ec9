"""BPMN timers (公示 periods and the like) that have fallen due, fired exactly once whoever runs them."""

from __future__ import annotations

from sqlalchemy import select

from .. import clock
from ..models import Timer
from ..vocabulary import CaseStatus, TimerStatus
from .context import Runtime
from .locking import lock_case
from .reconcile import advance, mirrored


def due_timer_cases(rt: Runtime, limit: int = 100) -> list[int]:
    with rt.db.read() as session:
        return list(session.scalars(
            select(Timer.case_id).where(Timer.status == TimerStatus.WAITING, Timer.due_at <= clock.now())
            .group_by(Timer.case_id).limit(limit)
        ))


def fire_timers(rt: Runtime, case_id: int) -> int:
    """Fire the due timers of one case; a second process arriving later finds nothing to do."""
    with rt.db.write() as session:
        case = lock_case(session, case_id)
        now = clock.now()
        due = session.scalars(select(Timer).where(
            Timer.case_id == case_id, Timer.status == TimerStatus.WAITING, Timer.due_at <= now)).all()
        if not due or case.status != CaseStatus.RUNNING:
            return 0
        workflow = rt.load(case, rt.versions.get(session, case.version_id))
        before = mirrored(workflow)
        workflow.refresh_timers()
        step = advance(rt, session, case, workflow, before, None, now)
    rt.states.put(case.id, case.revision, workflow)
    return step.timers_fired
