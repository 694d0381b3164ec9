"""Who gets a task and who may see a case: lane = role code, routed to the case's org at the role's level."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session, aliased

from .errors import BianminError, NotFound
from .models import Case, Role, Task, User


def org_for_role(case: Case, role: Role) -> int:
    """The org unit whose post holders handle a task of `role` for `case`."""
    by_level = {"village": case.village_id, "town": case.town_id, "county": case.county_id}
    if role.level not in by_level:
        raise BianminError(f"角色“{role.name}”没有所属层级，不能作为泳道办理任务")
    return by_level[role.level]


def case_visible_to(user: User) -> ColumnElement[bool]:
    """A staff member sees the cases of their own org unit and the units below it."""
    level = user.org.level
    if level == "village":
        return Case.village_id == user.org_id
    if level == "town":
        return Case.town_id == user.org_id
    if level == "county":
        return Case.county_id == user.org_id
    return false()


def can_see_case(user: User, case: Case) -> bool:
    return user.org_id in {"village": {case.village_id}, "town": {case.town_id},
                           "county": {case.county_id}}.get(user.org.level, set())


class Staff(Protocol):
    id: int
    role_code: str
    org_id: int
    away: bool


class PostTask(Protocol):
    role_code: str
    org_id: int
    assignee_id: int | None

    @property
    def assignee(self) -> Any: ...


def holds_post(user: Staff, task: PostTask) -> bool:
    return user.role_code == task.role_code and user.org_id == task.org_id


def can_work(user: Staff, task: PostTask) -> bool:
    """Post holders work unclaimed tasks; a claimed task is its holder's, or the B post's while A is away."""
    if not holds_post(user, task) or user.away:
        return False
    return task.assignee_id is None or task.assignee_id == user.id or bool(task.assignee and task.assignee.away)


def my_tasks(user: User):  # type: ignore[no-untyped-def]
    """Open tasks claimed by the user, plus those of away colleagues on the same post."""
    colleague = aliased(User)
    away_colleagues = select(colleague.id).where(
        colleague.role_code == user.role_code, colleague.org_id == user.org_id,
        colleague.away.is_(True), colleague.id != user.id,
    )
    mine = Task.assignee_id == user.id
    covered = and_(Task.assignee_id.in_(away_colleagues), Task.role_code == user.role_code,
                   Task.org_id == user.org_id)
    return select(Task).where(Task.status == "open", or_(mine, covered) if not user.away else mine)


def post_tasks(user: User):  # type: ignore[no-untyped-def]
    """Open, unclaimed tasks of the user's post: anyone on the post may claim them."""
    return select(Task).where(
        Task.status == "open", Task.role_code == user.role_code, Task.org_id == user.org_id,
        Task.assignee_id.is_(None),
    )


def set_away(session: Session, username: str, away: bool) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在")
    user.away = away
    return user
