"""The task operations' pages and forms: 退回, 撤回, 转办, 委派, 会签/加签, 抄送 and 催办 (engine/tasks/*)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, request, url_for
from sqlalchemy import select

from engine.errors import BianminError
from engine.models import Case, Task
from engine.people import access
from engine.procedures import forms
from engine.procedures.spiff import LoadedVersion
from engine.tasks import addsign, countersign, sendback, withdraw
from engine.vocabulary import CaseStatus, TaskOperation, TaskStatus

from . import cases, formrender, helpers
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


@bp.app_template_global()
def case_signings(case: Case) -> dict[str, Any]:
    """Every round of signing of the case (会签, 加签) as the case page shows it, and the diagram's tally of the
    latest one on each element."""
    svc = helpers.services()
    with svc.db.read() as db:
        version = svc.cases.versions.get(db, case.version_id)
        rounds = [_shown(version, signing) for signing in countersign.signings(db, version, case.id)]
    return {"rounds": rounds, "tallies": {row["signing"].element_id: _tally(row["signing"]) for row in rounds}}


@bp.app_template_global()
def sign_panel(task: Task) -> dict[str, Any]:
    """What the task page shows of signing: the rounds the task signs in or waits on, the signer added to it who
    has yet to sign, and the posts the viewer may add as signer (None when 加签 is not theirs now)."""
    svc = helpers.services()
    with svc.db.read() as db:
        case = db.get(Case, task.case_id)
        version = svc.cases.versions.get(db, case.version_id)
        rounds = [_shown(version, signing) for signing in countersign.signings(db, version, case.id)
                  if signing.task_id in (task.id, task.signing_for)]
        added = next((signature for row in rounds for signature in row["signing"].signatures
                      if row["signing"].task_id == task.id and signature.position
                      and signature.status in (TaskStatus.OPEN, TaskStatus.PENDING)), None)
        offer = None
        # One added signer at a time: the engine refuses another while one is still to sign.
        if task.status == TaskStatus.OPEN and added is None and access.may_operate(
                g.user, TaskOperation.ADD_SIGNER, task, case):
            offer = addsign.candidates(db, case, (task.role_code, task.org_id))
    return {"rounds": rounds, "offer": offer, "added": added}


def _shown(version: LoadedVersion, signing: countersign.Signing) -> dict[str, Any]:
    """A round with each signature's decision in its form's words."""
    props = forms.task_form(version.forms, signing.form_file).get("properties") or {}
    field = props.get(signing.decision_field) if signing.decision_field else None
    return {"signing": signing, "decisions": {
        signature.task_id: formrender.display_value(field, signature.decision) if signature.answer else ""
        for signature in signing.signatures}}


def _tally(signing: countersign.Signing) -> dict[str, str]:
    """The diagram's note on a signed element: its mode, how many signed, and the outcome once decided."""
    state = ("approved" if signing.outcome else "refused") if signing.outcome is not None else (
        "cancelled" if signing.status == TaskStatus.CANCELLED else "signing")
    word = {"approved": t("sign_approved"), "refused": t("sign_refused"), "cancelled": t("sign_cancelled")}
    text = f"{t('sign_tag_' + signing.kind)} {signing.signed}/{signing.total}"
    return {"text": f"{text} {word[state]}" if state in word else text, "state": state, "title": mode_text(signing)}


@bp.app_template_global()
def mode_text(signing: countersign.Signing) -> str:
    holder = signing.holder or t("system")
    return t(f"sign_mode_{signing.kind}", n=signing.total, ratio=signing.ratio, needed=signing.needed, holder=holder)


@bp.post("/tasks/<task_id>/signers")
@login_required
def add_signer(task_id: str) -> Any:
    role, _, org = request.form.get("post", "").partition("@")
    position = request.form.get("position", "")
    try:
        added = helpers.services().cases.add_signer(g.user.id, task_id, role, int(org) if org.isdigit() else 0,
                                                    position, request.form.get("reason", ""))
    except BianminError as exc:
        return cases.render_task(task_id, operation={"name": "add_signer", "error": exc.message,
                                                     "form": request.form}, status=exc.status)
    with helpers.services().db.read() as db:
        number = helpers.visible_task(db, task_id).case.case_number
    flash(t(f"signer_added_{added.position}", post=added.post.name, case=number), "success")
    return redirect(url_for("inbox.index") if added.position == addsign.BEFORE else
                    url_for("cases.task", task_id=task_id))


# -- 抄送 and 催办 -------------------------------------------------------------------------------
