"""Staff notifications (提醒): one per person and subject, read in the app, and sent on by SMS or e-mail to those
who chose it (engine/outbox/notices.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .db import insert_or_skip
from .errors import NotFound
from .models import Notification
from .outbox import notices

NOTIFICATIONS = Notification.__table__


@dataclass(frozen=True)
class Message:
    """One subject told to several people: `key` names the subject, so each person gets it once."""

    user_ids: frozenset[int]
    key: str
    kind: str
    title: str
    body: str = ""
    case_id: int | None = None
    card_id: int | None = None
    # The SMS template and values it goes out with, where it has its own (a card); else its title is the text.
    outgoing: notices.Outgoing | None = None


def notify(session: Session, user_ids: Iterable[int], key: str, kind: str, title: str, now: datetime, *,
           body: str = "", case_id: int | None = None, card_id: int | None = None) -> None:
    """One notification per user for `key`; a second call with the same key (another scheduler) adds nothing."""
    notify_all(session, [Message(frozenset(user_ids), key, kind, title, body, case_id, card_id)], now)


def notify_all(session: Session, messages: Sequence[Message], now: datetime) -> None:
    """Several subjects in one statement (the scheduler tells a batch of cards at once); same rule as `notify`."""
    rows = [{"user_id": user_id, "key": m.key, "kind": m.kind, "title": m.title, "body": m.body,
             "case_id": m.case_id, "card_id": m.card_id, "created_at": now, "read_at": None}
            for m in messages for user_id in sorted(m.user_ids)]
    if not rows:
        return
    session.execute(insert_or_skip(session, NOTIFICATIONS, ["user_id", "key"]), rows)
    # Only queued here, in the writing transaction: the outbox worker sends after it commits, never under a lock.
    notices.send_out(session, messages, now)


def unread_count(session: Session, user_id: int) -> int:
    """The header's number: read from the unread index (user, read_at), never the whole list."""
    return session.scalar(select(func.count()).select_from(NOTIFICATIONS).where(
        NOTIFICATIONS.c.user_id == user_id, NOTIFICATIONS.c.read_at.is_(None))) or 0


def listing(session: Session, user_id: int, *, unread_only: bool, limit: int) -> list[Notification]:
    """A person's notifications, newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)))


def mark_read(session: Session, user_id: int, now: datetime, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read, or all of them (id None); returns how many changed.

    Only the user's own rows are touched: someone else's id is refused as not found and changes nothing.
    """
    if notification_id is not None and session.scalar(select(Notification.id).where(
            Notification.id == notification_id, Notification.user_id == user_id)) is None:
        raise NotFound("提醒不存在")
    statement = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        statement = statement.where(Notification.id == notification_id)
    return session.execute(statement.values(read_at=now)).rowcount  # type: ignore[attr-defined]
