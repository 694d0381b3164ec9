"""Staff notifications (提醒): one per person and subject, read in the app; other channels hang off `notify`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import Notification

NOTIFICATIONS = Notification.__table__


def notify(session: Session, user_ids: Iterable[int], key: str, kind: str, title: str, now: datetime, *,
           body: str = "", case_id: int | None = None, card_id: int | None = None) -> None:
    """One notification per user for `key`; a second call with the same key (another scheduler) adds nothing.

    SMS and e-mail arrive later through connectors: they will read the rows this writes, never replace it.
    """
    rows = [{"user_id": user_id, "key": key, "kind": kind, "title": title, "body": body, "case_id": case_id,
             "card_id": card_id, "created_at": now, "read_at": None} for user_id in sorted(set(user_ids))]
    if not rows:
        return
    insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    session.execute(insert_(NOTIFICATIONS).on_conflict_do_nothing(index_elements=["user_id", "key"]), rows)
