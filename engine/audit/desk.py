"""The auditor's desk: cases found by number, applicant, item, village, period, handler and result, a page at a time
(the search the ledger shares), and what verifying their histories found, for the web page and the API alike."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, exists, func, select
from sqlalchemy.orm import Session

from ..cases.queries import CASE_ROWS, CASES, NEWEST_FIRST, matching
from ..deadlines import shown
from ..deadlines.clocks import day_start
from ..errors import ValidationFailed
from ..models import Case, CaseEvent, OrgUnit, ServiceItem, SystemEvent, User
from ..people.access import Placed, case_visible_to
from ..vocabulary import WITHOUT_WORKFLOW, CaseResult, CaseStatus
from . import chain, system
from .links import Finding

PAGE_SIZE = 50
# Results as the case list and the case page word them: a running case, an ended one by its result, a cancelled one.
RESULTS = ("running", CaseResult.APPROVED.value, CaseResult.REJECTED.value, CaseResult.COMPLETED.value,
           CaseStatus.CANCELLED.value, *(status.value for status in WITHOUT_WORKFLOW))
STATUSES = tuple(CaseStatus)
MAX_TEXT = 100
# How many cases `verify_everything` reads per query: few queries for a county, bounded memory.
VERIFY_BATCH = 500


@dataclass(frozen=True)
class Search:
    """What the auditor asked for; empty fields ask for nothing."""

    number: str = ""
    applicant: str = ""
    # Any part of a case number or an applicant's name, or an ID number's last digits (the ledger's one box).
    text: str = ""
    item_code: str = ""
    village_id: int | None = None
    accepted_from: date | None = None
    accepted_to: date | None = None
    handler: str = ""
    result: str = ""
    # A case status (running, completed, cancelled) and a card shown now (yellow, red): the case list's filters.
    status: str = ""
    card: str = ""
    page: int = 1

    def query(self) -> dict[str, str]:
        """The search as query arguments (without the page), so paging links keep it."""
        args = {"q": self.text, "number": self.number, "applicant": self.applicant, "item": self.item_code,
                "village": str(self.village_id or ""), "from": _iso(self.accepted_from), "to": _iso(self.accepted_to),
                "handler": self.handler, "result": self.result, "status": self.status, "card": self.card}
        return {key: value for key, value in args.items() if value}


def _iso(day: date | None) -> str:
    return day.isoformat() if day else ""


def _text(args: Mapping[str, str], name: str, label: str, problems: dict[str, list[str]]) -> str:
    value = " ".join(args.get(name, "").split())
    if len(value) > MAX_TEXT:
        problems[name] = [f"{label}不能超过 {MAX_TEXT} 个字符"]
    return value


def _day(args: Mapping[str, str], name: str, label: str, problems: dict[str, list[str]]) -> date | None:
    value = args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems[name] = [f"{label}应为 YYYY-MM-DD 格式的日期"]
        return None


def _number(args: Mapping[str, str], name: str, label: str, problems: dict[str, list[str]]) -> int | None:
    value = args.get(name, "").strip()
    if value and not (value.isdigit() and len(value) <= 9):
        problems[name] = [f"{label}参数无效"]
    return int(value) if value and name not in problems else None


def search_from(args: Mapping[str, str]) -> Search:
    """The search a query string gives (`q`, `number`, `applicant`, `item`, `village`, `from`, `to`, `handler`,
    `result`, `status`, `card`, `page`); every problem is named at once."""
    problems: dict[str, list[str]] = {}
    wanted = Search(
        number=_text(args, "number", "办件编号", problems).upper(),
        applicant=_text(args, "applicant", "申请人", problems), text=_text(args, "q", "查询内容", problems),
        item_code=_text(args, "item", "事项", problems), village_id=_number(args, "village", "村（社区）", problems),
        accepted_from=_day(args, "from", "受理起始日期", problems),
        accepted_to=_day(args, "to", "受理截止日期", problems),
        handler=_text(args, "handler", "经办人", problems), result=args.get("result", "").strip(),
        status=args.get("status", "").strip(), card=args.get("card", "").strip(),
        page=_number(args, "page", "页码", problems) or 1,
    )
    if wanted.result and wanted.result not in RESULTS:
        problems["result"] = ["办理结果应为 running（办理中）、approved（准予）、rejected（不予）、"
                              "completed（办结）或 cancelled（已撤销）"]
    if wanted.status and wanted.status not in STATUSES:
        problems["status"] = ["状态应为 running（办理中）、completed（已办结）或 cancelled（已撤销）"]
    if wanted.card and wanted.card not in shown.FILTERS:
        problems["card"] = ["警示应为 yellow（即将超期）或 red（已超期）"]
    if wanted.accepted_from and wanted.accepted_to and wanted.accepted_to < wanted.accepted_from:
        problems["to"] = ["受理截止日期不能早于起始日期"]
    if problems:
        messages = [message for texts in problems.values() for message in texts]
        raise ValidationFailed("查询条件有误：" + "；".join(messages), details=messages, fields=problems)
    return wanted


def conditions(user: Placed, wanted: Search) -> list[ColumnElement[bool]]:
    """The search as conditions on case_record alone, so the count needs no join."""
    found: list[ColumnElement[bool]] = [case_visible_to(user)]
    if wanted.text:
        found.append(matching(wanted.text))
    if wanted.number:
        found.append(Case.case_number.contains(wanted.number, autoescape=True))
    if wanted.applicant:
        found.append(Case.applicant_name.contains(wanted.applicant, autoescape=True))
    if wanted.item_code:
        found.append(Case.item_code == wanted.item_code)
    if wanted.village_id is not None:
        found.append(Case.village_id == wanted.village_id)
    if wanted.accepted_from:
        found.append(Case.accepted_at >= day_start(wanted.accepted_from))
    if wanted.accepted_to:
        found.append(Case.accepted_at < day_start(date.fromordinal(wanted.accepted_to.toordinal() + 1)))
    if wanted.handler:
        # A handler is anyone whose account acted on the case: its history names them.
        actor = select(User.id).where(User.username == wanted.handler).scalar_subquery()
        found.append(exists().where(CaseEvent.case_id == Case.id, CaseEvent.actor_id == actor))
    if wanted.status:
        found.append(Case.status == wanted.status)
    if wanted.card:
        found.append(shown.cases_showing(wanted.card, Case.id))
    if wanted.result == "running":
        found.append(Case.status == CaseStatus.RUNNING)
    elif wanted.result == CaseStatus.CANCELLED or wanted.result in WITHOUT_WORKFLOW:
        found.append(Case.status == wanted.result)
    elif wanted.result:
        found += [Case.status == CaseStatus.COMPLETED, Case.result == wanted.result]
    return found


@dataclass(frozen=True)
class Found:
    """One page of the cases found, with how many there are in all."""

    rows: Sequence[Row[Any]]
    total: int
    page: int
    pages: int


def search(session: Session, user: Placed, wanted: Search) -> Found:
    """The cases of the user's jurisdiction the search finds, newest accepted first, PAGE_SIZE to a page."""
    return page_of(session, CASE_ROWS, conditions(user, wanted), wanted.page)


def page_count(total: int) -> int:
    """How many pages of PAGE_SIZE `total` rows fill; one (empty) page for none."""
    return max(1, -(-total // PAGE_SIZE))


def page_of(session: Session, rows: Select[Any], found: list[ColumnElement[bool]], page: int) -> Found:
    """One page of `rows` (a select over case_record) meeting `found`, newest accepted first, with the total."""
    total = session.scalar(select(func.count()).select_from(Case).where(*found)) or 0
    pages = page_count(total)
    page = min(page, pages)
    # Nothing found needs no page: walking the newest-first index to its end for no row is the slowest plan there is.
    lines = session.connection().execute(rows.where(*found).order_by(*NEWEST_FIRST)
                                         .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all() if total else []
    return Found(lines, total, page, pages)


def choices(session: Session, user: Placed) -> dict[str, list[tuple[str, str]]]:
    """What the search form offers: items, the villages of the jurisdiction, and the accounts that may have acted."""
    villages = session.execute(select(OrgUnit.id, OrgUnit.name).where(
        OrgUnit.level == "village", OrgUnit.id.in_(select(CASES.c.village_id).where(case_visible_to(user))
                                                   .distinct())).order_by(OrgUnit.code)).all()
    items = session.execute(select(ServiceItem.code, ServiceItem.name).order_by(ServiceItem.code)).all()
    handlers = session.execute(select(User.username, User.display_name, OrgUnit.name).join(
        OrgUnit, OrgUnit.id == User.org_id).order_by(OrgUnit.code, User.display_name)).all()
    return {"items": [(row.code, row.name) for row in items],
            "villages": [(str(row.id), row.name) for row in villages],
            "handlers": [(row.username, f"{row.display_name}（{row.name}）") for row in handlers]}


# -- verifying --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """One case's chain as verified: intact with its length and head, or its first finding (and how many)."""

    case_id: int
    case_number: str
    event_count: int
    last_hash: str
    findings: list[Finding]

    @property
    def intact(self) -> bool:
        return not self.findings

    @property
    def first(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def verify_case(session: Session, case: Case) -> Verified:
    return Verified(case.id, case.case_number, case.event_count, case.last_event_hash,
                    chain.verify(session, case.id))


@dataclass(frozen=True)
class Everything:
    """全部核验: every case the asker sees, the broken ones with their first finding, and the system chain."""

    checked: int
    broken: list[chain.Checked]
    system_count: int
    system_findings: list[Finding]
    seconds: float

    @property
    def intact(self) -> int:
        return self.checked - len(self.broken)


def verify_everything(session: Session, user: Placed) -> Everything:
    """Every case of the user's jurisdiction verified in batches, then the system chain."""
    started = time.perf_counter()
    checked, broken = 0, []
    for result in chain.verify_all(session, VERIFY_BATCH, within=case_visible_to(user)):
        checked += 1
        if result.findings:
            broken.append(result)
    system_findings = system.verify(session)
    system_count = session.scalar(select(func.count()).select_from(SystemEvent)) or 0
    return Everything(checked, broken, system_count, system_findings, time.perf_counter() - started)
