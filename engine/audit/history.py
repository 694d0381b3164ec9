"""What a case's history says: the application and each completed step's form, read from its events."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..vocabulary import EventKind

SUBMITTING = (EventKind.CASE_STARTED, EventKind.TASK_COMPLETED)


@dataclass(frozen=True)
class Submission:
    """What one completed step submitted, as its event recorded it."""

    task_id: str | None
    step: str | None
    at: datetime
    actor_name: str
    data: dict[str, Any]


def submissions(events: Iterable[Any]) -> tuple[dict[str, Any], list[Submission]]:
    """The application form and each completed step's form, read from a case's events in order."""
    application: dict[str, Any] = {}
    steps = []
    for event in events:
        if event.kind == EventKind.CASE_STARTED:
            application = (event.after or {}).get("data") or {}
        elif event.kind == EventKind.TASK_COMPLETED:
            steps.append(Submission(event.task_id, event.step, event.at, event.actor_name, event.after or {}))
    return application, steps
