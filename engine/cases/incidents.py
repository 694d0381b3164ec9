"""异常办件: a case whose timed path failed is recorded, retried with growing waits up to a cap, closed once it runs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..config import Settings
from ..db import Database
from ..errors import BianminError
from ..models import Case, Incident, OrgUnit, ServiceItem
from ..vocabulary import IncidentKind
from .locking import lock_case

log = logging.getLogger("bianmin.incidents")
OPEN = Incident.resolved_at.is_(None)
# The message is shown to administrators as is; an error that quotes a huge value must not fill the table.
MAX_MESSAGE_CHARS = 2000


@dataclass(frozen=True)
class RetryPolicy:
    """The first wait doubles after each failure; after `max_attempts` failures the case waits for a person."""

    first_wait_seconds: int = Settings.incident_retry_seconds
    max_attempts: int = Settings.incident_max_attempts

    def wait(self, attempts: int) -> timedelta:
        return timedelta(seconds=self.first_wait_seconds * 2 ** (attempts - 1))


@dataclass(frozen=True)
class IncidentRow:
    """An open incident as administrators see it, with the case it concerns."""

    id: int
    case_id: int
    case_number: str
    item_name: str
    village_name: str
    applicant_name: str
    kind: str
    step: str
    message: str
    attempts: int
    next_try_at: datetime | None
    given_up: bool
    opened_at: datetime
    last_failed_at: datetime


def held_back(case_id: ColumnElement[int], now: datetime) -> ColumnElement[bool]:
    """Whether the case has an open incident not due for another try: given up, or its wait not yet over."""
    return exists().where(Incident.case_id == case_id, OPEN,
                          or_(Incident.given_up.is_(True), Incident.next_try_at > now))


def record_failure(db: Database, case_id: int, step: str, exc: Exception, policy: RetryPolicy,
                   kind: IncidentKind = IncidentKind.TIMER) -> Incident:
    """Open the case's incident or count one more failure on it, in a transaction of its own."""
    if isinstance(exc, BianminError):
        message = exc.message
    else:
        message = f"系统内部错误（{type(exc).__name__}），详情见服务器日志"
    with db.write() as session:
        lock_case(session, case_id)
        now = clock.now()
        incident = session.scalar(select(Incident).where(Incident.case_id == case_id, Incident.kind == kind, OPEN))
        if incident is None:
            incident = Incident(case_id=case_id, kind=kind, attempts=0, given_up=False, opened_at=now)
            session.add(incident)
        incident.attempts += 1
        incident.step = step[:200]
        incident.message = message[:MAX_MESSAGE_CHARS]
        incident.last_failed_at = now
        incident.given_up = incident.attempts >= policy.max_attempts
        incident.next_try_at = None if incident.given_up else now + policy.wait(incident.attempts)
    log.warning("case %d: %s failed (attempt %d%s): %s", case_id, step, incident.attempts,
                ", given up" if incident.given_up else "", message)
    return incident


def resolve(session: Session, case_id: int, now: datetime) -> None:
    """Close the case's open incidents: its timed path has now run (called inside that transaction)."""
    session.execute(update(Incident).where(Incident.case_id == case_id, OPEN).values(resolved_at=now))


def open_incidents(session: Session, limit: int) -> list[IncidentRow]:
    """Open incidents, those given up first, then the most recently failed."""
    rows = session.execute(
        select(Incident, Case.case_number, Case.applicant_name, ServiceItem.name.label("item_name"),
               OrgUnit.name.label("village_name"))
        .join(Case, Case.id == Incident.case_id).join(ServiceItem, ServiceItem.code == Case.item_code)
        .join(OrgUnit, OrgUnit.id == Case.village_id)
        .where(OPEN).order_by(Incident.given_up.desc(), Incident.last_failed_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    return [IncidentRow(row.Incident.id, row.Incident.case_id, row.case_number, row.item_name, row.village_name,
                        row.applicant_name, row.Incident.kind, row.Incident.step, row.Incident.message,
                        row.Incident.attempts, row.Incident.next_try_at, row.Incident.given_up,
                        row.Incident.opened_at, row.Incident.last_failed_at) for row in rows]
