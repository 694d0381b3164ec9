"""The same applicant applying again for an item while a case of theirs for it is still open."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import Conflict
from ..models import Case
from ..vocabulary import ENDED, CaseStatus

OPEN_WORDS = {CaseStatus.RUNNING: "办理中", CaseStatus.SUPPLEMENT: "待补正", CaseStatus.RECEIVED: "收件待审"}


def check(session: Session, guide: dict[str, Any], item_code: str, id_number: str, confirmed: bool) -> None:
    """Refuse, or for an item that allows repeats warn until confirmed, naming the open case and its state."""
    found = session.execute(select(Case.case_number, Case.status).where(
        Case.item_code == item_code, Case.applicant_id_number == id_number, Case.status.not_in(ENDED))
        .order_by(Case.id).limit(1)).first()
    if found is None:
        return
    state = OPEN_WORDS.get(CaseStatus(found.status), found.status)
    if guide.get("repeats", "refuse") != "warn":
        raise Conflict(f"该申请人已有本事项的办件 {found.case_number}（{state}），不能重复申请；"
                       "请在原办件上继续办理")
    if not confirmed:
        message = f"该申请人已有本事项的办件 {found.case_number}（{state}）。本事项允许重复申请，请确认后再提交"
        raise Conflict(message, fields={"confirm_repeat": [message]})
