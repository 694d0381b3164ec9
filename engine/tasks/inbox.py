"""The inboxes (my tasks; my post's unclaimed tasks; the posts I stand in for; what I delegated) as one query each,
for the web UI and the API alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Row, and_, bindparam, func, not_, or_, select
from sqlalchemy.orm import Session

from ..cases.queries import matching
from ..deadlines import shown
from ..models import Case, CaseEvent, OrgUnit, ServiceItem, Task, User
from ..people.access import Staff
from ..vocabulary import EventKind, TaskStatus

SCOPES = ("mine", "post", "cover", "delegated")
SORTS = ("due", "arrived", "card")
# "" (every task) or one card colour: 即将超期 (yellow), 已超期 (red).
CARD_FILTERS = ("", *shown.FILTERS)
TASKS, CASES, ITEMS, USERS = Task.__table__, Case.__table__, ServiceItem.__table__, User.__table__
EVENTS = CaseEvent.__table__
_HOLDER = USERS.alias("holder")
# The user, and (unless the user is away too) the away colleagues on the same post whose tasks the user covers.
_COVERED = select(_HOLDER.c.id).where(or_(_HOLDER.c.id == bindparam("user_id"), and_(
    not_(bindparam("user_away", type_=Boolean)), _HOLDER.c.away.is_(True), _HOLDER.c.id != bindparam("user_id"),
    _HOLDER.c.role_code == bindparam("role_code"), _HOLDER.c.org_id == bindparam("org_id"),
)))
# A post whose away holder named the user their substitute (代岗): the user works all its open tasks.
_STOOD_IN = select(_HOLDER.c.id).where(
    _HOLDER.c.substitute_id == bindparam("user_id"), _HOLDER.c.away.is_(True), _HOLDER.c.active.is_(True),
    _HOLDER.c.role_code == TASKS.c.role_code, _HOLDER.c.org_id == TASKS.c.org_id,
).exists()
# The inboxes as conditions on the task table, built once; `_params(user)` fills them in.
INBOX: dict[str, ColumnElement[bool]] = {
    # Open tasks claimed by the user, plus those of away colleagues on the same post. Written as one
    # IN over the few covered holders (not an OR of the two), so each holder's tasks are read from
    # the claimed-task index; the IS NOT NULL lets the database match that partial index. A task delegated
    # to an away colleague (委派) stays the delegate's: the one who delegated it takes it back.
    "mine": and_(TASKS.c.status == TaskStatus.OPEN, TASKS.c.assignee_id.is_not(None),
                 TASKS.c.assignee_id.in_(_COVERED), or_(
                     TASKS.c.assignee_id == bindparam("user_id"),
                     and_(TASKS.c.role_code == bindparam("role_code"), TASKS.c.org_id == bindparam("org_id"),
                          TASKS.c.delegated_by_id.is_(None)))),
    # Open, unclaimed tasks of the user's post: anyone on the post may claim them.
    "post": and_(TASKS.c.status == TaskStatus.OPEN, TASKS.c.role_code == bindparam("role_code"),
                 TASKS.c.org_id == bindparam("org_id"), TASKS.c.assignee_id.is_(None)),
    # Open tasks, claimed or not, of the posts the user stands in for (see `access.needs_substitute`).
    "cover": and_(TASKS.c.status == TaskStatus.OPEN, not_(bindparam("user_away", type_=Boolean)), _STOOD_IN),
    # 委派中: open tasks the user delegated that are still with the colleague (answering or 收回委派 clears
    # `delegated_by_id`). The IS NOT NULL matches the partial index of delegated tasks.
    "delegated": and_(TASKS.c.status == TaskStatus.OPEN, TASKS.c.delegated_by_id.is_not(None),
                      TASKS.c.delegated_by_id == bindparam("user_id")),
}

_VILLAGE, _ASSIGNEE = OrgUnit.__table__.alias("village"), USERS.alias("assignee")
# A task with what an inbox line shows of its case; also how one task is read for the API.
TASK_ROWS = select(
    TASKS.c.id, TASKS.c.name, TASKS.c.element_id, TASKS.c.role_code, TASKS.c.org_id, TASKS.c.status,
    TASKS.c.created_at, TASKS.c.form_file, TASKS.c.ui_form_file, TASKS.c.assignee_id,
    TASKS.c.arrival, TASKS.c.arrival_note, TASKS.c.signing_for, TASKS.c.sign_position, TASKS.c.delegated_by_id,
    TASKS.c.completed_by_id,
    CASES.c.id.label("case_id"), CASES.c.case_number, CASES.c.item_code, ITEMS.c.name.label("item_name"),
    CASES.c.applicant_name, CASES.c.applicant_id_number, CASES.c.promised_date, CASES.c.promised_note,
    CASES.c.promised_provisional, CASES.c.village_id, CASES.c.town_id, CASES.c.county_id, CASES.c.version_id,
    _VILLAGE.c.code.label("village_code"), _VILLAGE.c.name.label("village_name"),
    _VILLAGE.c.level.label("village_level"), _ASSIGNEE.c.username.label("assignee_username"),
    _ASSIGNEE.c.display_name.label("assignee_name"), _ASSIGNEE.c.away.label("assignee_away"),
    shown.TASK_CARD.label("card"), shown.STEP_DEADLINE.c.due_date.label("step_due_date"),
).select_from(
    TASKS.join(CASES, CASES.c.id == TASKS.c.case_id).join(ITEMS, ITEMS.c.code == CASES.c.item_code)
    .join(_VILLAGE, _VILLAGE.c.id == CASES.c.village_id).outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == TASKS.c.assignee_id)
    .outerjoin(shown.STEP_DEADLINE, shown.step_deadline_on(TASKS.c.id))
    .outerjoin(shown.CASE_DEADLINE, shown.case_deadline_on(CASES.c.id))
)
TASK_BY_ID = TASK_ROWS.where(TASKS.c.id == bindparam("task_id"))
# When the task was last handed to the colleague: its latest 委派 event, among its own case's events (a recall is
# one too, but a recalled task is no longer delegated). Read for the few delegated lines only.
DELEGATED_AT = select(func.max(EVENTS.c.at)).where(
    EVENTS.c.case_id == TASKS.c.case_id, EVENTS.c.task_id == TASKS.c.id, EVENTS.c.kind == EventKind.TASK_DELEGATED,
).scalar_subquery().label("delegated_at")
# What a scope's lines show beyond an inbox line: the 委派中 list says when each task was delegated.
_SCOPE_ROWS = {"delegated": TASK_ROWS.add_columns(DELEGATED_AT)}


def _order(scope: str, sort: str, descending: bool) -> list[Any]:
    if sort == "card":
        # Red, then yellow, then the rest (reversed: the rest first), each soonest promised date first. Sorted in
        # the database over the inbox's rows; with the 即将超期/已超期 filter those are only the carded ones.
        rank = shown.TASK_CARD_RANK.desc() if descending else shown.TASK_CARD_RANK
        return [rank, TASKS.c.promised_date.asc().nulls_last(), TASKS.c.created_at, TASKS.c.id]
    if sort == "arrived" and scope == "delegated":
        # The delegator's few tasks in the order they handed them on, sorted in the database.
        return [DELEGATED_AT.desc() if descending else DELEGATED_AT.asc(), TASKS.c.id]
    if sort == "arrived":
        # Both columns turn together, so the arrival index serves either direction.
        return [TASKS.c.created_at.desc(), TASKS.c.id.desc()] if descending else [TASKS.c.created_at, TASKS.c.id]
    # Cases without a promised date (missing holiday data) go last either way. The task's copy of the date
    # is what the inbox indexes order by, so the first page is read from the index without a sort.
    due = TASKS.c.promised_date.desc() if descending else TASKS.c.promised_date.asc()
    return [due.nulls_last(), TASKS.c.created_at, TASKS.c.id]


def _carded(condition: ColumnElement[bool], card: str) -> ColumnElement[bool]:
    return and_(condition, shown.tasks_showing(card)) if card else condition


INBOX_ROWS = {
    (scope, sort, descending, card): _SCOPE_ROWS.get(scope, TASK_ROWS).where(_carded(condition, card))
    .order_by(*_order(scope, sort, descending)).limit(bindparam("limit")).offset(bindparam("offset"))
    for scope, condition in INBOX.items() for sort in SORTS for descending in (False, True) for card in CARD_FILTERS
}
COUNTS = {scope: select(func.count()).select_from(TASKS).where(condition) for scope, condition in INBOX.items()}
# The same with the case joined, for counting a narrowed inbox (the narrowing is on the case's columns).
NARROWED_COUNTS = {scope: select(func.count()).select_from(TASKS.join(CASES, CASES.c.id == TASKS.c.case_id))
                   .where(condition) for scope, condition in INBOX.items()}
# How many of an inbox's tasks show each card: read from the carded deadlines, never the whole inbox.
CARD_COUNTS = {(scope, card): select(func.count()).select_from(
    TASKS.join(CASES, CASES.c.id == TASKS.c.case_id)
    .outerjoin(shown.STEP_DEADLINE, shown.step_deadline_on(TASKS.c.id))
    .outerjoin(shown.CASE_DEADLINE, shown.case_deadline_on(CASES.c.id))
).where(_carded(condition, card)) for scope, condition in INBOX.items() for card in shown.FILTERS}


@dataclass(frozen=True)
class Narrow:
    """The inbox narrowed as the ledger is: by item, village, and the one search box (`queries.matching`)."""

    text: str = ""
    item_code: str = ""
    village_id: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found = [matching(self.text)] if self.text else []
        if self.item_code:
            found.append(CASES.c.item_code == self.item_code)
        if self.village_id is not None:
            found.append(CASES.c.village_id == self.village_id)
        return found


EVERYTHING = Narrow()


def _params(user: Staff) -> dict[str, Any]:
    return {"user_id": user.id, "role_code": user.role_code, "org_id": user.org_id, "user_away": bool(user.away)}


def tasks(session: Session, user: Staff, scope: str, *, limit: int, sort: str = "due",
          descending: bool = False, card: str = "", narrow: Narrow = EVERYTHING, offset: int = 0) -> Sequence[Row[Any]]:
    """Inbox lines, soonest promised date first unless asked otherwise; only those showing `card` if given, and
    those `narrow` finds; `limit` of them from `offset` on."""
    statement = INBOX_ROWS[(scope, sort, descending, card)].where(*narrow.conditions())
    return session.connection().execute(statement, {**_params(user), "limit": limit, "offset": offset}).all()


def count(session: Session, user: Staff, scope: str, card: str = "", narrow: Narrow = EVERYTHING) -> int:
    found = narrow.conditions()
    statement = CARD_COUNTS[(scope, card)] if card else NARROWED_COUNTS[scope] if found else COUNTS[scope]
    return session.connection().execute(statement.where(*found), _params(user)).scalar_one()


def task_row(session: Session, task_id: str) -> Row[Any] | None:
    return session.connection().execute(TASK_BY_ID, {"task_id": task_id}).first()
