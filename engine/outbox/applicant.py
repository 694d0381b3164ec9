"""What the applicant is told by SMS as the case moves (受理 for now), queued in the outbox with the case's change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..audit import chain
from ..audit.chain import Acting
from ..db import queue_write
from ..models import Case, OutboxMessage
from ..vocabulary import EventKind, OutboxStatus

INSERT = insert(OutboxMessage.__table__).inline()
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
    """受理: the case number and the promised date, to the applicant's mobile (once per case: the key says so)."""
    if sms is None or case.promised_date is None or not MOBILE.match(case.applicant_phone or ""):
        return
    due = case.promised_date
    params = {"gateway_url": sms.gateway_url, "api_key_secret": sms.key_secret, "template": "case_accepted",
              "phone": case.applicant_phone, "variables": {
                  "item": item_name, "case_number": case.case_number,
                  "promised_date": f"{due.year}年{due.month}月{due.day}日"}}
    queue_write(session, INSERT, {
        "case_id": case.id, "task_id": None, "step": "受理短信", "connector": CONNECTOR, "params": params,
        "idempotency_key": f"sms:{case.id}:case_accepted", "status": OutboxStatus.PENDING, "attempts": 0,
        "next_try_at": now, "claimed_until": None, "last_error": None, "result": None, "created_at": now,
        "sent_at": None,
    })
    chain.append(session, case, EventKind.SERVICE_CALL_QUEUED, actor, now, step="受理短信",
                 after={"connector": CONNECTOR, "parameters": sorted(params)})
