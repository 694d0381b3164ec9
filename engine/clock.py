"""The one source of time: every "now" in the engine comes from here so tests can travel in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_offset = timedelta(0)
# A demo database's moved clock (engine.democlock), as last read from the database by this process.
_demo = timedelta(0)


def now() -> datetime:
    """Current time, timezone-aware (UTC)."""
    return datetime.now(UTC) + _offset + _demo


def local_now() -> datetime:
    return now().astimezone(SHANGHAI)


def to_minute(moment: datetime | None) -> str:
    """A moment as messages and records print it: Beijing time to the minute, empty for none."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else ""


def travel(delta: timedelta) -> None:
    """Move the clock forward (tests and benchmarks only)."""
    global _offset
    _offset += delta


def set_now(moment: datetime) -> None:
    """Make now() read `moment` from here on (tests and benchmarks only)."""
    global _offset
    _offset = moment - datetime.now(UTC) - _demo


def use_demo_offset(offset: timedelta) -> None:
    """How far the demo database's clock is moved ahead (engine.democlock reads it; nothing else sets it)."""
    global _demo
    _demo = offset


def reset() -> None:
    global _offset, _demo
    _offset, _demo = timedelta(0), timedelta(0)
