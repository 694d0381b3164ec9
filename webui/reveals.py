"""The reveal log page (/audit/reveals): auditors and supervisors see who revealed whose personal data, when and why."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, g, render_template, request

from engine import clock
from engine.audit import privacy, reveals
from engine.errors import Forbidden, ValidationFailed
from engine.idcard import mask_id_number
from engine.people import access

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("reveals", __name__, url_prefix="/audit/reveals")


def _day(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(t("reveals_bad_date"), fields={name: [t("reveals_bad_date")]}) from None


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.SHANGHAI)


@bp.route("")
@login_required
def index() -> Any:
    if not access.may_see_reveals(g.user):
        raise Forbidden(t("reveals_forbidden"))
    since, until = _day("from"), _day("until")
    wanted = reveals.RevealFilter(
        person=request.args.get("person", "").strip()[:100], case_number=request.args.get("case", "").strip()[:40],
        since=_start_of(since) if since else None, until=_start_of(until + timedelta(days=1)) if until else None)
    page = max(request.args.get("page", default=1, type=int) or 1, 1)
    with helpers.services().db.read() as db:
        rows, total = reveals.reveal_log(db, g.user, wanted, page)
        posts = reveals.post_names(db, sorted({row.post for row in rows}))
    pages = max((total + reveals.PER_PAGE - 1) // reveals.PER_PAGE, 1)
    shown = [{
        "row": row, "post": posts.get(row.post, row.post), "whose": mask_id_number(row.applicant_id_number),
        "field": (t(f"reveal_field_{row.field}") if row.field in (*privacy.APPLICANT_FIELDS, privacy.HISTORY)
                  else row.field),
    } for row in rows]
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template("reveals.html", rows=shown, total=total, page=min(page, pages), pages=pages, args=args,
                           person=wanted.person, case=wanted.case_number, since=since, until=until)
