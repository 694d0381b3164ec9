"""The task inbox: my tasks, my post's unclaimed tasks, those I stand in for and those I delegated, with claim and
release."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine.audit import desk
from engine.deadlines.promised import due_state
from engine.errors import ValidationFailed
from engine.models import Task
from engine.people import access
from engine.tasks import inbox
from engine.window import appointments

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("inbox", __name__)


@bp.route("/")
def root() -> Any:
    return redirect(url_for("inbox.index"))


def _narrowed() -> tuple[desk.Search, list[str] | None]:
    """The ledger's search box, item and village, and the page, read and checked as the ledger reads them."""
    try:
        wanted = desk.search_from(request.args)
    except ValidationFailed as exc:
        return desk.Search(), exc.details
    return desk.Search(text=wanted.text, item_code=wanted.item_code, village_id=wanted.village_id,
                       page=wanted.page), None


@bp.route("/inbox")
@login_required
def index() -> Any:
    sort = request.args.get("sort", "due")
    sort = sort if sort in inbox.SORTS else "due"
    descending = request.args.get("dir") == "desc"
    card = request.args.get("card", "")
    card = card if card in inbox.CARD_FILTERS else ""
    wanted, problem = _narrowed()
    narrow = inbox.Narrow(wanted.text, wanted.item_code, wanted.village_id)
    user = g.user
    with helpers.services().db.read() as db:
        counts = {scope: inbox.count(db, user, scope, narrow=narrow) for scope in inbox.SCOPES}
        tab = request.args.get("tab", "")
        if tab not in inbox.SCOPES:
            # Nothing claimed yet but work waiting on the post: open where the work is.
            tab = "post" if counts["mine"] == 0 and counts["post"] else "mine"
        card_counts = {color: inbox.count(db, user, tab, color, narrow) for color in inbox.CARD_FILTERS if color}
        total = card_counts[card] if card else counts[tab]
        pages = desk.page_count(total)
        page = min(wanted.page, pages)
        tasks = inbox.tasks(db, user, tab, limit=desk.PAGE_SIZE, sort=sort, descending=descending, card=card,
                            narrow=narrow, offset=(page - 1) * desk.PAGE_SIZE)
        choices = desk.choices(db, user)
        bookings = appointments.upcoming(db, user)
    # In 委派中 the holder is the colleague the user delegated to, shown in a column of its own, not "covering".
    rows = [{
        "task": task, "due_state": due_state(task.promised_date),
        "covering": task.assignee_name if task.assignee_id not in (None, user.id) and tab != "delegated" else None,
    } for task in tasks]
    # What a page link keeps: the tab, the narrowing, the card and the order.
    paging = {"tab": tab, **wanted.query(), **({"card": card} if card else {}),
              **({"sort": sort} if sort != "due" else {}), **({"dir": "desc"} if descending else {})}
    return render_template(
        "inbox.html", tab=tab, sort=sort, descending=descending, rows=rows, counts=counts, card=card,
        card_counts=card_counts, bookings=bookings, wanted=wanted, choices=choices, problem=problem, paging=paging,
        found={"page": page, "pages": pages, "total": total}, can_start=access.may_accept(user),
    ), 422 if problem else 200


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
