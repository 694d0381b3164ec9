"""Timed work driven by APScheduler; what is due is always read from the database, never kept in memory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from connectors import Secrets

from . import democlock
from .audit import anchors
from .cases.service import CaseService
from .db import Database
from .deadlines import cards, promised
from .outbox import deliver

log = logging.getLogger("bianmin.scheduler")


def tick(cases: CaseService) -> int:
    """Run the timed jobs in turn, each reading only what is due; returns how much they did (0: nothing was due).

    Safe in several processes at once. A job that raises is logged by APScheduler and tried again next tick.
    """
    # A demo clock moved by `bianmin clock advance` reaches this process here.
    democlock.refresh(cases.db)
    return sum(job(cases) for job in JOBS)


def fire_timers(cases: CaseService) -> int:
    """Due BPMN timers, case by case (the case lock decides); a failing case becomes an incident."""
    fired = cases.run_due_timers()
    if fired:
        log.info("fired %d timer(s)", fired)
    return fired


def raise_cards(cases: CaseService) -> int:
    """Yellow and red cards whose moment has come (engine.deadlines.cards)."""
    raised = cards.tick(cases)
    if raised:
        log.info("raised %d card(s)", raised)
    return raised


def recount_dates(cases: CaseService) -> int:
    """Provisional dates made final by a year entered since (a calendar page leaves all but its first batch here)."""
    recounted = cases.recount_provisional(promised.RECOUNT_BATCH)
    if recounted:
        log.info("recounted the deadlines of %d case(s) on an entered holiday year", recounted)
    return recounted


def section32(cases: CaseService) -> int:
    """Applications taken in and not examined: the clerk warned on working day 3, accepted on day 5 (§32)."""
    changed = cases.run_section32()
    if changed:
        log.info("§32: warned or accepted %d application(s) waiting at the window", changed)
    return changed


# Dates are recounted before cards are raised, so no card is raised on a date about to move.
JOBS: list[Callable[[CaseService], int]] = [fire_timers, section32, recount_dates, raise_cards]


def write_anchor(db: Database, directory: Path) -> int:
    """Yesterday's anchor, once across every process (the day's row is unique); a look-up when it exists."""
    written = anchors.write_yesterday(db, directory)
    if written:
        log.info("wrote yesterday's anchor to %s", directory)
    return written


def send_outbox(cases: CaseService, secrets: Secrets, timeout_seconds: float) -> int:
    """Due connector calls (engine.outbox): a job of its own, so a slow outside system never holds the timers."""
    sent = deliver.deliver_due(cases, secrets, timeout_seconds)
    if sent:
        log.info("tried %d connector call(s)", sent)
    return sent


def build(cases: CaseService, *, blocking: bool, interval: int, anchors_dir: Path | None = None,
          outbox: tuple[Secrets, float] | None = None, timers: bool = True) -> BaseScheduler:
    """The timers' job (unless `timers` is off: a process that only sends the outbox), yesterday's anchor when
    `anchors_dir` is given, and the outbox's job when `outbox` gives its secrets and time-out."""
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
    if timers:
        scheduler.add_job(tick, "interval", seconds=interval, args=[cases], id="timers",
                          max_instances=1, coalesce=True)
    if outbox is not None:
        scheduler.add_job(send_outbox, "interval", seconds=interval, args=[cases, *outbox], id="outbox",
                          max_instances=1, coalesce=True)
    if anchors_dir is not None:
        scheduler.add_job(write_anchor, "interval", seconds=interval, args=[cases.db, anchors_dir], id="anchors",
                          max_instances=1, coalesce=True)
    return scheduler
