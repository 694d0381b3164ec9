"""The refusal register (否定报备): every application refused at a window of the reader's jurisdiction, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from ..models import Case, CaseIntake, OrgUnit, ServiceItem, User
from ..people.access import Placed, case_visible_to

_VILLAGE = OrgUnit.__table__.alias("village")
REGISTER = select(
    Case.id.label("case_id"), Case.case_number, Case.applicant_name, ServiceItem.name.label("item_name"),
    _VILLAGE.c.name.label("village_name"), CaseIntake.refused_at, User.display_name.label("refused_by"),
    CaseIntake.refusal_reasons, CaseIntake.refusal_basis,
).select_from(Case.__table__).join(CaseIntake, CaseIntake.case_id == Case.id).join(
    ServiceItem, ServiceItem.code == Case.item_code).join(_VILLAGE, _VILLAGE.c.id == Case.village_id).join(
    User, User.id == CaseIntake.refused_by_id).where(CaseIntake.refused_at.is_not(None))


def register(session: Session, reader: Placed, limit: int) -> Sequence[Row[Any]]:
    """Who refused what, when and why, within the reader's jurisdiction."""
    return session.execute(REGISTER.where(case_visible_to(reader))
                           .order_by(CaseIntake.refused_at.desc(), Case.id.desc()).limit(limit)).all()
