"""SQLAlchemy tables: org tree, roles, users, procedures and drafts, cases, tasks, timers, events, deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .vocabulary import CaseStatus, DeadlineStatus, ExtensionStatus, TaskStatus, TimerStatus


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back aware UTC datetimes (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use engine.clock")
        return value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


class OrgUnit(Base):
    """A county, town or village, identified by its administrative division code."""

    __tablename__ = "org_unit"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])
    # Where its service window is and how to call it, as the public guide tells citizens.
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))


class Role(Base):
    """A post type; `level` says at which org level its holders sit (village, town, county)."""

    __tablename__ = "role"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))


class User(Base):
    """A staff member holding one post (role at an org unit) as its A or B holder."""

    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    org_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    post_rank: Mapped[str] = mapped_column(String(1), default="A")
    away: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # While away from a post without a B holder: the colleague an administrator named to work its tasks.
    substitute_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", name="fk_user_account_substitute"))
    # Signed into every web session; raising it (log-out, new password, deactivation) ends all earlier sessions.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    org: Mapped[OrgUnit] = relationship(lazy="joined")
    role: Mapped[Role] = relationship(lazy="joined")
    substitute: Mapped[User | None] = relationship(remote_side=[id], foreign_keys=[substitute_id])
    # The away holders who named this user their substitute; their posts are the ones this user covers.
    stood_in_for: Mapped[list[User]] = relationship(foreign_keys=[substitute_id], viewonly=True, lazy="selectin",
                                                  join_depth=1)

    __table_args__ = (Index("ix_user_post", "role_code", "org_id"),)

    @property
    def org_level(self) -> str:
        return self.org.level

    @property
    def covers(self) -> frozenset[tuple[str, int]]:
        return frozenset((held.role_code, held.org_id) for held in self.stood_in_for if held.away)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    """One try at the login page, kept for throttling and for the record; `username` is what was typed."""

    __tablename__ = "login_attempt"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    address: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime]
    success: Mapped[bool] = mapped_column(Boolean)
    # Refused before the password was checked (throttled or locked): kept, but not counted as a failure.
    throttled: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"),
                      Index("ix_login_attempt_address_at", "address", "at"))


class ServiceItem(Base):
    """A procedure citizens can apply for; points at its current deployed version."""

    __tablename__ = "service_item"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_version.id", use_alter=True, name="fk_item_current_version")
    )


class ProcedureVersion(Base):
    """One deployed, immutable version of a procedure folder: diagram, forms and service guide."""

    __tablename__ = "procedure_version"
    id: Mapped[int] = mapped_column(primary_key=True)
    item_code: Mapped[str] = mapped_column(ForeignKey("service_item.code"))
    version: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String(100))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]]
    guide: Mapped[dict[str, Any]]
    checksum: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(50))

    __table_args__ = (UniqueConstraint("item_code", "version"),)


class ProcedureDraft(Base):
    """A procedure being drawn or changed in the browser: its files as a procedure folder holds them.

    Checked on every save (the problems are kept for the page); published, it becomes a new ProcedureVersion.
    """

    __tablename__ = "procedure_draft"
    id: Mapped[int] = mapped_column(primary_key=True)
    # From item.toml once it names one; a new procedure may be saved before it has a code.
    item_code: Mapped[str | None] = mapped_column(String(50), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Path in the folder (process.bpmn, item.toml, forms/x.schema.json …) → text.
    files: Mapped[dict[str, Any]]
    based_on_version_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_version.id"))
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime]
    # Set when published: the draft is then closed and kept as the record of what was published.
    published_version_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_version.id"))


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


DEADLINE_CHECK_ROWS = f"status = '{DeadlineStatus.OPEN}' AND next_check_at IS NOT NULL"
DEADLINE_PROVISIONAL_ROWS = f"status = '{DeadlineStatus.OPEN}' AND (provisional OR due_date IS NULL)"
INBOX_POST_ROWS = f"status = '{TaskStatus.OPEN}' AND assignee_id IS NULL"
INBOX_MINE_ROWS = f"status = '{TaskStatus.OPEN}' AND assignee_id IS NOT NULL"


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
    case: Mapped[Case] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])

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


class ProxyStep(Base):
    """One step of 全程代办 (委托, 传递, 回交, 签收) a village agent recorded for a case carried to the town or county.

    `details` holds what the seeds' 登记台账 names for the step (who entrusts and what, to which office and how, what
    was handed back, who signed); the same values go into the case history's event.
    """

    __tablename__ = "proxy_step"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    kind: Mapped[str] = mapped_column(String(20))
    # When it happened as the agent entered it (a 委托 signed yesterday), beside when it was recorded.
    happened_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    details: Mapped[dict[str, Any]]
    recorded_by: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (Index("ix_proxy_step_case_kind", "case_id", "kind"),)


class Enquiry(Base):
    """便民服务事项登记表: a citizen's enquiry or request registered at a window, owned under 首问负责 until handed on.

    The post it sits with is (`post_role_code`, `post_org_id`); `owner_id` is the person answering for it, empty
    after a 转办 until a holder of the receiving post takes it. `trail` lists each register, 转办, take and answer.
    """

    __tablename__ = "enquiry"
    id: Mapped[int] = mapped_column(primary_key=True)
    registered_at: Mapped[datetime]
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The place the person comes from, named as a case's places are so the jurisdiction rule reads both alike.
    village_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    town_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    person_name: Mapped[str] = mapped_column(String(100))
    contact: Mapped[str] = mapped_column(String(20))
    matter: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    post_role_code: Mapped[str] = mapped_column(ForeignKey("role.code"))
    post_org_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answer_method: Mapped[str | None] = mapped_column(String(20))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None]
    trail: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    registered_by: Mapped[User] = relationship(foreign_keys=[registered_by_id], lazy="joined")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id], lazy="joined")
    village: Mapped[OrgUnit] = relationship(foreign_keys=[village_id], lazy="joined")
    post_role: Mapped[Role] = relationship(lazy="joined")
    post_org: Mapped[OrgUnit] = relationship(foreign_keys=[post_org_id], lazy="joined")

    __table_args__ = (Index("ix_enquiry_post", "post_role_code", "post_org_id", "status"),
                      Index("ix_enquiry_town_registered", "town_id", "registered_at"))
class QueryAttempt(Base):
    """One public case query (办件查询): kept to throttle an address that guesses case numbers or ID digits."""

    __tablename__ = "query_attempt"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    address: Mapped[str] = mapped_column(String(45))
    at: Mapped[datetime]
    matched: Mapped[bool] = mapped_column(Boolean)
    # Refused before the pair was looked up: kept, but not counted as a failure.
    throttled: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_query_attempt_address_at", "address", "at"),)


class Appointment(Base):
    """预约服务 / 上门服务: a time booked at a town window or for a home visit in a village."""

    __tablename__ = "appointment"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    item_code: Mapped[str] = mapped_column(ForeignKey("service_item.code"))
    # The town of a window booking, the village of a home visit; its town and county are kept too, named as a
    # case's places are, so the jurisdiction rule reads a booking as it reads a case.
    place_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    town_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    day: Mapped[date] = mapped_column(Date)
    slot: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    # None when a citizen booked on the public page.
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[datetime | None]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    item: Mapped[ServiceItem] = relationship()
    place: Mapped[OrgUnit] = relationship(foreign_keys=[place_id])

    __table_args__ = (Index("ix_appointment_place_day", "place_id", "day"),
                      Index("ix_appointment_town_day", "town_id", "day"))
class DocumentSequence(Base):
    """Per document series (an issuing office's number prefix, e.g. 清水镇便民受) and year, the last number issued."""

    __tablename__ = "document_sequence"
    prefix: Mapped[str] = mapped_column(String(60), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Document(Base):
    """A written document given on a case (receipt, notice, decision): its facts as issued, never changed after."""

    __tablename__ = "case_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    number: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(100))
    # The authority named under the text (清水镇人民政府, 青山县自然资源局) and its org unit.
    issuer: Mapped[str] = mapped_column(String(100))
    office_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    # SHA-256 of the canonical facts, as the DOCUMENT_ISSUED event records it.
    facts_sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    issued_by_name: Mapped[str] = mapped_column(String(100))
    # The cached PDF's digest, set when it is first rendered; a re-render must reproduce the same text.
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
class Attachment(Base):
    """One uploaded scan of a case's material (a slot); a new upload for the slot is a new version, never a change.

    The bytes live once under the attachments folder, named by their SHA-256; rows only point at them.
    """

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"))
    # The material's name from item.toml, or 其他.
    slot: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime]
    uploaded_by: Mapped[User] = relationship(lazy="joined")

    __table_args__ = (UniqueConstraint("case_id", "slot", "version", name="uq_attachment_slot_version"),
                      Index("ix_attachment_case", "case_id"))


class Rating(Base):
    """好差评: the applicant's one rating of a completed case, given at the window or on the public query page."""

    __tablename__ = "rating"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), unique=True)
    level: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10))
    # The clerk who recorded it at the window; none when the applicant rated on the public page.
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime]


class Complaint(Base):
    """投诉: an applicant's complaint about a case, filed at the window or on the public query page."""

    __tablename__ = "complaint"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime]


class FollowUp(Base):
    """整改/回访: a 差评 or a complaint the county's supervisors must answer by a due date in working days."""

    __tablename__ = "follow_up"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("rating.id"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"))
    opened_at: Mapped[datetime]
    limit_days: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date | None] = mapped_column(Date)
    # First day it shows yellow, counted as a deadline's (engine.deadlines.clocks).
    yellow_from: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None]
    # Read with the row: the follow-up list and the case page show them after the session has closed.
    case: Mapped[Case] = relationship(lazy="joined")
    rating: Mapped[Rating | None] = relationship(lazy="joined")
    complaint: Mapped[Complaint | None] = relationship(lazy="joined")
    answered_by: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (Index("ix_follow_up_county_status", "county_id", "status", "due_date"),)


class CaseIntake(Base):
    """受理 at the window: the materials checklist as last ticked, the one-time notice, §32 and 不予受理.

    One row per case registered with a checklist; the refusal register (否定报备) reads the refused rows.
    """

    __tablename__ = "case_intake"
    case_id: Mapped[int] = mapped_column(ForeignKey("case_record.id"), primary_key=True)
    # [{"name", "required", "received", "copies", "original"}], in the item's order.
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The application form as submitted: the workflow starts from it when the case is accepted later.
    data: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]
    received_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # 一次性告知: when it was given and what it listed ([{"name", "note"}]); a second one is refused.
    notice_at: Mapped[datetime | None]
    notice_missing: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # §32: when the receiving clerk was warned (from working day 3), so the scheduler warns once.
    warned_at: Mapped[datetime | None]
    refused_at: Mapped[datetime | None]
    refused_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    refusal_reasons: Mapped[str | None] = mapped_column(Text)
    refusal_basis: Mapped[str | None] = mapped_column(Text)
    case: Mapped[Case] = relationship()

    __table_args__ = (Index("ix_case_intake_refused_at", "refused_at"),)
