"""Who gets a task and who may see a case: lane = role code, routed to the case's org at the role's level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Boolean, ColumnElement, Select, and_, bindparam, false, not_, or_, select
from sqlalchemy.orm import Session, aliased

from .errors import BianminError, NotFound
from .models import Case, OrgUnit, Role, Task, User


def org_for_role(case: Case, role: Role) -> int:
    """The org unit whose post holders handle a task of `role` for `case`."""
    by_level = {"village": case.village_id, "town": case.town_id, "county": case.county_id}
    if role.level not in by_level:
        raise BianminError(f"角色“{role.name}”没有所属层级，不能作为泳道办理任务")
    return by_level[role.level]


class Placed(Protocol):
    """A staff member as far as jurisdiction goes: where they sit."""

    org_id: int
    org_level: str


class CaseLike(Protocol):
    village_id: int
    town_id: int
    county_id: int


@dataclass(frozen=True)
class Actor:
    """A staff member as the runtime and the API need them (read without building ORM objects)."""

    id: int
    username: str
    display_name: str
    role_code: str
    org_id: int
    org_level: str
    away: bool

    @classmethod
    def from_row(cls, row: Any) -> Actor:
        return cls(row.id, row.username, row.display_name, row.role_code, row.org_id, row.org_level, row.away)


_USERS, _ORGS = User.__table__, OrgUnit.__table__
# Staff rows as `Actor.from_row` reads them; callers add how the user is found.
ACTOR_ROWS = select(
    _USERS.c.id, _USERS.c.username, _USERS.c.display_name, _USERS.c.role_code, _USERS.c.org_id,
    _ORGS.c.level.label("org_level"), _USERS.c.away, _USERS.c.active,
).select_from(_USERS.join(_ORGS, _ORGS.c.id == _USERS.c.org_id))


def case_visible_to(user: Placed) -> ColumnElement[bool]:
    """A staff member sees the cases of their own org unit and the units below it."""
    level = user.org_level
    if level == "village":
        return Case.village_id == user.org_id
    if level == "town":
        return Case.town_id == user.org_id
    if level == "county":
        return Case.county_id == user.org_id
    return false()


def can_see_case(user: Placed, case: CaseLike) -> bool:
    return user.org_id in {"village": {case.village_id}, "town": {case.town_id},
                           "county": {case.county_id}}.get(user.org_level, set())


# Who accepts applications (受理): the village agent for their village, the town window for the town's villages.
ACCEPTING_ROLES = ("village_agent", "town_window")


def accepts_applications(user: Staff) -> bool:
    return user.role_code in ACCEPTING_ROLES


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


_COLLEAGUE = aliased(User)
_AWAY_COLLEAGUES = select(_COLLEAGUE.id).where(
    _COLLEAGUE.role_code == bindparam("role_code"), _COLLEAGUE.org_id == bindparam("org_id"),
    _COLLEAGUE.away.is_(True), _COLLEAGUE.id != bindparam("user_id"),
)
# The two inboxes as conditions on Task, built once; `inbox_params(user)` fills them in.
INBOX: dict[str, ColumnElement[bool]] = {
    # Open tasks claimed by the user, plus those of away colleagues on the same post (unless the user is away too).
    "mine": and_(Task.status == "open", or_(
        Task.assignee_id == bindparam("user_id"),
        and_(not_(bindparam("user_away", type_=Boolean)), Task.assignee_id.in_(_AWAY_COLLEAGUES),
             Task.role_code == bindparam("role_code"), Task.org_id == bindparam("org_id")),
    )),
    # Open, unclaimed tasks of the user's post: anyone on the post may claim them.
    "post": and_(Task.status == "open", Task.role_code == bindparam("role_code"),
                 Task.org_id == bindparam("org_id"), Task.assignee_id.is_(None)),
}


def inbox_params(user: Staff) -> dict[str, Any]:
    return {"user_id": user.id, "role_code": user.role_code, "org_id": user.org_id, "user_away": bool(user.away)}


def my_tasks(user: Staff) -> Select[tuple[Task]]:
    return select(Task).where(INBOX["mine"]).params(inbox_params(user))


def post_tasks(user: Staff) -> Select[tuple[Task]]:
    return select(Task).where(INBOX["post"]).params(inbox_params(user))


def set_away(session: Session, username: str, away: bool) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"用户“{username}”不存在")
    user.away = away
    return user
