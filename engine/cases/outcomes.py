"""What the window decides: accept, the one-time notice (补正), take in to examine (收件待审), or refuse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..documents import issuing as documents
from ..errors import Conflict, ValidationFailed
from ..models import Case, CaseIntake
from ..outbox import milestones
from ..vocabulary import CaseStatus, DocumentKind, EventKind
from . import checklist
from .reconcile import Step, write_case

REASONS_LIMIT = 1000
# Where the receipt tells the applicant to follow the case (the public query page: case number + ID's last four).
QUERY_PATH = "/query"
WAITING_NOTE = "受理后起算"
REFUSED_NOTE = "不予受理，无承诺办结日期"
# The clock columns of a case not yet accepted: nothing counts against the applicant's deadline.
WAITING: dict[str, Any] = {"clock_started_at": None, "promised_date": None, "promised_provisional": False,
                           "promised_note": WAITING_NOTE}


class Outcome(StrEnum):
    """What the window does with an application as the checklist stands."""

    ACCEPT = "accept"
    # 一次性告知: every missing required material on one notice; the case waits in 补正.
    SUPPLEMENT = "supplement"
    # 收件待审: taken in, to be examined later; 行政许可法 §32 runs from now.
    RECEIVE = "receive"
    REFUSE = "refuse"


STATUS = {Outcome.SUPPLEMENT: CaseStatus.SUPPLEMENT, Outcome.RECEIVE: CaseStatus.RECEIVED,
          Outcome.REFUSE: CaseStatus.NOT_ACCEPTED}


@dataclass(frozen=True)
class Window:
    """What the clerk decided at the window besides the application: the ticks, the outcome and its words."""

    materials: Any = None
    outcome: Outcome = Outcome.ACCEPT
    # 一次性告知: a note per missing material (what to bring, how it must look).
    notes: Any = None
    # 不予受理: the reasons and the rule they rest on.
    reasons: str = ""
    basis: str = ""
    # The item allows a repeat application with a warning, and the clerk has seen it.
    confirm_repeat: bool = False

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Window:
        """From a request body's window fields; an unknown outcome is refused by name."""
        outcome = str(raw.get("outcome") or Outcome.ACCEPT)
        if outcome not in {o.value for o in Outcome}:
            raise ValidationFailed(f"受理结果“{outcome}”无效，应为 accept、supplement、receive 或 refuse")
        return cls(raw.get("materials"), Outcome(outcome), raw.get("notes"), str(raw.get("reasons") or ""),
                   str(raw.get("basis") or ""), raw.get("confirm_repeat") is True)


def check(window: Window, rows: list[dict[str, Any]]) -> None:
    """The outcome fits the checklist: only a complete application is accepted, only an incomplete one told to 补正."""
    missing = checklist.missing(rows)
    if window.outcome == Outcome.ACCEPT and missing:
        raise ValidationFailed(f"材料不齐全，不能受理：缺少{'、'.join(missing)}。请出具一次性告知书（补正），"
                               "或收件后再审查", details=[f"缺少{name}" for name in missing])
    if window.outcome == Outcome.SUPPLEMENT and not missing:
        raise ValidationFailed("必需材料已齐全，无需补正，请直接受理")
    if window.outcome == Outcome.REFUSE:
        blank = {key: [text] for key, text in (("reasons", "请填写不予受理的理由"), ("basis", "请填写不予受理的依据"))
                 if not getattr(window, key).strip()}
        if blank:
            raise ValidationFailed("不予受理须写明理由和依据", details=[t for texts in blank.values() for t in texts],
                                   fields=blank)
        if len(window.reasons) > REASONS_LIMIT or len(window.basis) > REASONS_LIMIT:
            raise ValidationFailed(f"不予受理的理由和依据各不能超过 {REASONS_LIMIT} 字")


def apply(session: Session, case: Case, window: Window, rows: list[dict[str, Any]], actor: Acting,
          now: datetime, received_at: datetime, item_name: str = "") -> Step:
    """The outcomes that leave the workflow unstarted, on a case just registered or waiting at the window; the
    applicant of a 补正 is also told by the channels they chose, under `item_name`."""
    if window.outcome == Outcome.SUPPLEMENT:
        notice(session, case, rows, window.notes, actor, now, received_at)
        milestones.supplement(session, case, item_name, actor, now)
    elif window.outcome == Outcome.REFUSE:
        refuse(session, case, window, actor, now, item_name)
    return Step(case, [])


def notice(session: Session, case: Case, rows: list[dict[str, Any]], notes: Any, actor: Acting,
           now: datetime, received_at: datetime) -> None:
    """一次性告知: every missing required material, listed once; the case waits in 补正, its clock not started."""
    missing = checklist.notice_items(rows, notes)
    session.execute(update(CaseIntake).where(CaseIntake.case_id == case.id).values(
        materials=rows, notice_at=now, notice_missing=missing))
    write_case(session, case, status=CaseStatus.SUPPLEMENT)
    received = checklist.received(rows)
    chain.append(session, case, EventKind.SUPPLEMENT_REQUESTED, actor, now, step="一次性告知",
                 after={"missing": missing, "received": received, "materials": rows})
    documents.issue(session, case, DocumentKind.SUPPLEMENT_NOTICE, {
        "missing": missing, "received": received, "received_at": received_at.isoformat()}, actor, now)


def refuse(session: Session, case: Case, window: Window, actor: Acting, now: datetime, item_name: str = "") -> None:
    """不予受理: the case ends with the reasons, and the refusal register lists it (and the upstream platform is
    told, under `item_name`)."""
    session.execute(update(CaseIntake).where(CaseIntake.case_id == case.id).values(
        refused_at=now, refused_by_id=actor.id, refusal_reasons=window.reasons.strip(),
        refusal_basis=window.basis.strip()))
    write_case(session, case, status=CaseStatus.NOT_ACCEPTED, completed_at=now, revision=case.revision + 1,
               promised_note=REFUSED_NOTE)
    reasons = {"reasons": window.reasons.strip(), "basis": window.basis.strip()}
    chain.append(session, case, EventKind.INTAKE_REFUSED, actor, now, step="不予受理", after=reasons)
    documents.issue(session, case, DocumentKind.INTAKE_REFUSAL, reasons, actor, now)
    milestones.refused(session, case, item_name, reasons["reasons"], actor, now)


def receipt(session: Session, case: Case, rows: list[dict[str, Any]], actor: Acting | None, now: datetime) -> None:
    """收件回执单 on 受理: what was taken in, the promised date (预计 when provisional) and where to follow the case."""
    documents.issue(session, case, DocumentKind.RECEIPT, {
        "materials": checklist.received(rows),
        "promised_date": case.promised_date.isoformat() if case.promised_date else None,
        "promised_provisional": bool(case.promised_provisional), "query_url": QUERY_PATH}, actor, now)


def noticed_already(intake: CaseIntake) -> Conflict:
    when = intake.notice_at.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d") if intake.notice_at else ""
    return Conflict(f"一次性告知书已于 {when} 出具，不能再次告知补正（须一次性告知全部材料）；"
                    "材料仍不齐全的，可不予受理")
