"""What leaves the system when a case reaches a milestone (受理, 补正, 不予受理, 办结, 撤销), queued in the
transaction that reached it: the applicant's messages and the report to the upstream platform (办件信息上报)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ..audit.chain import Acting
from ..models import Case
from . import applicant, report


def accepted(session: Session, case: Case, item_name: str, actor: Acting | None, now: datetime) -> None:
    """受理, at the window or at the diagram's acceptance step: the promised date is set."""
    applicant.tell_accepted(session, case, item_name, actor, now)
    report.report(session, case, report.ACCEPTED, item_name, actor, now)


def supplement(session: Session, case: Case, item_name: str, actor: Acting | None, now: datetime) -> None:
    """The one-time 补正 notice is issued."""
    applicant.tell_supplement(session, case, item_name, actor, now)
    report.report(session, case, report.SUPPLEMENT, item_name, actor, now)


def refused(session: Session, case: Case, item_name: str, reasons: str, actor: Acting | None,
            now: datetime) -> None:
    """不予受理, with the written refusal issued: the case ends without a clock."""
    report.report(session, case, report.REFUSED, item_name, actor, now, reasons=reasons)


def decided(session: Session, case: Case, item_name: str, result: str, actor: Acting | None,
            now: datetime) -> None:
    """办结, with the written decision issued."""
    applicant.tell_decided(session, case, item_name, result, actor, now)
    report.report(session, case, report.DECIDED, item_name, actor, now, result=result)


def cancelled(session: Session, case: Case, item_name: str, actor: Acting | None, now: datetime) -> None:
    """撤销 by an administrator: reported where the province's table has a code for it. The reason is internal (a
    duplicate, an entry made in error) and is not sent; nor is the applicant messaged, as no decision was made."""
    report.report(session, case, report.CANCELLED, item_name, actor, now)
