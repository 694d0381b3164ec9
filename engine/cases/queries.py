"""Cases as staff look them up, for the web UI and the API alike: one case's head, and the searchable case list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, or_, select
from sqlalchemy.orm import Session

from ..deadlines import shown
from ..models import Case, OrgUnit, Role, ServiceItem, Task, User
from ..people.access import Placed, case_visible_to
from ..vocabulary import CaseStatus, TaskStatus

CASES, ITEMS, TASKS, ROLES = Case.__table__, ServiceItem.__table__, Task.__table__, Role.__table__
_VILLAGE = OrgUnit.__table__.alias("village")
# A case with its item's name and its village: what a case list line and the API's case summary show.
CASE_ROWS = select(
    CASES.c.id, CASES.c.case_number, CASES.c.item_code, ITEMS.c.name.label("item_name"), CASES.c.status,
    CASES.c.result, CASES.c.applicant_name, CASES.c.applicant_id_number, CASES.c.applicant_phone,
    CASES.c.village_id, CASES.c.town_id, CASES.c.county_id, _VILLAGE.c.code.label("village_code"),
    _VILLAGE.c.name.label("village_name"), _VILLAGE.c.level.label("village_level"), CASES.c.accepted_at,
    CASES.c.promised_date, CASES.c.promised_note, CASES.c.promised_provisional, CASES.c.completed_at,
    shown.case_card(CASES.c.id).label("card"),
).select_from(
    CASES.join(ITEMS, ITEMS.c.code == CASES.c.item_code).join(_VILLAGE, _VILLAGE.c.id == CASES.c.village_id)
)
# One case is read with the values its scripts set; lists leave them out.
CASE_BY_ID = CASE_ROWS.add_columns(CASES.c.variables).where(CASES.c.id == bindparam("case_id"))
NEWEST_FIRST = (CASES.c.accepted_at.desc(), CASES.c.id.desc())


def matching(text: str) -> ColumnElement[bool]:
    """One search box: any part of a case number or an applicant's name, or the last digits of an ID number."""
    return or_(CASES.c.case_number.contains(text.upper(), autoescape=True),
               CASES.c.applicant_name.contains(text, autoescape=True),
               CASES.c.applicant_id_number.endswith(text.upper(), autoescape=True))


def case_row(session: Session, case_id: int) -> Row[Any] | None:
    """One case's head, whoever asks; callers check `access.may_see_case` on it."""
    return session.connection().execute(CASE_BY_ID, {"case_id": case_id}).first()


def case_status(text: str) -> CaseStatus | None:
    """A status filter as given in a request; None for anything that is not a case status."""
    return next((status for status in CaseStatus if status.value == text), None)


def case_list(session: Session, user: Placed, *, search: str = "", status: CaseStatus | None = None,
              card: str = "", limit: int) -> Sequence[Row[Any]]:
    """The user's jurisdiction's cases, newest accepted first, found by case number, applicant name or ID number;
    with `card`, only those showing it (即将超期 yellow, 已超期 red)."""
    statement = CASE_ROWS.where(case_visible_to(user))
    if card:
        statement = statement.where(shown.cases_showing(card, CASES.c.id))
    if search:
        statement = statement.where(or_(CASES.c.case_number == search.upper(), CASES.c.applicant_name == search,
                                        CASES.c.applicant_id_number == search.upper()))
    if status is not None:
        statement = statement.where(CASES.c.status == status)
    return session.connection().execute(statement.order_by(*NEWEST_FIRST).limit(limit)).all()


# A case's open tasks with their post and holder, as a case summary lists them.
_TASK_ORG, _ASSIGNEE = OrgUnit.__table__.alias("task_org"), User.__table__.alias("assignee")
OPEN_TASKS = select(
    TASKS.c.id, TASKS.c.name, TASKS.c.element_id, TASKS.c.role_code, ROLES.c.name.label("role_name"),
    _TASK_ORG.c.code.label("org_code"), _TASK_ORG.c.name.label("org_name"), _TASK_ORG.c.level.label("org_level"),
    _ASSIGNEE.c.username.label("assignee_username"), _ASSIGNEE.c.display_name.label("assignee_name"),
    TASKS.c.created_at, TASKS.c.form_file, shown.STEP_DEADLINE.c.card.label("step_card"),
    shown.STEP_DEADLINE.c.due_date.label("step_due_date"), shown.STEP_DEADLINE.c.provisional.label("step_provisional"),
).select_from(
    TASKS.join(ROLES, ROLES.c.code == TASKS.c.role_code)
    .join(_TASK_ORG, _TASK_ORG.c.id == TASKS.c.org_id).outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == TASKS.c.assignee_id)
    .outerjoin(shown.STEP_DEADLINE, shown.step_deadline_on(TASKS.c.id))
).where(TASKS.c.case_id == bindparam("case_id"), TASKS.c.status == TaskStatus.OPEN).order_by(
    TASKS.c.created_at, TASKS.c.name)


def open_tasks(session: Session, case_id: int) -> Sequence[Row[Any]]:
    return session.connection().execute(OPEN_TASKS, {"case_id": case_id}).all()
