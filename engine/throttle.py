"""Waits after repeated failures from one account or address: the login page and the public case query share them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import BianminError


class TooManyAttempts(BianminError):
    """Refused before anything is checked; `retry_after` says in how many seconds to try again."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True)
class Rule:
    """Failures beyond `free` within `window` each double the wait; `lock_at` of them lock out for `lockout`."""

    free: int
    lock_at: int
    window: timedelta
    lockout: timedelta
    max_delay: timedelta = timedelta(minutes=1)

    def wait_until(self, failures: int, last_failure: datetime | None) -> datetime | None:
        if last_failure is None or failures <= self.free:
            return None
        if failures >= self.lock_at:
            return last_failure + self.lockout
        return last_failure + min(timedelta(seconds=2 ** (failures - self.free - 1)), self.max_delay)

    def refusal(self, failures: int, last_failure: datetime | None, now: datetime, *, locked: str,
                waiting: str) -> TooManyAttempts | None:
        """The refusal while the wait lasts: `locked` words a lockout ({minutes}), `waiting` a delay ({seconds})."""
        until = self.wait_until(failures, last_failure)
        if until is None or until <= now:
            return None
        seconds = math.ceil((until - now).total_seconds())
        if failures >= self.lock_at:
            return TooManyAttempts(locked.format(minutes=math.ceil(seconds / 60)), seconds)
        return TooManyAttempts(waiting.format(seconds=seconds), seconds)
