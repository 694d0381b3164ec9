"""The public service guide (办事指南): each item's current version grouped by category, and where to apply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import OrgUnit, ProcedureVersion, ServiceItem
from ..procedures.deploy import current_version

# An item whose guide names no category is still listed, under this heading.
OTHER_CATEGORY = "其他"


@dataclass(frozen=True)
class GuideItem:
    code: str
    name: str
    category: str
    guide: dict[str, Any]


def _item(code: str, name: str, guide: dict[str, Any]) -> GuideItem:
    return GuideItem(code, name, str(guide.get("category") or "").strip() or OTHER_CATEGORY, guide)


def by_category(session: Session) -> list[tuple[str, list[GuideItem]]]:
    """Every published item under its category; categories and items in code order of their first item."""
    rows = session.execute(
        select(ServiceItem.code, ServiceItem.name, ProcedureVersion.guide)
        .join(ProcedureVersion, ProcedureVersion.id == ServiceItem.current_version_id)
        .order_by(ServiceItem.code))
    groups: dict[str, list[GuideItem]] = {}
    for code, name, guide in rows:
        item = _item(code, name, guide)
        groups.setdefault(item.category, []).append(item)
    return list(groups.items())


def item(session: Session, code: str) -> tuple[GuideItem, ProcedureVersion]:
    """The item's guide as its current version states it; NotFound for an unknown or unpublished code."""
    version = current_version(session, code)
    name = session.scalar(select(ServiceItem.name).where(ServiceItem.code == code)) or code
    return _item(code, name, version.guide), version


def windows(session: Session) -> list[OrgUnit]:
    """Where to apply: each town's service centre, then the county's, as the org tree lists them."""
    return list(session.scalars(select(OrgUnit).where(OrgUnit.level.in_(("town", "county")))
                                .order_by(OrgUnit.level.desc(), OrgUnit.code)))
