"""The system chain: events that belong to no case (publications, people and places, tokens), hashed like a case's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import SystemChainHead, SystemEvent
from .chain import GENESIS, Acting, _digest

HASHED = ("seq", "at", "actor_id", "actor_name", "kind", "subject", "before", "after")
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
    event = SystemEvent(**fields, prev_hash=head.last_event_hash, hash=_digest(head.last_event_hash, fields, HASHED))
    session.add(event)
    head.event_count, head.last_event_hash = event.seq, event.hash
    session.flush()
    return event


def unbroken(session: Session) -> bool:
    """Whether every system event still hashes to what was stored, in order, up to the head."""
    previous = GENESIS
    for event in session.scalars(select(SystemEvent).order_by(SystemEvent.seq)):
        fields = {key: getattr(event, key) for key in HASHED}
        if event.prev_hash != previous or _digest(previous, fields, HASHED) != event.hash:
            return False
        previous = event.hash
    head = session.get(SystemChainHead, HEAD_ID)
    return (head.last_event_hash if head else GENESIS) == previous
