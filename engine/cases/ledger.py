"""台账: every case of the user's jurisdiction as one line (who, what, where, handled by whom, when, on time or not),
found with the auditor's desk search, a page at a time or all of them for an export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.orm import Session

from ..audit import desk, privacy
from ..audit.desk import Found, Search
from ..deadlines.promised import DueState, due_state
from ..idcard import mask_id_number
from ..models import Deadline, Rating, Task, User
from ..people.access import Placed, Staff
from ..vocabulary import CaseStatus
from .queries import CASE_ROWS, CASES, NEWEST_FIRST

TASKS, USERS, DEADLINES = Task.__table__, User.__table__, Deadline.__table__
_PERSON, _ACCEPTOR = USERS.alias("step_person"), USERS.alias("acceptor")
# Who handles the case: the person on its latest step that has one (who holds it now, or who did it last), else
# the clerk who accepted it.
_STEP_PERSON = select(_PERSON.c.display_name).select_from(TASKS.join(
    _PERSON, _PERSON.c.id == func.coalesce(TASKS.c.completed_by_id, TASKS.c.assignee_id),
)).where(TASKS.c.case_id == CASES.c.id).order_by(TASKS.c.created_at.desc(), TASKS.c.id.desc()).limit(1)
HANDLER = func.coalesce(_STEP_PERSON.scalar_subquery(), select(_ACCEPTOR.c.display_name).where(
    _ACCEPTOR.c.id == CASES.c.started_by_id).scalar_subquery())
# Set when the case clock closed: finished after its promised date (逾期办结, `clocks.finish_case_clock`).
LATE = select(DEADLINES.c.late).where(DEADLINES.c.case_id == CASES.c.id, DEADLINES.c.task_id.is_(None)) \
    .scalar_subquery()
# 好差评: at most one rating per case.
RATING = select(Rating.level).where(Rating.case_id == CASES.c.id).scalar_subquery()
LEDGER_ROWS = CASE_ROWS.add_columns(HANDLER.label("handler_name"), LATE.label("late"), RATING.label("rating"))
# How many lines an export reads per query: a county's ledger in bounded memory.
EXPORT_BATCH = 500


class Timeliness(StrEnum):
    """按时 or not: a finished case by its closed clock, a running one by its promised date today."""

    ON_TIME = "on_time"
    LATE = "late"
    RUNNING = "running"
    OVERDUE = "overdue"
    NONE = ""


@dataclass(frozen=True)
class Line:
    """One ledger line; `id_number` and `phone` masked unless the reader handles the case (see `every_line`)."""

    case_id: int
    case_number: str
    applicant: str
    id_number: str
    phone: str
    item_code: str
    item_name: str
    village: str
    handler: str
    accepted_at: datetime | None
    promised_date: date | None
    promised_provisional: bool
    # Why there is no promised date yet (the clock waits for the acceptance step, or no calendar to count on).
    promised_note: str | None
    completed_at: datetime | None
    status: str
    result: str | None
    timeliness: Timeliness
    card: str
    rating: str | None


def timeliness(status: str, late: bool | None, promised_date: date | None) -> Timeliness:
    if status == CaseStatus.COMPLETED:
        return Timeliness.NONE if late is None else Timeliness.LATE if late else Timeliness.ON_TIME
    if status == CaseStatus.RUNNING:
        return Timeliness.OVERDUE if due_state(promised_date) == DueState.OVERDUE else Timeliness.RUNNING
    return Timeliness.NONE


def line(row: Row[Any], clear: bool = False) -> Line:
    id_number, phone = row.applicant_id_number or "", row.applicant_phone or ""
    if not clear:
        id_number, phone = mask_id_number(id_number), privacy.mask_phone(phone)
    return Line(row.id, row.case_number, row.applicant_name, id_number, phone, row.item_code, row.item_name,
                row.village_name, row.handler_name or "", row.accepted_at, row.promised_date,
                bool(row.promised_provisional), row.promised_note, row.completed_at, row.status, row.result,
                timeliness(row.status, row.late, row.promised_date), row.card, row.rating)


@dataclass(frozen=True)
class Page:
    lines: list[Line]
    total: int
    page: int
    pages: int


def page(session: Session, user: Placed, wanted: Search) -> Page:
    """The ledger's lines the search finds, newest accepted first, `desk.PAGE_SIZE` to a page. A list on screen is
    masked for everyone (the case page shows the numbers to those who handle it)."""
    found: Found = desk.page_of(session, LEDGER_ROWS, desk.conditions(user, wanted), wanted.page)
    return Page([line(row) for row in found.rows], found.total, found.page, found.pages)


def every_line(session: Session, user: Staff, wanted: Search) -> Iterator[Line]:
    """Every line the search finds (the page ignored), newest accepted first, read in batches by keyset.

    An export is taken away to call applicants back: it carries the ID and phone numbers in clear on the lines of
    cases the user handles, as the case page shows them to that user (`privacy.handled_among`), masked on the rest.
    """
    found = desk.conditions(user, wanted)
    after: tuple[datetime, int] | None = None
    while True:
        statement = LEDGER_ROWS.where(*found)
        if after is not None:
            # Newest first: the next batch is strictly older, the id breaking ties of one instant.
            statement = statement.where(or_(CASES.c.accepted_at < after[0],
                                            and_(CASES.c.accepted_at == after[0], CASES.c.id < after[1])))
        rows = session.connection().execute(statement.order_by(*NEWEST_FIRST).limit(EXPORT_BATCH)).all()
        handled = privacy.handled_among(session, user, [row.id for row in rows])
        yield from (line(row, row.id in handled) for row in rows)
        if len(rows) < EXPORT_BATCH:
            return
        after = (rows[-1].accepted_at, rows[-1].id)
