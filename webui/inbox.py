"""The task inbox: my tasks and my post's unclaimed tasks, with claim and release."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine.deadlines.promised import due_state
from engine.models import Task
from engine.people import access
from engine.tasks import inbox
from engine.window import appointments

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("inbox", __name__)

LIMIT = 300


@bp.route("/")
def root() -> Any:
    return redirect(url_for("inbox.index"))


@bp.route("/inbox")
@login_required
def index() -> Any:
    tab = request.args.get("tab", "mine")
    tab = tab if tab in inbox.SCOPES else "mine"
    sort = request.args.get("sort", "due")
    sort = sort if sort in inbox.SORTS else "due"
    descending = request.args.get("dir") == "desc"
    card = request.args.get("card", "")
    card = card if card in inbox.CARD_FILTERS else ""
    user = g.user
    with helpers.services().db.read() as db:
        counts = {scope: inbox.count(db, user, scope) for scope in inbox.SCOPES}
        card_counts = {color: inbox.count(db, user, tab, color) for color in inbox.CARD_FILTERS if color}
        tasks = inbox.tasks(db, user, tab, limit=LIMIT, sort=sort, descending=descending, card=card)
        bookings = appointments.upcoming(db, user)
    rows = [{
        "task": task, "due_state": due_state(task.promised_date),
        "covering": task.assignee_name if task.assignee_id not in (None, user.id) else None,
    } for task in tasks]
    return render_template(
        "inbox.html", tab=tab, sort=sort, descending=descending, rows=rows, counts=counts, card=card,
        card_counts=card_counts, bookings=bookings,
        truncated=len(rows) >= LIMIT, limit=LIMIT, can_start=access.may_accept(user),
    )


def _visible_task(task_id: str) -> Task:
    with helpers.services().db.read() as db:
        return helpers.visible_task(db, task_id)


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str) -> Any:
    task = _visible_task(task_id)
    helpers.services().cases.claim(g.user.id, task.id)
    flash(t("claimed", case=task.case.case_number, step=task.name), "success")
    if request.form.get("then") == "handle":
        return redirect(url_for("cases.task", task_id=task.id))
    return redirect(url_for("inbox.index", tab="mine"))


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str) -> Any:
    task = _visible_task(task_id)
    helpers.services().cases.release(g.user.id, task.id)
    flash(t("released", case=task.case.case_number, step=task.name), "success")
    return redirect(url_for("inbox.index", tab="post"))
