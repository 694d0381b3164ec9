"""What the applicant is told by SMS as the case moves (受理, 补正, 办结), queued in the outbox with the change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.chain import Acting
from ..documents.issuing import issuer_name
from ..models import Case, OrgUnit, User
from ..vocabulary import CaseResult, DocumentKind
from . import queue

# Only a mainland mobile number can take an SMS; a landline given as the contact simply gets none.
MOBILE = re.compile(r"^1[3-9]\d{9}$")
CONNECTOR = "sms/gateway"


@dataclass(frozen=True)
class ApplicantSms:
    """The county's SMS gateway (BIANMIN_SMS_GATEWAY_URL) and the name of the secret holding its API key."""

    gateway_url: str
    key_secret: str


def tell_accepted(sms: ApplicantSms | None, session: Session, case: Case, item_name: str, actor: Acting | None,
                  now: datetime) -> None:
    """受理: the case number and the promised date."""
    due = case.promised_date
    if due is not None:
        _queue(sms, session, case, "case_accepted", {
            "item": item_name, "case_number": case.case_number,
            "promised_date": f"{due.year}年{due.month}月{due.day}日"}, actor, now)


def tell_supplement(sms: ApplicantSms | None, session: Session, case: Case, item_name: str, actor: Acting | None,
                    now: datetime) -> None:
    """补正: the written notice lists everything missing; the SMS says where to bring it."""
    _queue(sms, session, case, "supplement_requested", {
        "item": item_name, "case_number": case.case_number, "place": _window(session, case)}, actor, now)


def tell_decided(sms: ApplicantSms | None, session: Session, case: Case, item_name: str, result: str,
                 actor: Acting | None, now: datetime) -> None:
    """办结: the result in a word and where the written decision is collected."""
    _queue(sms, session, case, "case_decided", {
        "item": item_name, "case_number": case.case_number, "result": RESULTS.get(result, "已办结"),
        "place": _window(session, case)}, actor, now)


# What the SMS says of a case's result (a procedure's own result codes read as 已办结).
RESULTS = {CaseResult.APPROVED: "准予", CaseResult.REJECTED: "不予批准", CaseResult.COMPLETED: "已办结"}


def _window(session: Session, case: Case) -> str:
    """Where the applicant came in, as the receipt names it: the village's service station or the town's centre."""
    office = session.scalar(select(OrgUnit).join(User, User.org_id == OrgUnit.id)
                            .where(User.id == case.started_by_id))
    return issuer_name(office, DocumentKind.RECEIPT) if office else "受理窗口"


def _queue(sms: ApplicantSms | None, session: Session, case: Case, template: str, variables: dict[str, str],
           actor: Acting | None, now: datetime) -> None:
    """One SMS per case and template (the idempotency key says so); none without a gateway or to a landline."""
    if sms is None or not MOBILE.match(case.applicant_phone or ""):
        return
    params = {"gateway_url": sms.gateway_url, "api_key_secret": sms.key_secret, "template": template,
              "phone": case.applicant_phone, "variables": variables}
    queue.write(session, case, None, STEPS[template], CONNECTOR, params, f"sms:{case.id}:{template}", actor, now)


STEPS = {"case_accepted": "受理短信", "supplement_requested": "补正短信", "case_decided": "办结短信"}
