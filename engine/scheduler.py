"""Timed work driven by APScheduler; what is due is always read from the database, never kept in memory."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from . import democlock
from .cases.service import CaseService

log = logging.getLogger("bianmin.scheduler")


def tick(cases: CaseService) -> int:
    """Fire every due BPMN timer, case by case; safe to run in several processes at once (the case lock decides).

    A case that fails becomes an incident (engine.cases.incidents) and is not met again until its retry is due.
    """
    # A demo clock moved by `bianmin clock advance` reaches this process here.
    democlock.refresh(cases.db)
    fired = cases.run_due_timers()
    if fired:
        log.info("fired %d timer(s)", fired)
    return fired


def build(cases: CaseService, *, blocking: bool, interval: int) -> BaseScheduler:
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    scheduler.add_job(tick, "interval", seconds=interval, args=[cases], id="timers",
                      max_instances=1, coalesce=True)
    return scheduler
