"""Tables of the work calendar and the clock: deadlines, pauses, extensions, cards and notifications."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..vocabulary import DeadlineStatus, ExtensionStatus
from .base import Base

if TYPE_CHECKING:
    from .cases import Case
    from .people import User


DEADLINE_CHECK_ROWS = f"status = '{DeadlineStatus.OPEN}' AND next_check_at IS NOT NULL"
DEADLINE_PROVISIONAL_ROWS = f"status = '{DeadlineStatus.OPEN}' AND (provisional OR due_date IS NULL)"

class CalendarYear(Base):
    """A year whose statutory holidays and make-up workdays have been entered."""

    __tablename__ = "calendar_year"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(200))


class CalendarDay(Base):
    """An exception to the Monday–Friday rule: a holiday on a weekday, or a make-up workday."""

    __tablename__ = "calendar_day"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(50))


class DemoClock(Base):
    """Present only in a database made by `load-demo` or the tests: how far its engine clock was moved ahead."""

    __tablename__ = "demo_clock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Who made the database a demo one ("load-demo" or "tests"); time travel is refused without this row.
    created_by: Mapped[str] = mapped_column(String(20))
    offset_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[datetime | None]


class Deadline(Base):
    """A running limit in working days: the case's promised date (task_id empty) or one step's own limit.

    `next_check_at` is when the scheduler must next look at it (the yellow card's moment, then the red card's);
    the tick reads only rows whose moment has come, from a partial index over open deadlines.
    """

    __tablename__ = "deadline"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("task.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    limit_days: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    due_date: Mapped[date | None] = mapped_column(Date)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # First day the yellow card shows (the item's threshold before the due date).
    yellow_from: Mapped[date | None] = mapped_column(Date)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    extended_days: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=DeadlineStatus.OPEN)
    # The card it shows now: "" (none), yellow or red.
    card: Mapped[str] = mapped_column(String(10), default="")
    next_check_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Set when finished: done after the due date (逾期办结).
    late: Mapped[bool | None] = mapped_column(Boolean)
    case: Mapped[Case] = relationship()

    __table_args__ = (
        Index("ix_deadline_due_check", "next_check_at",
              postgresql_where=text(DEADLINE_CHECK_ROWS), sqlite_where=text(DEADLINE_CHECK_ROWS)),
        Index("ix_deadline_open_card", "card", "status"),
        # The few open deadlines counted on a year not entered (or on none): what a calendar load recounts.
        Index("ix_deadline_provisional", "case_id",
              postgresql_where=text(DEADLINE_PROVISIONAL_ROWS), sqlite_where=text(DEADLINE_PROVISIONAL_ROWS)),
        # One case clock per case; a step has one limit per task.
        Index("ux_deadline_case_clock", "case_id", unique=True,
              postgresql_where=text("task_id IS NULL"), sqlite_where=text("task_id IS NULL")),
    )


class ClockPause(Base):
    """An interval that does not count against a deadline (公示, 补正, 现场勘察 … 行政许可法 §45)."""

    __tablename__ = "clock_pause"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    reason: Mapped[str] = mapped_column(String(50))
    step: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # Working days the promised date moved by when the pause ended.
    working_days: Mapped[int | None] = mapped_column(Integer)


class Extension(Base):
    """延期: more working days for a deadline, asked with a reason and approved or refused by a leader."""

    __tablename__ = "extension"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadline.id"))
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=ExtensionStatus.PENDING)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class Card(Base):
    """A yellow (黄牌) or red (红牌) card raised on a deadline; the unique key makes each exist exactly once."""

    __tablename__ = "card"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadline.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    color: Mapped[str] = mapped_column(String(10))
    # The due date it warned about: an extension that moves the date may earn a fresh card.
    due_date: Mapped[date] = mapped_column(Date)
    raised_at: Mapped[datetime]
    deadline: Mapped[Deadline] = relationship()

    __table_args__ = (UniqueConstraint("deadline_id", "color", "due_date"),
                      Index("ix_card_raised", "raised_at"))


class Notification(Base):
    """One message in a staff member's in-app list; `key` names what it is about, so it exists once per person."""

    __tablename__ = "notification"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case_record.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("user_id", "key"),
                      Index("ix_notification_unread", "user_id", "read_at", "created_at"))
