"""The case history: append-only events, each hashed together with the previous one of its case."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Case, CaseEvent, User

GENESIS = "0" * 64


def _digest(prev_hash: str, event: CaseEvent) -> str:
    body = {
        "case_id": event.case_id, "seq": event.seq, "at": event.at.isoformat(), "actor_id": event.actor_id,
        "actor_name": event.actor_name, "kind": event.kind, "task_id": event.task_id, "step": event.step,
        "before": event.before, "after": event.after,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def append(
    session: Session, case: Case, kind: str, actor: User | None, at: datetime, *,
    task_id: str | None = None, step: str | None = None,
    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one event; the caller holds the case lock, so seq and the chain cannot fork."""
    seq, prev_hash = case.event_count + 1, case.last_event_hash
    event = CaseEvent(
        case_id=case.id, seq=seq, at=at, actor_id=actor.id if actor else None,
        actor_name=actor.display_name if actor else "系统", kind=kind, task_id=task_id, step=step,
        before=before, after=after, prev_hash=prev_hash, hash="",
    )
    event.hash = _digest(prev_hash, event)
    case.event_count, case.last_event_hash = seq, event.hash
    session.add(event)
    return event


def verify(session: Session, case_id: int) -> list[str]:
    """Re-hash a case's chain; returns the problems found (empty when intact)."""
    problems = []
    prev = GENESIS
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            problems.append(f"第 {expected_seq} 条记录缺失")
        if event.prev_hash != prev or _digest(prev, event) != event.hash:
            problems.append(f"第 {event.seq} 条记录被改动过")
        prev = event.hash
    case = session.get(Case, case_id)
    if case is not None and (case.last_event_hash != prev):
        problems.append("办件记录的末条哈希与日志不符，日志可能被截断")
    return problems
