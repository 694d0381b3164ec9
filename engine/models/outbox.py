"""Tables of the way out: the outbox of calls to connectors, and the secrets (encrypted) the calls use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class OutboxMessage(Base):
    """One call to a connector, written in the transaction that asked for it and sent later by the worker.

    A service task's call carries its case and task; the case waits at the task until the result is back.
    """

    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    step: Mapped[str | None] = mapped_column(String(200))
    connector: Mapped[str] = mapped_column(String(100))
    # Only what the diagram mapped for this call: never the whole case data.
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Sent with every attempt, so the receiving system can tell a retry from a new request.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime]
    # A worker sending it holds it until then; one that dies mid-call leaves it to be taken again afterwards.
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # Whom a message to a person goes to ("user:7", "sms:139…", "mail:…"), counted against the daily cap.
    recipient: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (Index("ix_outbox_due", "status", "next_try_at"),
                      Index("ix_outbox_recipient", "recipient", "created_at"))


class Secret(Base):
    """An API key or password, stored encrypted with the key in BIANMIN_SECRETS_KEY; named by diagrams and
    settings, never shown again after entry."""

    __tablename__ = "secret"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
