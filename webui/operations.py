"""The task operations' pages and forms: 退回, 撤回, 转办, 委派, 会签/加签, 抄送 and 催办 (engine/tasks/*)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, request, url_for
from sqlalchemy import select

from engine.errors import BianminError
from engine.models import Case, Task
from engine.people import access
from engine.tasks import sendback, withdraw
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


# -- 会签/或签 and 加签 -------------------------------------------------------------------------


# -- 抄送 and 催办 -------------------------------------------------------------------------------
