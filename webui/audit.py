"""审计: the auditor's desk — finding cases, verifying one case's history or every history and the system chain."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from engine.audit import desk
from engine.audit.links import Break, Finding
from engine.errors import Forbidden, ValidationFailed
from engine.models import Case, User
from engine.people import access

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("audit", __name__, url_prefix="/audit")

# How many characters of a hash the desk shows: enough to compare with a note kept outside the system.
SHORT_HASH = 16


def _auditor() -> User:
    if not access.may_audit(g.user):
        raise Forbidden(t("audit_forbidden"))
    return g.user


@bp.route("")
@login_required
def index() -> Any:
    user = _auditor()
    problem = None
    try:
        wanted = desk.search_from(request.args)
    except ValidationFailed as exc:
        problem, wanted = exc.details, desk.Search()
    with helpers.services().db.read() as db:
        found = desk.search(db, user, wanted)
        choices = desk.choices(db, user)
    return render_template("audit_desk.html", wanted=wanted, found=found, choices=choices, problem=problem,
                           results=desk.RESULTS, page_size=desk.PAGE_SIZE,
                           may_verify_everything=access.may_verify_everything(user)), 422 if problem else 200


@bp.route("/cases/<int:case_id>/verify")
@login_required
def verify_case(case_id: int) -> Any:
    _auditor()
    with helpers.services().db.read() as db:
        case: Case = helpers.visible_case(db, case_id)
        verified = desk.verify_case(db, case)
        return render_template("audit_verify.html", case=case, verified=verified, short=SHORT_HASH)


@bp.route("/verify-all")
@login_required
def verify_all() -> Any:
    user = _auditor()
    if not access.may_verify_everything(user):
        raise Forbidden(t("audit_verify_all_forbidden"))
    with helpers.services().db.read() as db:
        everything = desk.verify_everything(db, user)
    return render_template("audit_all.html", everything=everything, short=SHORT_HASH)


BREAK_WORDS = {Break.ALTERED: "break_altered", Break.MISSING: "break_missing", Break.INSERTED: "break_inserted",
               Break.OUT_OF_ORDER: "break_out_of_order", Break.TRUNCATED: "break_truncated"}


def break_word(finding: Finding) -> str:
    return t(BREAK_WORDS.get(finding.kind, "break_altered"))


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    return {"may_audit": access.may_audit, "break_word": break_word}
