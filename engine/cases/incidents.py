"""异常办件: a failed timed path is retried with growing waits up to a cap; a failed step waits for a repair."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..config import Settings
from ..db import Database
from ..errors import BianminError, StepFailed, StepHeld
from ..models import Case, Incident, OrgUnit, ServiceItem, User
from ..notifications import notify
from ..people.access import ADMIN_ROLE
from ..vocabulary import EventKind, IncidentKind
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
    task_id: str | None = None


def held_back(case_id: ColumnElement[int], now: datetime) -> ColumnElement[bool]:
    """Whether the case has an open incident not due for another try: given up, or its wait not yet over."""
    return exists().where(Incident.case_id == case_id, Incident.kind == IncidentKind.TIMER, OPEN,
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
        incident = count_failure(session, case_id, kind, step, message, now)
        incident.given_up = incident.attempts >= policy.max_attempts
        incident.next_try_at = None if incident.given_up else now + policy.wait(incident.attempts)
    log.warning("case %d: %s failed (attempt %d%s): %s", case_id, step, incident.attempts,
                ", given up" if incident.given_up else "", message)
    return incident


def count_failure(session: Session, case_id: int, kind: IncidentKind, step: str, message: str,
                  now: datetime) -> Incident:
    """The case's open incident of `kind` with one more failure on it, opened now if there was none; the caller,
    holding the case's lock, says what follows (a retry time, given up, the kept input)."""
    incident = session.scalar(select(Incident).where(Incident.case_id == case_id, Incident.kind == kind, OPEN))
    if incident is None:
        incident = Incident(case_id=case_id, kind=kind, attempts=0, given_up=False, opened_at=now)
        session.add(incident)
    incident.attempts += 1
    incident.step = step[:200]
    incident.message = message[:MAX_MESSAGE_CHARS]
    incident.last_failed_at, incident.next_try_at = now, None
    return incident


def tell_administrators(session: Session, key: str, title: str, body: str, case_id: int, now: datetime) -> None:
    """Every active administrator is told of an incident waiting for them (异常办件)."""
    admins = session.scalars(select(User.id).where(User.role_code == ADMIN_ROLE, User.active.is_(True)))
    notify(session, admins, key, NOTIFICATION_KIND, title, now, case_id=case_id, body=body)


def resolve(session: Session, case_id: int, now: datetime, kind: IncidentKind | None = IncidentKind.TIMER) -> None:
    """Close the case's open incidents of `kind` (None: all): the path they wait on has now run (inside that
    transaction)."""
    kinds = [] if kind is None else [Incident.kind == kind]
    session.execute(update(Incident).where(Incident.case_id == case_id, OPEN, *kinds).values(resolved_at=now))


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
                        row.Incident.opened_at, row.Incident.last_failed_at, row.Incident.task_id) for row in rows]


NOTIFICATION_KIND = "incident"


def hold_step(db: Database, case_id: int, task_id: str, task_name: str, submitter: Acting, data: dict[str, Any],
              failure: StepFailed, acting: Acting | None = None) -> StepHeld:
    """Keep a completion whose following path failed, in a transaction of its own; the case is otherwise unchanged.

    The task stays open to its post: the clerk may send it again (input that leads elsewhere may go through, and a
    completion closes the incident), or an administrator's repair re-runs it with the kept input. Returns the error
    that tells the clerk so. `acting` is who ran it when not the clerk (an administrator's retry).
    """
    actor = acting or submitter
    where = failure.element or task_name
    with db.write() as session:
        case = lock_case(session, case_id)
        now = clock.now()
        # Never retried by the scheduler: the diagram fails the same way until an administrator repairs it.
        incident = count_failure(session, case_id, IncidentKind.STEP, where, failure.message, now)
        incident.task_id, incident.submitted, incident.submitted_by_id = task_id, data, submitter.id
        session.flush()
        chain.append(session, case, EventKind.STEP_FAILED, actor, now, task_id=task_id, step=task_name,
                     after={"element": where, "message": incident.message, "incident": incident.id})
        tell_administrators(session, f"incident:{incident.id}:{incident.attempts}",
                            f"异常办件待修复：{case.case_number}",
                            f"{submitter.display_name}办理“{task_name}”后，流程在“{where}”处出错：{incident.message}",
                            case_id, now)
        incident_id = incident.id
    log.warning("case %d: step %s failed at %s, kept as incident %d: %s", case_id, task_name, where, incident_id,
                failure.message)
    return StepHeld(failure, incident_id)


def open_step_incident(session: Session, case_id: int) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.case_id == case_id, Incident.kind == IncidentKind.STEP,
                                                 OPEN))
