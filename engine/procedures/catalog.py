"""The procedures page's reading: every item with its versions, who published each, and how many cases run on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Case, ProcedureVersion, ServiceItem, User
from ..vocabulary import CaseStatus


@dataclass(frozen=True)
class VersionRow:
    id: int
    version: int
    deployed_at: datetime
    deployed_by: str
    deployed_by_name: str | None
    cases: int
    running: int
    current: bool


@dataclass
class ItemRow:
    code: str
    name: str
    versions: list[VersionRow] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(version.cases for version in self.versions)


def overview(session: Session) -> list[ItemRow]:
    """Items by code, newest version first; case counts per version come from one grouped query."""
    counts = {version_id: (total, running) for version_id, total, running in session.execute(
        select(Case.version_id, func.count(), func.count().filter(Case.status == CaseStatus.RUNNING))
        .group_by(Case.version_id))}
    items = {code: ItemRow(code, name) for code, name in session.execute(
        select(ServiceItem.code, ServiceItem.name).order_by(ServiceItem.code))}
    current = set(session.scalars(select(ServiceItem.current_version_id)))
    rows = session.execute(
        select(ProcedureVersion.id, ProcedureVersion.item_code, ProcedureVersion.version,
               ProcedureVersion.deployed_at, ProcedureVersion.deployed_by, User.display_name)
        .outerjoin(User, User.username == ProcedureVersion.deployed_by)
        .order_by(ProcedureVersion.item_code, ProcedureVersion.version.desc()))
    for version_id, code, number, at, by, name in rows:
        total, running = counts.get(version_id, (0, 0))
        items[code].versions.append(VersionRow(version_id, number, at, by, name, total, running,
                                               version_id in current))
    return list(items.values())
