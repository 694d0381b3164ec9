"""Tables of the system chain, daily anchors and the log of revealed personal data."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class SystemEvent(Base):
    """The system's own history (publications, people and places, tokens …), hash-chained like a case's."""

    __tablename__ = "system_event"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    # What it is about, as a person reads it: an item code and version, a username, a division code.
    subject: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_system_event_kind_at", "kind", "at"),)


class SystemChainHead(Base):
    """The one row holding the system chain's head; appending locks it, so the chain cannot fork."""

    __tablename__ = "system_chain_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """A day's anchor: the digest of every chain's head at the end of that day (Beijing time), and its file."""

    __tablename__ = "audit_anchor"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Unique, so of several scheduler processes only one writes a day's anchor.
    day: Mapped[date] = mapped_column("date", Date, unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    # {"cases": chains anchored, "case_events": events they hold, "system_events": the system chain's length}
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class DataReveal(Base):
    """One 查看完整: a staff member who does not handle a case showed one of its ID or phone numbers in clear.

    Kept for the auditors (个人信息保护法 §51); never changed or deleted, and each row has its system-chain event.
    """

    __tablename__ = "data_reveal"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The post they acted in, as case events keep it (`role@org id`).
    post: Mapped[str] = mapped_column(String(80))
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    field: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(String(45))

    __table_args__ = (Index("ix_data_reveal_at", "at"), Index("ix_data_reveal_case_id", "case_id"),
                      Index("ix_data_reveal_user_id_at", "user_id", "at"))
