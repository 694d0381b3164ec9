"""Reading the reveal log (`data_reveal`): who showed whose personal data in clear, filtered and paged."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..models import Case, DataReveal, OrgUnit, Role, User
from ..people import access

PER_PAGE = 50


@dataclass(frozen=True)
class RevealFilter:
    person: str = ""  # a name or username, matched in part
    case_number: str = ""  # matched in part
    since: datetime | None = None
    until: datetime | None = None  # exclusive


def _rows(user: access.Placed, wanted: RevealFilter) -> Any:
    query = (select(DataReveal.id, DataReveal.at, DataReveal.field, DataReveal.reason, DataReveal.note,
                    DataReveal.address, DataReveal.post, User.display_name, User.username, Case.id.label("case_id"),
                    Case.case_number, Case.applicant_name, Case.applicant_id_number)
             .join(User, User.id == DataReveal.user_id).join(Case, Case.id == DataReveal.case_id)
             .where(access.case_visible_to(user)))
    if wanted.person:
        like = f"%{wanted.person}%"
        query = query.where(or_(User.display_name.like(like), User.username.like(like)))
    if wanted.case_number:
        query = query.where(Case.case_number.like(f"%{wanted.case_number}%"))
    if wanted.since is not None:
        query = query.where(DataReveal.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(DataReveal.at < wanted.until)
    return query


def reveal_log(session: Session, user: access.Placed, wanted: RevealFilter, page: int = 1,
               per_page: int = PER_PAGE) -> tuple[list[Any], int]:
    """One page of reveals of cases in `user`'s jurisdiction, newest first, and how many match in all."""
    query = _rows(user, wanted)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(DataReveal.at.desc(), DataReveal.id.desc())
                           .limit(per_page).offset((max(page, 1) - 1) * per_page)).all()
    return list(rows), total


def post_names(session: Session, posts: list[str]) -> dict[str, str]:
    """`role@org id` as recorded, named as a person reads it (清水镇 民政办)."""
    pairs = {text: text.rpartition("@") for text in posts}
    orgs = {o.id: o.name for o in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(
        [int(org) for _, _, org in pairs.values() if org.isdigit()])))}
    roles = {r.code: r.name for r in session.scalars(select(Role))}
    return {text: f"{orgs.get(int(org), '') if org.isdigit() else ''} {roles.get(role, role)}".strip()
            for text, (role, _, org) in pairs.items()}
