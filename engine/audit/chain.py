"""The case history: append-only events, each hashed together with the previous one of its case."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db import queue_update, queue_write
from ..models import Case, CaseEvent

GENESIS = "0" * 64


class Acting(Protocol):
    """Whoever acts on a case: a staff account (or the runtime's record of one)."""

    id: int
    display_name: str


def _digest(prev_hash: str, event: dict[str, Any]) -> str:
    body = {key: event[key] for key in HASHED}
    body["at"] = event["at"].isoformat()
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


HASHED = ("case_id", "seq", "at", "actor_id", "actor_name", "kind", "task_id", "step", "before", "after")


def append(
    session: Session, case: Case, kind: str, actor: Acting | None, at: datetime, *,
    task_id: str | None = None, step: str | None = None,
    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> None:
    """Append one event; the caller holds the case lock, so the chain cannot fork."""
    seq, prev_hash = case.event_count + 1, case.last_event_hash
    event: dict[str, Any] = {
        "case_id": case.id, "seq": seq, "at": at, "actor_id": actor.id if actor else None,
        "actor_name": actor.display_name if actor else "系统", "kind": kind, "task_id": task_id, "step": step,
        "before": before, "after": after, "prev_hash": prev_hash,
    }
    event["hash"] = _digest(prev_hash, event)
    queue_write(session, _INSERT, event, last=True)
    # The case row keeps the head of its chain, so the next append needs no read of the log.
    queue_update(session, Case.__table__, case.id, event_count=seq, last_event_hash=event["hash"])
    set_committed_value(case, "event_count", seq)
    set_committed_value(case, "last_event_hash", event["hash"])


_INSERT = insert(CaseEvent.__table__).inline()  # queued writes never read back a generated id


def verify(session: Session, case_id: int) -> list[str]:
    """Re-hash a case's chain; returns the problems found (empty when intact)."""
    problems = []
    prev = GENESIS
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq))
    for expected_seq, event in enumerate(events, start=1):
        if event.seq != expected_seq:
            problems.append(f"第 {expected_seq} 条记录缺失")
        fields = {key: getattr(event, key) for key in HASHED}
        if event.prev_hash != prev or _digest(prev, fields) != event.hash:
            problems.append(f"第 {event.seq} 条记录被改动过")
        prev = event.hash
    case = session.get(Case, case_id)
    if case is not None and case.last_event_hash != prev:
        problems.append("办件记录的末条哈希与日志不符，日志可能被截断")
    return problems
