"""提醒: a staff member's notifications (cards raised on their work), the header's unread count, marking read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState

from engine import clock, notifications
from engine.errors import ValidationFailed
from engine.models import User
from engine.outbox import notices

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("notifications", __name__)

LIMIT = 300
# Messages out shown under 提醒设置: enough to see that today's went, or why one did not.
RECENT = 20


@bp.route("/notifications")
@login_required
def index() -> Any:
    unread_only = request.args.get("show") == "unread"
    with helpers.services().db.read() as db:
        rows = notifications.listing(db, g.user.id, unread_only=unread_only, limit=LIMIT)
    return render_template("notifications.html", rows=rows, unread_only=unread_only,
                           truncated=len(rows) >= LIMIT, limit=LIMIT)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def mark_read(notification_id: int) -> Any:
    with helpers.services().db.write() as db:
        notifications.mark_read(db, g.user.id, clock.now(), notification_id)
    target = request.form.get("then")
    # Straight on to the case it is about, or back to the list.
    if target and target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def mark_all_read() -> Any:
    with helpers.services().db.write() as db:
        count = notifications.mark_read(db, g.user.id, clock.now())
    flash(t("marked_all_read", n=count), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/notifications/settings", methods=["GET", "POST"])
@login_required
def settings() -> Any:
    """提醒设置: the user's own phone, e-mail and which notifications go out to them by SMS or e-mail."""
    svc = helpers.services()
    errors: dict[str, list[str]] = {}
    summary: list[str] = []
    if request.method == "POST":
        chosen = {code: request.form.getlist(f"channel_{code}") for code in notices.GROUPS}
        try:
            with svc.db.write() as db:
                notices.choose(db, g.user.id, request.form.get("phone", ""), request.form.get("email", ""), chosen)
        except ValidationFailed as exc:
            summary, errors = exc.details or [exc.message], exc.fields
        else:
            flash(t("notify_settings_saved"), "success")
            return redirect(url_for("notifications.settings"))
    with svc.db.read() as db:
        user = db.get(User, g.user.id)
        sent = notices.sent_today(db, g.user.id, clock.now())
        recent = notices.recent(db, g.user.id, RECENT)
    out = svc.outbound()
    form = request.form if request.method == "POST" else None
    shown = ({code: form.getlist(f"channel_{code}") for code in notices.GROUPS} if form is not None
             else notices.channels(user))
    return render_template("notification_settings.html", groups=notices.GROUPS, shown=shown, errors=errors,
                           summary=summary, phone=form.get("phone", "") if form is not None else user.phone or "",
                           email=form.get("email", "") if form is not None else user.email or "", out=out,
                           sent=sent, recent=recent), 422 if summary else 200


def _unread() -> int:
    """The header's number, for the signed-in user only: one count over the unread index."""
    user = g.get("user")
    if user is None:
        return 0
    with helpers.services().db.read() as db:
        return notifications.unread_count(db, user.id)


@bp.record_once
def _install(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    app.jinja_env.globals.update(unread_notifications=_unread)
