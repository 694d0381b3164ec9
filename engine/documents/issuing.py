"""Issuing a document: its number in its office's yearly series, the stored facts and the history event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .. import clock
from ..audit import chain
from ..audit.chain import Acting
from ..errors import ValidationFailed
from ..models import Case, Document, DocumentSequence, OrgUnit
from ..vocabulary import DocumentKind, EventKind

DOCUMENTS, SEQUENCES = Document.__table__, DocumentSequence.__table__
INSERT_DOCUMENT = insert(DOCUMENTS).returning(DOCUMENTS.c.id)

TITLES = {
    DocumentKind.RECEIPT: "收件回执单",
    DocumentKind.SUPPLEMENT_NOTICE: "补正材料一次性告知书",
    DocumentKind.INTAKE_REFUSAL: "不予受理通知书",
    DocumentKind.APPROVAL_DECISION: "准予批准决定书",
    DocumentKind.REFUSAL_DECISION: "不予批准决定书",
}
# The word of each series in a number (清水镇便民受〔2026〕12号): window documents are the service centre's,
# decisions the authority's own.
SERIES = {
    DocumentKind.RECEIPT: "便民受",
    DocumentKind.SUPPLEMENT_NOTICE: "便民补",
    DocumentKind.INTAKE_REFUSAL: "便民不受",
    DocumentKind.APPROVAL_DECISION: "准",
    DocumentKind.REFUSAL_DECISION: "不准",
}
# A refusal's rights (engine.documents.decisions.rights): 行政复议 and 行政诉讼, each with its body, time and basis.
RIGHTS_KEYS = frozenset({"review_days", "review_body", "review_basis",
                         "litigation_months", "court", "litigation_basis"})
# An end event may name the document its result is given in (`intake_refusal` where a window refuses at 受理);
# otherwise the result says: approved, a decision to approve; rejected, a refusal.
DOCUMENT_PROPERTY = "caseDocument"
# A user task whose completion grants or refuses what the case asks (`caseDecision` = approved or rejected) issues
# the decision then, though the case runs on (宅基地: 放线 and 竣工验收 after the 批准书).
DECISION_PROPERTY = "caseDecision"
STEP_DECISIONS = ("approved", "rejected")
ENDING_KINDS = frozenset({DocumentKind.INTAKE_REFUSAL, DocumentKind.APPROVAL_DECISION, DocumentKind.REFUSAL_DECISION})
WINDOW_KINDS = frozenset({DocumentKind.RECEIPT, DocumentKind.SUPPLEMENT_NOTICE, DocumentKind.INTAKE_REFUSAL})


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _named_rows(value: Any, *keys: str) -> bool:
    return isinstance(value, list) and all(isinstance(row, dict) and _text(row.get("name")) and
                                           all(key in row for key in keys) for row in value)


# What each kind's facts must hold: the contract the intake, supplement and decision code write to.
REQUIRED: dict[DocumentKind, dict[str, Callable[[Any], bool]]] = {
    DocumentKind.RECEIPT: {
        "materials": lambda v: _named_rows(v, "copies", "original"),
        "promised_date": lambda v: v is None or _text(v), "promised_provisional": lambda v: isinstance(v, bool),
        "query_url": _text,
    },
    DocumentKind.SUPPLEMENT_NOTICE: {
        "missing": lambda v: _named_rows(v, "note") and bool(v), "received": lambda v: _named_rows(v, "copies"),
        "received_at": _text,
    },
    DocumentKind.INTAKE_REFUSAL: {"reasons": _text, "basis": _text},
    DocumentKind.APPROVAL_DECISION: {"reasons": _text, "decided_by_post": _text},
    DocumentKind.REFUSAL_DECISION: {
        "reasons": _text, "decided_by_post": _text,
        "rights": lambda v: isinstance(v, dict) and v.keys() >= RIGHTS_KEYS,
    },
}


def canonical_facts(facts: dict[str, Any]) -> str:
    """The facts as the digest covers them: sorted keys, no spaces, Chinese kept as is."""
    return json.dumps(facts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def facts_digest(facts: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_facts(facts).encode("utf-8")).hexdigest()


def check_facts(kind: DocumentKind, facts: dict[str, Any]) -> None:
    """ValidationFailed naming every fact that is missing or malformed for this kind."""
    bad = [key for key, ok in REQUIRED[kind].items() if key not in facts or not ok(facts[key])]
    if bad:
        raise ValidationFailed(f"{TITLES[kind]}的内容不完整：" + "、".join(bad),
                               fields={key: ["缺少或格式不对"] for key in bad})


def _department(office: OrgUnit, kind: DocumentKind, department: str | None) -> str | None:
    """The county department deciding (县民政局 → 青山县民政局), when a county post decides an item that names one."""
    if office.level == "county" and department and kind not in WINDOW_KINDS:
        return office.name + department.removeprefix("县")
    return None


def issuer_name(office: OrgUnit, kind: DocumentKind, department: str | None = None) -> str:
    """The authority named under a document: the office's service centre for window documents; for decisions the
    town's people's government, or at county level the department the item names."""
    if kind in WINDOW_KINDS:
        return f"{office.name}便民服务{'站' if office.level == 'village' else '中心'}"
    if named := _department(office, kind, department):
        return named
    if office.level == "village":
        return f"{office.name}村民委员会"
    return f"{office.name}人民政府"


def _next_number(session: Session, prefix: str, year: int) -> int:
    """The next number of a series; the upsert is atomic, so two offices' clerks never share one."""
    insert_ = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert  # type: ignore[union-attr]
    stmt = insert_(SEQUENCES).values(prefix=prefix, year=year, last=1).on_conflict_do_update(
        index_elements=["prefix", "year"], set_={"last": SEQUENCES.c.last + 1}).returning(SEQUENCES.c.last)
    return session.connection().execute(stmt).scalar_one()


def issue(session: Session, case: Case, kind: DocumentKind, facts: dict[str, Any], actor: Acting | None,
          now: datetime, *, office_id: int | None = None, title: str | None = None,
          department: str | None = None) -> Document:
    """Store a document of `case` and append DOCUMENT_ISSUED; the caller holds the case lock.

    The issuing office is `office_id`, else the actor's post's org unit, else the case's town (the system issues
    for the town). `department` names the county department for a county-level decision (item.toml).
    """
    kind = DocumentKind(kind)
    check_facts(kind, facts)
    office = session.get(OrgUnit, office_id or getattr(actor, "org_id", None) or case.town_id)
    if office is None:
        raise ValidationFailed("签发单位不存在")
    year = now.astimezone(clock.SHANGHAI).year
    prefix = (_department(office, kind, department) or office.name) + SERIES[kind]
    number = f"{prefix}〔{year}〕{_next_number(session, prefix, year)}号"
    digest = facts_digest(facts)
    values = {
        "case_id": case.id, "kind": str(kind), "number": number, "title": title or TITLES[kind],
        "issuer": issuer_name(office, kind, department), "office_id": office.id, "facts": facts,
        "facts_sha256": digest, "issued_at": now, "issued_by_id": actor.id if actor else None,
        "issued_by_name": actor.display_name if actor else "系统", "pdf_sha256": None,
    }
    document = Document(id=session.connection().execute(INSERT_DOCUMENT, values).scalar_one(), **values)
    chain.append(session, case, EventKind.DOCUMENT_ISSUED, actor, now, step=values["title"], after={
        "document_id": document.id, "kind": str(kind), "number": number, "facts_sha256": digest})
    return document


def of_case(session: Session, case_id: int) -> list[Document]:
    """A case's documents in the order they were issued."""
    return list(session.scalars(select(Document).where(Document.case_id == case_id).order_by(Document.id)))
