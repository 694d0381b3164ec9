"""The task inbox: my tasks and my post's unclaimed tasks, with claim and release."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from engine import routing
from engine.models import Case, Task

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("inbox", __name__)

LIMIT = 300
TABS = ("mine", "post")
SORTS = ("due", "arrived")


def _ordered(query: Any, sort: str, descending: bool) -> Any:
    query = query.join(Case, Task.case_id == Case.id)
    if sort == "arrived":
        keys = [Task.created_at.desc() if descending else Task.created_at.asc()]
    else:
        # Cases without a promised date (missing holiday data) go last either way.
        keys = [Case.due_date.is_(None), Case.due_date.desc() if descending else Case.due_date.asc(),
                Task.created_at.asc()]
    return query.order_by(*keys, Task.id)


@bp.route("/")
def root() -> Any:
    return redirect(url_for("inbox.index"))


@bp.route("/inbox")
@login_required
def index() -> Any:
    tab = request.args.get("tab", "mine")
    tab = tab if tab in TABS else "mine"
    sort = request.args.get("sort", "due")
    sort = sort if sort in SORTS else "due"
    descending = request.args.get("dir") == "desc"
    user = g.user
    queries = {"mine": routing.my_tasks(user), "post": routing.post_tasks(user)}
    with helpers.services().db.read() as db:
        counts = {name: db.scalar(select(func.count()).select_from(q.subquery())) or 0
                  for name, q in queries.items()}
        tasks = db.scalars(_ordered(queries[tab], sort, descending).limit(LIMIT)).unique().all()
        rows = [{
            "task": task, "case": task.case, "due_state": helpers.due_state(task.case.due_date),
            "covering": task.assignee.display_name if task.assignee_id not in (None, user.id) and task.assignee
            else None,
        } for task in tasks]
        return render_template(
            "inbox.html", tab=tab, sort=sort, descending=descending, rows=rows, counts=counts,
            truncated=len(rows) >= LIMIT, limit=LIMIT, can_start=routing.accepts_applications(user),
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
