"""Tables of cases and what moves them: case numbers, tasks, timers, incidents and the history chain."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
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

from ..vocabulary import CaseStatus, TaskStatus, TimerStatus
from .base import Base

if TYPE_CHECKING:
    from .people import OrgUnit, User
    from .procedures import ServiceItem


class CaseSequence(Base):
    """Per item and day, the last case sequence number handed out."""

    __tablename__ = "case_sequence"
    item_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Case(Base):
    """One application of one applicant for one item; holds SpiffWorkflow's serialized state."""

    __tablename__ = "case_record"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(40), unique=True)
    item_code: Mapped[str] = mapped_column(ForeignKey("service_item.code"))
    version_id: Mapped[int] = mapped_column(ForeignKey("procedure_version.id"))
    village_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    applicant_name: Mapped[str] = mapped_column(String(100))
    applicant_id_number: Mapped[str] = mapped_column(String(18), index=True)
    applicant_phone: Mapped[str] = mapped_column(String(20))
    # How the applicant chose to be told of 受理, 补正 and 办结: a list of channels ("sms", "email"); None, as for
    # cases from before the choice existed, means by SMS when the phone is a mobile.
    applicant_notify: Mapped[list[str] | None] = mapped_column(JSON)
    applicant_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=CaseStatus.RUNNING, index=True)
    result: Mapped[str | None] = mapped_column(String(20))
    started_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    accepted_at: Mapped[datetime]
    promised_date: Mapped[date | None] = mapped_column(Date)
    # Why there is no promised date yet (a holiday year not entered); cleared when one is set.
    promised_note: Mapped[str | None] = mapped_column(String(200))
    # 预计: the promised date was counted on a provisional calendar (a holiday year not yet entered).
    promised_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # 受理: when the case clock started; None while the case waits for its acceptance step (宅基地's window).
    clock_started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # Values the diagram's scripts set (an aid amount, an eligibility flag): case data no form submitted.
    variables: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Head of the event chain, kept on the (locked) case row so appending needs no extra read.
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    # Deferred: lists and pages never need it, and the runtime reads it only when its cache misses.
    workflow_state: Mapped[str] = mapped_column(Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    item: Mapped[ServiceItem] = relationship()
    village: Mapped[OrgUnit] = relationship(foreign_keys=[village_id])

    # The audit desk pages a county's cases newest accepted first and by period. On PostgreSQL migration 0017 also
    # adds trigram indexes for finding case numbers and applicant names by any part (where pg_trgm may be created).
    __table_args__ = (Index("ix_case_county_accepted", "county_id", "accepted_at", "id"),)


INBOX_POST_ROWS = f"status = '{TaskStatus.OPEN}' AND assignee_id IS NULL"
INBOX_MINE_ROWS = f"status = '{TaskStatus.OPEN}' AND assignee_id IS NOT NULL"
# Tasks handed to a colleague (委派) and not yet back: a handful among all the tasks there ever were.
DELEGATED_ROWS = "delegated_by_id IS NOT NULL"


class Task(Base):
    """A user task waiting in (or done from) an inbox; mirrors a READY SpiffWorkflow task."""

    __tablename__ = "task"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    org_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    form_file: Mapped[str | None] = mapped_column(String(200))
    ui_form_file: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=TaskStatus.OPEN)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The case's promised date, kept on the task too so an inbox is read in deadline order straight from
    # one index instead of sorting every open task of a post (tens of thousands in a large county).
    promised_date: Mapped[date | None] = mapped_column(Date)
    # The task whose completion opened this one: 撤回 takes a step back only while what it opened is untouched.
    opened_by_task_id: Mapped[str | None] = mapped_column(String(36))
    # How it reached its holder other than by the case moving on (退回, 转办, 委派, 加签 …), why, and from whom.
    arrival: Mapped[str | None] = mapped_column(String(20))
    arrival_note: Mapped[str | None] = mapped_column(Text)
    arrival_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A signer's share of a workflow task (会签/或签, or 加签): the id of that task's own row, which is HELD
    # meanwhile; `sign_position` is "before" or "after" the holder for an added signer, empty for 会签.
    signing_for: Mapped[str | None] = mapped_column(String(36), index=True)
    sign_position: Mapped[str | None] = mapped_column(String(10))
    # 委派: the holder who delegated it, and gets it back with the colleague's answer for sign-off.
    delegated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # What a signer, a delegate or a holder awaiting the signer added after them submitted, kept until it counts.
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    case: Mapped[Case] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    arrival_by: Mapped[User | None] = relationship(foreign_keys=[arrival_by_id])

    @property
    def assignee_away(self) -> bool:
        return bool(self.assignee and self.assignee.away)

    __table_args__ = (
        Index("ix_task_post_open", "role_code", "org_id", "status"),
        Index("ix_task_assignee_open", "assignee_id", "status"),
        # The two inboxes in their default order (see engine.tasks.inbox): only open tasks are indexed.
        Index("ix_task_inbox_post", "role_code", "org_id", "promised_date", "created_at", "id",
              postgresql_where=text(INBOX_POST_ROWS), sqlite_where=text(INBOX_POST_ROWS)),
        Index("ix_task_inbox_post_arrived", "role_code", "org_id", "created_at", "id",
              postgresql_where=text(INBOX_POST_ROWS), sqlite_where=text(INBOX_POST_ROWS)),
        Index("ix_task_inbox_mine", "assignee_id", "promised_date", "created_at", "id",
              postgresql_where=text(INBOX_MINE_ROWS), sqlite_where=text(INBOX_MINE_ROWS)),
        # 委派中, the delegator's list (engine.tasks.inbox): only delegated tasks are indexed.
        Index("ix_task_delegated_by", "delegated_by_id", "status",
              postgresql_where=text(DELEGATED_ROWS), sqlite_where=text(DELEGATED_ROWS)),
    )


class Timer(Base):
    """A waiting BPMN timer (e.g. a public-notice period) and the absolute time it falls due."""

    __tablename__ = "timer"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=TimerStatus.WAITING)
    fired_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_timer_due", "status", "due_at"),)


class Incident(Base):
    """异常办件: a case whose timed path or submitted step failed at run time, retried or repaired by an administrator.

    Open while `resolved_at` is empty; a later success closes it, and the row stays as the record of what happened.
    """

    __tablename__ = "incident"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    step: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    next_try_at: Mapped[datetime | None]
    given_up: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # A failed step (kind STEP): the task and what its clerk submitted, kept so a repair can re-run the completion.
    task_id: Mapped[str | None] = mapped_column(String(36))
    submitted: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    case: Mapped[Case] = relationship()


class CaseEvent(Base):
    """Append-only history of a case; each row's hash chains to the previous one of its case."""

    __tablename__ = "case_event"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    task_id: Mapped[str | None] = mapped_column(String(36))
    step: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The actor's post (`role@org id`) and the client's address; hashed when present, absent on older rows.
    post: Mapped[str | None] = mapped_column(String(80))
    address: Mapped[str | None] = mapped_column(String(45))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    # The audit desk finds a handler's cases from the events they acted in.
    __table_args__ = (UniqueConstraint("case_id", "seq"), Index("ix_case_event_actor", "actor_id", "case_id"))
