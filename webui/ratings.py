"""The window's after-care on the case page and the public page: scans of materials, ratings (好差评), complaints,
and the supervisors' follow-up list (整改/回访)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, send_file, url_for

from engine import clock
from engine.audit import privacy
from engine.cases import attachments
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import Case
from engine.people import access
from engine.throttle import TooManyAttempts
from engine.vocabulary import FollowUpStatus, RatingLevel
from engine.window import query, ratings

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("ratings", __name__)


def store() -> attachments.Store:
    settings = helpers.services().settings
    return attachments.Store(settings.attachments_dir, settings.attachment_max_bytes)


def _case_page(case_id: int, anchor: str) -> Any:
    return redirect(url_for("cases.case", case_id=case_id) + f"#{anchor}")


# -- what the case page shows (templates _case_attachments.html and _case_rating.html) ---------------------


@bp.app_template_global()
def attachment_panel(case: Case) -> dict[str, Any]:
    with helpers.services().db.read() as db:
        handles = privacy.handles(db, g.user, case.id)
        rows = attachments.of_case(db, case.id)
        guide = helpers.services().cases.versions.get(db, case.version_id).guide
    return {"rows": rows, "slots": attachments.slots(guide),
            "may_upload": access.may_attach(handles, case.status),
            "max_mb": f"{store().max_bytes / (1024 * 1024):g}"}


@bp.app_template_global()
def rating_panel(case: Case) -> dict[str, Any]:
    with helpers.services().db.read() as db:
        handles = privacy.handles(db, g.user, case.id)
        follow_ups = ratings.follow_ups_of(db, case.id)
        return {"rating": ratings.rating_of(db, case.id), "complaints": ratings.complaints_of(db, case.id),
                "follow_ups": [{"row": row, "card": ratings.card(row), "late": ratings.answered_late(row),
                                "by": row.answered_by.display_name if row.answered_by else ""} for row in follow_ups],
                "may_record": access.may_record_for_applicant(g.user, handles, case),
                "levels": list(RatingLevel), "poor": list(ratings.POOR)}


# -- attachments -------------------------------------------------------------------------------------------


@bp.route("/cases/<int:case_id>/attachments", methods=["POST"])
@login_required
def upload(case_id: int) -> Any:
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        flash(t("att_no_file"), "error")
        return _case_page(case_id, "attachments")
    try:
        row = attachments.add(helpers.services().cases, store(), g.user.id, case_id, request.form.get("slot", ""),
                              sent.filename, sent.stream)
    except ValidationFailed as exc:
        flash(exc.message, "error")
    else:
        flash(t("att_added", slot=row.slot, version=row.version), "success")
    return _case_page(case_id, "attachments")


@bp.route("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int) -> Any:
    with helpers.services().db.read() as db:
        row = attachments.readable(db, g.user, attachment_id)
    path = store().path(row.sha256)
    if not path.is_file():
        raise NotFound("附件文件缺失，请联系系统管理员从备份恢复")
    # Only the three checked types are ever stored; `nosniff` keeps a browser from reading them as anything else.
    response = send_file(path, mimetype=row.media_type, as_attachment=request.args.get("view") != "1",
                         download_name=row.filename, max_age=0, etag=row.sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- ratings and complaints at the window ---------------------------------------------------------------------


@bp.route("/cases/<int:case_id>/rating", methods=["POST"])
@login_required
def rate(case_id: int) -> Any:
    try:
        row = ratings.rate(helpers.services().cases, helpers.services().settings.followup_days, g.user.id, case_id,
                           request.form.get("level"), request.form.get("comment"))
    except (ValidationFailed, Conflict) as exc:
        flash(exc.message, "error")
    else:
        flash(t("rating_saved", level=row.level) + (t("rating_follow_up") if row.level in ratings.POOR else ""),
              "success")
    return _case_page(case_id, "rating")


@bp.route("/cases/<int:case_id>/complaints", methods=["POST"])
@login_required
def complain(case_id: int) -> Any:
    try:
        ratings.complain(helpers.services().cases, helpers.services().settings.followup_days, g.user.id, case_id,
                         request.form.get("text"))
    except ValidationFailed as exc:
        flash(exc.message, "error")
    else:
        flash(t("complaint_saved"), "success")
    return _case_page(case_id, "rating")


# -- the applicant on the public page (no login): the case named by its number and the ID's last four -----------


def _public(action: str) -> Any:
    svc = helpers.services()
    number, last4 = request.form.get("case_number", ""), request.form.get("id_last4", "")
    message, ok, status, headers = "", False, 200, {}
    try:
        case_id = query.identify(svc.db, number, last4, request.remote_addr)
        if action == "rate":
            ratings.rate(svc.cases, svc.settings.followup_days, None, case_id, request.form.get("level"),
                         request.form.get("comment"))
            message, ok = t("public_rated"), True
        else:
            ratings.complain(svc.cases, svc.settings.followup_days, None, case_id, request.form.get("text"))
            message, ok = t("public_complained", days=svc.settings.followup_days), True
    except (ValidationFailed, Conflict) as exc:
        message, status = exc.message, exc.status
    except NotFound as exc:
        # The form was filled wrongly (number or ID digits): sent back for correction like any invalid form.
        message, status = exc.message, 422
    except TooManyAttempts as exc:
        message, status, headers = exc.message, exc.status, exc.headers
    return (render_template("public_feedback.html", message=message, ok=ok, case_number=number.strip()), status,
            headers)


@bp.route("/query/rate", methods=["POST"])
def public_rate() -> Any:
    return _public("rate")


@bp.route("/query/complain", methods=["POST"])
def public_complain() -> Any:
    return _public("complain")


# -- the supervisors' follow-ups --------------------------------------------------------------------------------


def _supervisor() -> Any:
    if g.user.role_code != access.SUPERVISOR_ROLE and not access.may_use_desk(g.user):
        raise Forbidden("只有电子监察人员可以查看整改回访")
    return g.user


@bp.route("/supervision/followups")
@login_required
def follow_ups() -> Any:
    user = _supervisor()
    status = FollowUpStatus.ANSWERED if request.args.get("status") == "answered" else FollowUpStatus.OPEN
    today = clock.local_now().date()
    with helpers.services().db.read() as db:
        rows = ratings.follow_ups(db, user, status)
        items = ratings.item_names(db, rows)
        shown = [{"row": row, "card": ratings.card(row, today), "late": ratings.answered_late(row),
                  "item": items.get(row.case.item_code, ""),
                  "rating": row.rating, "complaint": row.complaint,
                  "by": row.answered_by.display_name if row.answered_by else ""} for row in rows]
    return render_template("follow_ups.html", rows=shown, status=status, today=today,
                           may_answer=user.role_code == access.SUPERVISOR_ROLE)


@bp.route("/supervision/followups/<int:follow_up_id>/answer", methods=["POST"])
@login_required
def answer(follow_up_id: int) -> Any:
    try:
        ratings.answer(helpers.services().cases, g.user.id, follow_up_id, request.form.get("answer"))
    except (ValidationFailed, Conflict) as exc:
        flash(exc.message, "error")
    else:
        flash(t("follow_up_answered"), "success")
    return redirect(url_for("ratings.follow_ups"))
