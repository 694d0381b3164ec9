"""办件信息上报: one report per case and milestone, coded by the province's table when queued, sent by the outbox."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from .. import clock
from ..audit.chain import Acting
from ..documents.issuing import issuer_name
from ..models import Case
from ..vocabulary import DocumentKind
from . import applicant, outbound, queue
from .codetable import CodeTable

CONNECTOR = "platform/case_report"
ACCEPTED, SUPPLEMENT, REFUSED, DECIDED, CANCELLED = "accepted", "supplement", "refused", "decided", "cancelled"
STEPS = {ACCEPTED: "办件信息上报（受理）", SUPPLEMENT: "办件信息上报（补正）", REFUSED: "办件信息上报（不予受理）",
         DECIDED: "办件信息上报（办结）", CANCELLED: "办件信息上报（撤销）"}


def report(session: Session, case: Case, milestone: str, item_name: str, actor: Acting | None, now: datetime, *,
           result: str | None = None, reasons: str | None = None) -> None:
    """Queue the case's report at `milestone` in the transaction that reached it, once (the idempotency key says
    so), bound to the case so a failure follows the case's incident and retry path; nothing where no platform is
    configured, and no 受理 before the case clock starts (a diagram's acceptance step is 受理 then)."""
    out = outbound.of(session)
    if out is None or out.case_report_url is None or out.case_report_codes is None:
        return
    if milestone == ACCEPTED and case.clock_started_at is None:
        return
    if milestone == CANCELLED and CANCELLED not in out.case_report_codes.states:
        return
    params: dict[str, object] = {"url": out.case_report_url,
                                 "record": record(session, case, out.case_report_codes, milestone, item_name, now,
                                                  result, reasons)}
    if out.case_report_key_secret:
        params["bearer_secret"] = out.case_report_key_secret
    queue.write(session, case, None, STEPS[milestone], CONNECTOR, params, f"report:{case.id}:{milestone}", actor,
                now)


def record(session: Session, case: Case, table: CodeTable, milestone: str, item_name: str, now: datetime,
           result: str | None, reasons: str | None) -> dict[str, str]:
    """The report as the platform reads it: only the fields the table maps, under its names, with its codes."""
    wanted = table.fields
    ended = milestone in (DECIDED, REFUSED, CANCELLED)
    values: dict[str, str | None] = {
        "case_number": case.case_number, "item_code": case.item_code, "item_name": item_name or case.item_code,
        "applicant_name": case.applicant_name, "applicant_id_number": case.applicant_id_number,
        "applicant_phone": case.applicant_phone,
        "accepted_at": _time(table, case.clock_started_at), "promised_date": _date(table, case.promised_date),
        "decided_at": _time(table, now) if ended else None, "refusal_reasons": reasons,
        "state": table.states.get(DECIDED, table.states[ACCEPTED]) if milestone == DECIDED
        else table.states[milestone],
        "result": table.results.get(result or "", table.results["completed"]) if milestone == DECIDED else None,
        "state_at": _time(table, now),
    }
    if "organ" in wanted or "organ_code" in wanted:
        office = applicant.office(session, case)
        values["organ"] = issuer_name(office, DocumentKind.RECEIPT) if office else None
        values["organ_code"] = office.code if office else None
    return {wanted[name]: value for name, value in values.items() if name in wanted and value}


def _time(table: CodeTable, moment: datetime | None) -> str | None:
    return moment.astimezone(clock.SHANGHAI).strftime(table.time_format) if moment is not None else None


def _date(table: CodeTable, day: date | None) -> str | None:
    return day.strftime(table.date_format) if day is not None else None
