"""What the applicant is told as the case moves (受理, 补正, 办结), by SMS or e-mail as they chose at intake."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.sms_gateway import PHONE, TEMPLATES
from connectors.smtp_mail import ADDRESS

from ..audit.chain import Acting
from ..documents.issuing import issuer_name
from ..models import Case, OrgUnit, User
from ..vocabulary import CaseResult, DocumentKind
from . import outbound, queue

# Only a mainland mobile number can take an SMS (the gateway's own pattern); a landline simply gets none.
MOBILE = re.compile(PHONE)
SMS, EMAIL = "sms", "email"
CHANNELS = (SMS, EMAIL)
MAX_EMAIL_CHARS = 320


def email_problem(email: str) -> str | None:
    """What is wrong with an e-mail address the mail connector is to send to, or None."""
    if len(email) > MAX_EMAIL_CHARS or not re.match(ADDRESS, email):
        return "电子邮箱格式不正确，例如 zhangsan@example.com"
    return None


def tell_accepted(session: Session, case: Case, item_name: str, actor: Acting | None, now: datetime) -> None:
    """受理: the case number and the promised date."""
    due = case.promised_date
    if due is not None:
        _queue(session, case, "case_accepted", {
            "item": item_name, "case_number": case.case_number,
            "promised_date": f"{due.year}年{due.month}月{due.day}日"}, actor, now)


def tell_supplement(session: Session, case: Case, item_name: str, actor: Acting | None, now: datetime) -> None:
    """补正: the written notice lists everything missing; the message says where to bring it."""
    _queue(session, case, "supplement_requested", {
        "item": item_name, "case_number": case.case_number, "place": window_name(session, case)}, actor, now)


def tell_decided(session: Session, case: Case, item_name: str, result: str, actor: Acting | None,
                 now: datetime) -> None:
    """办结: the result in a word and where the written decision is collected."""
    _queue(session, case, "case_decided", {
        "item": item_name, "case_number": case.case_number, "result": RESULTS.get(result, "已办结"),
        "place": window_name(session, case)}, actor, now)


# What the message says of a case's result (a procedure's own result codes read as 已办结).
RESULTS = {CaseResult.APPROVED: "准予", CaseResult.REJECTED: "不予批准", CaseResult.COMPLETED: "已办结"}


def chosen(case: Case) -> list[str]:
    """The channels the applicant chose; cases registered before the choice existed are told by SMS."""
    return list(case.applicant_notify) if case.applicant_notify is not None else [SMS]


def person(case: Case) -> str:
    """The applicant as the daily cap counts them: one person across cases, by ID number, stored only as a hash."""
    return "applicant:" + hashlib.sha256(case.applicant_id_number.encode()).hexdigest()[:32]


def office(session: Session, case: Case) -> OrgUnit | None:
    """The org unit whose window took the application in: the village's service station or the town's centre."""
    return session.scalar(select(OrgUnit).join(User, User.org_id == OrgUnit.id).where(User.id == case.started_by_id))


def window_name(session: Session, case: Case) -> str:
    """Where the applicant came in, as the receipt names it."""
    found = office(session, case)
    return issuer_name(found, DocumentKind.RECEIPT) if found else "受理窗口"


def _queue(session: Session, case: Case, template: str, variables: dict[str, str], actor: Acting | None,
           now: datetime) -> None:
    """One message per case, template and channel (the idempotency key says so); none where the county has no
    gateway or mail server, to a landline, or beyond the applicant's daily cap."""
    out = outbound.of(session)
    if out is None:
        return
    for channel in chosen(case):
        if channel == SMS and out.sms_gateway_url and MOBILE.match(case.applicant_phone or ""):
            connector, params = "sms/gateway", {
                "gateway_url": out.sms_gateway_url, "api_key_secret": out.sms_key_secret, "template": template,
                "phone": case.applicant_phone, "variables": variables}
        elif channel == EMAIL and out.mail is not None and case.applicant_email:
            text = TEMPLATES[template]
            connector, params = "smtp/mail", {
                **out.mail.params(), "to": [case.applicant_email],
                "subject": f"{variables['item']}（办件编号{case.case_number}）", "body": text.render(variables)}
        else:
            continue
        recipient = person(case)
        if not queue.within_cap(session, recipient, out.daily_cap, now):
            queue.capped(session, case, STEPS[template][channel], actor, now)
            continue
        queue.write(session, case, None, STEPS[template][channel], connector, params,
                    f"{channel}:{case.id}:{template}", actor, now, recipient=recipient)


STEPS = {"case_accepted": {SMS: "受理短信", EMAIL: "受理邮件"},
         "supplement_requested": {SMS: "补正短信", EMAIL: "补正邮件"},
         "case_decided": {SMS: "办结短信", EMAIL: "办结邮件"}}
