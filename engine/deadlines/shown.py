"""Which card a task or a case shows, as query columns and filters for the inbox, the case list and the API.

Only the scheduler tick changes `Deadline.card`; everything shown is read from it here, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select, union_all
from sqlalchemy.orm import Session

from ..models import Card, Deadline, Task
from ..vocabulary import CardColor, DeadlineStatus, TaskStatus

DEADLINES, TASKS = Deadline.__table__, Task.__table__
FILTERS = (CardColor.YELLOW, CardColor.RED)
# A task's own limit, and its case's clock: outer-joined beside the task (by task id; by the case-clock index).
STEP_DEADLINE, CASE_DEADLINE = DEADLINES.alias("step_deadline"), DEADLINES.alias("case_deadline")


def step_deadline_on(task_id: ColumnElement[str]) -> ColumnElement[bool]:
    return and_(STEP_DEADLINE.c.task_id == task_id, STEP_DEADLINE.c.status == DeadlineStatus.OPEN)


def case_deadline_on(case_id: ColumnElement[int]) -> ColumnElement[bool]:
    return and_(CASE_DEADLINE.c.case_id == case_id, CASE_DEADLINE.c.task_id.is_(None),
                CASE_DEADLINE.c.status == DeadlineStatus.OPEN)


# A task shows its step's own card when it has one, else its case's.
TASK_CARD = func.coalesce(func.nullif(STEP_DEADLINE.c.card, ""), CASE_DEADLINE.c.card, "")
# Most severe first: red, yellow, none (the inbox's card order).
TASK_CARD_RANK = case((TASK_CARD == CardColor.RED, 0), (TASK_CARD == CardColor.YELLOW, 1), else_=2)


def tasks_showing(color: str) -> ColumnElement[bool]:
    """Open tasks that show `color`, found from the deadlines holding that card (index ix_deadline_open_card)
    rather than by looking at every task of an inbox."""
    carded, of_case = DEADLINES.alias("carded"), TASKS.alias("carded_task")
    by_step = select(carded.c.task_id).where(carded.c.card == color, carded.c.status == DeadlineStatus.OPEN,
                                             carded.c.task_id.is_not(None))
    by_case = select(of_case.c.id).select_from(carded.join(of_case, of_case.c.case_id == carded.c.case_id)).where(
        carded.c.card == color, carded.c.status == DeadlineStatus.OPEN, carded.c.task_id.is_(None),
        of_case.c.status == TaskStatus.OPEN)
    return and_(TASKS.c.id.in_(union_all(by_step, by_case)), TASK_CARD == color)  # noqa: SIM300 (SQL, not Yoda)


def case_card(case_id: ColumnElement[int]) -> ColumnElement[str]:
    """The most severe card any open deadline of the case shows ("red" sorts before "yellow"), else ""; read per
    listed case from its deadlines, so a page of cases costs a page of index lookups."""
    return func.coalesce(select(func.min(DEADLINES.c.card)).where(
        DEADLINES.c.case_id == case_id, DEADLINES.c.status == DeadlineStatus.OPEN,
        DEADLINES.c.card.in_(FILTERS)).scalar_subquery(), "")


def cases_showing(color: str, case_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Cases whose card (as `case_card`) is `color`, found from the deadlines holding that card."""
    return and_(case_id.in_(select(DEADLINES.c.case_id).where(DEADLINES.c.card == color,
                                                               DEADLINES.c.status == DeadlineStatus.OPEN)),
                case_card(case_id) == color)


def case_deadlines(session: Session, case_id: int) -> list[Deadline]:
    """A case's deadlines, its clock first, then its steps' in the order they started."""
    return list(session.scalars(select(Deadline).where(Deadline.case_id == case_id).order_by(
        Deadline.task_id.is_not(None), Deadline.started_at, Deadline.id)))


def raised_cards(session: Session, case_id: int) -> Sequence[Any]:
    """A case's cards as raised, newest first, with the deadline each was raised on."""
    return session.execute(select(Card.id, Card.color, Card.due_date, Card.raised_at, Deadline.name,
                                  Deadline.task_id).join(Deadline, Deadline.id == Card.deadline_id)
                           .where(Card.case_id == case_id).order_by(Card.raised_at.desc(), Card.id.desc())).all()
