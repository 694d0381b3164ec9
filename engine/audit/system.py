"""The system chain: events that belong to no case (publications, people and places, tokens), hashed like a case's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import SystemChainHead, SystemEvent
from . import links
from .chain import Acting
from .links import GENESIS, Finding

HASHED = links.SYSTEM_KEYS
HEAD_ID = 1


def append(session: Session, kind: str, actor: Acting | None, at: datetime, subject: str, *,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> SystemEvent:
    """Append one event in the caller's transaction, holding the head row's lock until it commits."""
    head = session.scalar(select(SystemChainHead).where(SystemChainHead.id == HEAD_ID).with_for_update())
    if head is None:
        head = SystemChainHead(id=HEAD_ID, event_count=0, last_event_hash=GENESIS)
        session.add(head)
    fields: dict[str, Any] = {
        "seq": head.event_count + 1, "at": at, "actor_id": actor.id if actor else None,
        "actor_name": actor.display_name if actor else "系统", "kind": kind, "subject": subject,
        "before": before, "after": after,
    }
    prev_hash = head.last_event_hash
    event = SystemEvent(**fields, prev_hash=prev_hash, hash=links.digest(prev_hash, fields, HASHED))
    session.add(event)
    head.event_count, head.last_event_hash = event.seq, event.hash
    session.flush()
    return event


def verify(session: Session) -> list[Finding]:
    """Re-hash the system chain and name each event that breaks it, in seq order (empty when intact)."""
    head = session.get(SystemChainHead, HEAD_ID)
    count, last_hash = (head.event_count, head.last_event_hash) if head else (0, GENESIS)
    return links.read(rows(session), count, last_hash, links.SYSTEM)


def rows(session: Session) -> list[links.Row]:
    """The stored system events as `links.read` takes them."""
    found = session.execute(select(SystemEvent.id, SystemEvent.prev_hash, SystemEvent.hash, *_COLUMNS)).mappings()
    return [links.Row(row["id"], row["seq"], row["prev_hash"], row["hash"], row) for row in found]


_COLUMNS = [getattr(SystemEvent, key) for key in HASHED]
