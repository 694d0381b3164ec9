"""The one rule for each question of access: may this actor see a case, see a task, claim it, complete it, accept,
see the incidents.

The engine enforces these, and the web UI and the API ask them what to show; nobody re-derives them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, false

from ..models import Case
from ..vocabulary import TaskStatus


class Placed(Protocol):
    """A staff member as far as jurisdiction goes: where they sit."""

    org_id: int
    org_level: str


class Staff(Placed, Protocol):
    id: int
    role_code: str
    away: bool


class CaseLike(Protocol):
    village_id: int
    town_id: int
    county_id: int


class PostTask(Protocol):
    role_code: str
    org_id: int
    status: str
    assignee_id: int | None

    @property
    def assignee_away(self) -> bool | None:
        """Whether the holder of a claimed task is marked away (the B post then covers)."""


def case_visible_to(user: Placed) -> ColumnElement[bool]:
    """`may_see_case` as a query condition: the cases of the user's own org unit and the units below it."""
    column = {"village": Case.village_id, "town": Case.town_id, "county": Case.county_id}.get(user.org_level)
    return column == user.org_id if column is not None else false()


def may_see_case(user: Placed, case: CaseLike) -> bool:
    return user.org_id == {"village": case.village_id, "town": case.town_id,
                           "county": case.county_id}.get(user.org_level)


def holds_post(user: Staff, task: PostTask) -> bool:
    return user.role_code == task.role_code and user.org_id == task.org_id


def may_see_task(user: Staff, task: PostTask, case: CaseLike) -> bool:
    """A task is seen by whoever sees its case, and always by the holders of its post."""
    return may_see_case(user, case) or holds_post(user, task)


class Standing(StrEnum):
    """Where a user stands towards a task, most decisive first; the UI words each one."""

    COMPLETED = "completed"
    NOT_OPEN = "not_open"
    NOT_YOUR_POST = "not_your_post"
    AWAY = "away"
    CLAIMED_BY_OTHER = "claimed_by_other"
    UNCLAIMED = "unclaimed"
    COVERING = "covering"  # the B post works a task claimed by the A post, who is away
    YOURS = "yours"


@dataclass(frozen=True)
class TaskAccess:
    standing: Standing
    may_claim: bool
    may_complete: bool


def task_access(user: Staff, task: PostTask) -> TaskAccess:
    """Post holders work unclaimed tasks; a claimed task is its holder's, or the B post's while A is away."""
    if task.status == TaskStatus.COMPLETED:
        standing = Standing.COMPLETED
    elif task.status != TaskStatus.OPEN:
        standing = Standing.NOT_OPEN
    elif not holds_post(user, task):
        standing = Standing.NOT_YOUR_POST
    elif user.away:
        standing = Standing.AWAY
    elif task.assignee_id is None:
        standing = Standing.UNCLAIMED
    elif task.assignee_id == user.id:
        standing = Standing.YOURS
    elif task.assignee_away:
        standing = Standing.COVERING
    else:
        standing = Standing.CLAIMED_BY_OTHER
    works = standing in (Standing.UNCLAIMED, Standing.YOURS, Standing.COVERING)
    return TaskAccess(standing, may_claim=works and standing != Standing.YOURS, may_complete=works)


# Who accepts applications (受理): the village agent for their village, the town window for the town's villages.
ACCEPTING_ROLES = ("village_agent", "town_window")


def may_accept(user: Staff) -> bool:
    return user.role_code in ACCEPTING_ROLES



ADMIN_ROLE = "admin"


def may_manage_calendar(user: Staff) -> bool:
    """The holiday calendar is the county's reference data: administrators enter each year's 放假安排."""
    return user.role_code == ADMIN_ROLE


def may_see_incidents(user: Staff) -> bool:
    """异常办件 are the system's own failures across the county: for administrators, who repair them."""
    return user.role_code == ADMIN_ROLE
