"""The task operations' pages and forms: 退回, 撤回, 转办, 委派, 会签/加签, 抄送 and 催办 (engine/tasks/*)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Blueprint, flash, g, redirect, request, url_for
from sqlalchemy import select

from engine.errors import BianminError
from engine.models import Case, Task
from engine.people import access
from engine.tasks import sendback, transfer, withdraw
from engine.vocabulary import CaseStatus, TaskOperation, TaskStatus

from . import cases, helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("operations", __name__)


# -- 退回 and 撤回 -------------------------------------------------------------------------------


@bp.app_template_global()
def send_back_offer(task: Task) -> list[sendback.EarlierStep] | None:
    """The earlier steps the viewer may send this task's case back to, or None when 退回 is not theirs."""
    if not access.may_operate(g.user, TaskOperation.SEND_BACK, task, task.case):
        return None
    svc = helpers.services()
    with svc.db.read() as db:
        return sendback.offered(svc.cases, db, db.get(Case, task.case_id), task.id)


@bp.app_template_global()
def withdraw_offers(case: Case) -> list[dict[str, Any]]:
    """The viewer's completed steps of this case they may still take back (撤回), with the reason if not."""
    if case.status != CaseStatus.RUNNING:
        return []
    with helpers.services().db.read() as db:
        mine = db.scalars(select(Task).where(Task.case_id == case.id, Task.status == TaskStatus.COMPLETED,
                                             Task.completed_by_id == g.user.id).order_by(Task.completed_at.desc()))
        # Only the latest can be open to it: anything completed after it has acted on the case since.
        latest = next(iter(mine), None)
        if latest is None or not access.may_operate(g.user, TaskOperation.WITHDRAW, latest, case):
            return []
        return [{"task": latest, "blocked": withdraw.blocker(db, case.id, latest.id)}]


@bp.post("/tasks/<task_id>/send-back")
@login_required
def send_back(task_id: str) -> Any:
    target, reason = request.form.get("target", ""), request.form.get("reason", "")
    try:
        step = helpers.services().cases.send_back(g.user.id, task_id, target, reason)
    except BianminError as exc:
        return cases.render_task(task_id, operation={"name": "send_back", "error": exc.message,
                                                     "form": request.form}, status=exc.status)
    names = "、".join(dict.fromkeys(task.name for task in step.open_tasks)) or t("none")
    flash(t("sent_back_done", case=step.case.case_number, steps=names), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_id>/withdraw")
@login_required
def withdraw_task(task_id: str) -> Any:
    with helpers.services().db.read() as db:
        withdrawn = helpers.visible_task(db, task_id)
        case_id, element_id = withdrawn.case_id, withdrawn.element_id
    try:
        step = helpers.services().cases.withdraw(g.user.id, task_id, request.form.get("reason", ""))
    except BianminError as exc:
        return cases.render_case(case_id, operation={"name": "withdraw", "error": exc.message,
                                                     "form": request.form}), exc.status
    again = next((task for task in step.open_tasks if task.element_id == element_id), None)
    flash(t("withdrawn_done", case=step.case.case_number), "success")
    return redirect(url_for("cases.task", task_id=again.id) if again else url_for("cases.case", case_id=case_id))



# -- 转办 and 委派 -------------------------------------------------------------------------------


@bp.app_template_global()
def hand_offer(task: Task) -> dict[str, Any] | None:
    """Where the viewer may hand this open task: other posts (转办) and colleagues (委派), each None when that
    operation is not theirs; None when neither is."""
    if task.status != TaskStatus.OPEN:
        return None
    may = {operation: access.may_operate(g.user, operation, task, task.case)
           for operation in (TaskOperation.TRANSFER, TaskOperation.DELEGATE)}
    if not any(may.values()):
        return None
    with helpers.services().db.read() as db:
        offered = transfer.offered(db, g.user, (task.role_code, task.org_id), task.case)
    # Posts by unit, village first as they are listed (Jinja's groupby would sort the units by name).
    units = [(unit, list(posts)) for unit, posts in groupby(offered.posts, key=lambda post: post.unit)]
    return {"posts": units if may[TaskOperation.TRANSFER] else None,
            "colleagues": offered.colleagues if may[TaskOperation.DELEGATE] else None}


@bp.app_template_global()
def may_recall_delegation(task: Task) -> bool:
    return access.may_recall_delegation(g.user, task)


def _named(task_id: str) -> tuple[str, str]:
    """The case number and step name a flash message names, read before the task moves on."""
    with helpers.services().db.read() as db:
        found = helpers.visible_task(db, task_id)
        return found.case.case_number, found.name


def _refused(task_id: str, name: str, exc: BianminError) -> Any:
    """The task page again with the refused operation's form open, the engine's message and what was typed."""
    return cases.render_task(task_id, operation={"name": name, "error": exc.message, "form": request.form},
                             status=exc.status)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 18 else None


@bp.post("/tasks/<task_id>/transfer")
@login_required
def transfer_task(task_id: str) -> Any:
    number, step = _named(task_id)
    # The choice is "role@org id", as the page lists the posts.
    role, _, org = request.form.get("post", "").partition("@")
    try:
        post = helpers.services().cases.transfer(g.user.id, task_id, role, _number(org),
                                                 request.form.get("reason", ""))
    except BianminError as exc:
        return _refused(task_id, "transfer", exc)
    flash(t("transferred_done", case=number, step=step, post=post.label), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_id>/delegate")
@login_required
def delegate_task(task_id: str) -> Any:
    number, step = _named(task_id)
    try:
        colleague = helpers.services().cases.delegate(g.user.id, task_id, _number(request.form.get("user", "")),
                                                      request.form.get("reason", ""))
    except BianminError as exc:
        return _refused(task_id, "delegate", exc)
    flash(t("delegated_done", case=number, step=step, who=colleague.display_name), "success")
    return redirect(url_for("inbox.index"))


@bp.post("/tasks/<task_id>/delegate/recall")
@login_required
def recall_delegation(task_id: str) -> Any:
    number, step = _named(task_id)
    try:
        helpers.services().cases.recall_delegation(g.user.id, task_id)
    except BianminError as exc:
        return cases.render_task(task_id, conflict=exc.message, status=exc.status)
    flash(t("recalled_done", case=number, step=step), "success")
    return redirect(url_for("cases.task", task_id=task_id))


# -- 会签/或签 and 加签 -------------------------------------------------------------------------


# -- 抄送 and 催办 -------------------------------------------------------------------------------
