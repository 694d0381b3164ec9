"""Tables of the service window: 代办, enquiries, queries, bookings, documents, scans, ratings, intake."""

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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base

if TYPE_CHECKING:
    from .cases import Case
    from .people import OrgUnit, Role, User
    from .procedures import ServiceItem


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
