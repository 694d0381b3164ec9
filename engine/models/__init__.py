"""SQLAlchemy tables, one module per domain; importing the package registers every table on `Base.metadata`."""

from __future__ import annotations

from .audit import AuditAnchor, DataReveal, SystemChainHead, SystemEvent
from .base import Base, UTCDateTime
from .cases import (
    INBOX_MINE_ROWS,
    INBOX_POST_ROWS,
    Case,
    CaseEvent,
    CaseSequence,
    Incident,
    Task,
    Timer,
)
from .deadlines import (
    DEADLINE_CHECK_ROWS,
    DEADLINE_PROVISIONAL_ROWS,
    CalendarDay,
    CalendarYear,
    Card,
    ClockPause,
    Deadline,
    DemoClock,
    Extension,
    Notification,
)
from .operations import CaseCopy, Chase
from .outbox import OutboxMessage, Secret
from .people import ApiToken, LoginAttempt, OrgUnit, Role, User
from .procedures import ProcedureDraft, ProcedureVersion, ServiceItem
from .window import (
    Appointment,
    Attachment,
    CaseIntake,
    Complaint,
    Document,
    DocumentSequence,
    Enquiry,
    FollowUp,
    ProxyStep,
    QueryAttempt,
    Rating,
)

__all__ = [
    "ApiToken",
    "Appointment",
    "Attachment",
    "AuditAnchor",
    "Base",
    "CalendarDay",
    "CalendarYear",
    "Card",
    "Case",
    "CaseCopy",
    "CaseEvent",
    "CaseIntake",
    "CaseSequence",
    "Chase",
    "ClockPause",
    "Complaint",
    "DEADLINE_CHECK_ROWS",
    "DEADLINE_PROVISIONAL_ROWS",
    "DataReveal",
    "Deadline",
    "DemoClock",
    "Document",
    "DocumentSequence",
    "Enquiry",
    "Extension",
    "FollowUp",
    "INBOX_MINE_ROWS",
    "INBOX_POST_ROWS",
    "Incident",
    "LoginAttempt",
    "Notification",
    "OrgUnit",
    "OutboxMessage",
    "ProcedureDraft",
    "ProcedureVersion",
    "ProxyStep",
    "QueryAttempt",
    "Rating",
    "Role",
    "Secret",
    "ServiceItem",
    "SystemChainHead",
    "SystemEvent",
    "Task",
    "Timer",
    "UTCDateTime",
    "User",
]
