"""Time travel for demos: a demo database's engine clock moved ahead, seen alike by web server, scheduler and CLI."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from . import clock
from .db import Database
from .errors import BianminError
from .models import DemoClock

ROW_ID = 1
UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1)}
SPAN = re.compile(r"(\d{1,4})([wdh])")
# A web worker looks again at most this often; the scheduler looks at every tick, the CLI at start.
REFRESH_SECONDS = 5


class ClockRefused(BianminError):
    status = 422


def mark(session: Session, created_by: str) -> None:
    """Record that this database is a demo one (`load-demo`, or the tests): only such a clock may move."""
    if session.get(DemoClock, ROW_ID) is None:
        session.add(DemoClock(id=ROW_ID, created_by=created_by, offset_seconds=0, changed_at=None))


def parse_span(text: str) -> timedelta:
    """`8d`, `2w`, `36h` (or several, as `1w2d`) as a time span ahead."""
    compact = text.strip().lower().replace(" ", "")
    if not compact or SPAN.sub("", compact):
        raise ClockRefused(f"“{text}”不是有效的时长：请写成 8d（天）、2w（周）或 36h（小时）")
    span = sum((int(count) * UNITS[unit] for count, unit in SPAN.findall(compact)), timedelta())
    if not span:
        raise ClockRefused("时长须大于零")
    return span


def _locked(session: Session) -> DemoClock:
    row = session.scalar(select(DemoClock).where(DemoClock.id == ROW_ID).with_for_update())
    if row is None:
        raise ClockRefused("只有演示数据库（由 bianmin load-demo 创建）可以调整系统时钟；这是正式数据库，时钟不可调整")
    return row


def advance(session: Session, span: timedelta) -> timedelta:
    """Move the demo clock ahead by `span`; returns how far it now stands ahead of real time."""
    row = _locked(session)
    row.offset_seconds += int(span.total_seconds())
    row.changed_at = datetime.now(UTC)
    return _use(row.offset_seconds)


def reset(session: Session) -> None:
    row = _locked(session)
    row.offset_seconds, row.changed_at = 0, datetime.now(UTC)
    _use(0)


def offset(session: Session) -> timedelta | None:
    """How far the clock stands ahead, or None for a database that is not a demo one."""
    seconds = session.scalar(select(DemoClock.offset_seconds).where(DemoClock.id == ROW_ID))
    return None if seconds is None else timedelta(seconds=seconds)


def refresh(db: Database) -> None:
    """Read the offset into this process's clock: at start-up, every scheduler tick, and from web requests."""
    try:
        with db.read() as session:
            found = offset(session)
    except DBAPIError:
        # A database not yet migrated (`bianmin init` itself opens it first) has no demo clock.
        found = None
    _use(int(found.total_seconds()) if found else 0)


class Refresher:
    """Refreshes at most every REFRESH_SECONDS, so a busy web server adds one primary-key read per interval."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._last = float("-inf")

    def __call__(self) -> None:
        if time.monotonic() - self._last >= REFRESH_SECONDS:
            self._last = time.monotonic()
            refresh(self.db)


def _use(seconds: int) -> timedelta:
    clock.use_demo_offset(timedelta(seconds=seconds))
    return timedelta(seconds=seconds)
