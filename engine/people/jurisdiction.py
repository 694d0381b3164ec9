"""Where a task goes: a lane names a role, routed to the case's org unit at the role's level."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import BianminError
from ..models import OrgUnit, Role, User
from .access import CaseLike, works_tasks


def covered_posts(session: Session, user_id: int) -> frozenset[tuple[str, int]]:
    """The posts whose away holder named this user their substitute (`access.holds_post` lets them work those)."""
    rows = session.execute(select(User.role_code, User.org_id).where(User.substitute_id == user_id,
                                                                     User.away.is_(True), User.active.is_(True)))
    return frozenset((row.role_code, row.org_id) for row in rows)


def org_for_role(case: CaseLike, role: Role) -> int:
    """The org unit whose post holders handle a task of `role` for `case`."""
    by_level = {"village": case.village_id, "town": case.town_id, "county": case.county_id}
    if role.level not in by_level:
        raise BianminError(f"角色“{role.name}”没有所属层级，不能作为泳道办理任务")
    return by_level[role.level]


@dataclass(frozen=True)
class Post:
    role_code: str
    org_id: int
    label: str
    unit: str = ""


def receiving_posts(session: Session, place: CaseLike) -> list[Post]:
    """The posts that serve a place (a case's or an enquirer's) and so may receive its work by 转办: every role
    at its village, town and county, at the role's level, the supervision desks left out."""
    orgs = {org.level: org for org in session.scalars(select(OrgUnit).where(
        OrgUnit.id.in_([place.village_id, place.town_id, place.county_id])))}
    roles = [role for role in session.scalars(select(Role).order_by(Role.name)) if works_tasks(role.code)]
    return [Post(role.code, orgs[level].id, f"{orgs[level].name} · {role.name}", orgs[level].name)
            for level in ("village", "town", "county") if level in orgs for role in roles if role.level == level]


@dataclass(frozen=True)
class Actor:
    """A staff member as the engine and the API need them (read without building ORM objects)."""

    id: int
    username: str
    display_name: str
    role_code: str
    org_id: int
    org_level: str
    away: bool
    covers: frozenset[tuple[str, int]] = field(default=frozenset())

    @classmethod
    def from_row(cls, row: Any) -> Actor:
        return cls(row.id, row.username, row.display_name, row.role_code, row.org_id, row.org_level, row.away)


_USERS, _ORGS = User.__table__, OrgUnit.__table__
# Staff rows as `Actor.from_row` reads them; callers add how the user is found.
ACTOR_ROWS = select(
    _USERS.c.id, _USERS.c.username, _USERS.c.display_name, _USERS.c.role_code, _USERS.c.org_id,
    _ORGS.c.level.label("org_level"), _USERS.c.away, _USERS.c.active,
).select_from(_USERS.join(_ORGS, _ORGS.c.id == _USERS.c.org_id))
