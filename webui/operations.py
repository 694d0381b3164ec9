"""The task operations' pages and forms: 退回, 撤回, 转办, 委派, 会签/加签, 抄送 and 催办 (engine/tasks/*)."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit import desk
from engine.errors import BianminError, NotFound
from engine.models import Case, OrgUnit, Role, Task, User
from engine.people import access
from engine.procedures import forms
from engine.procedures.spiff import LoadedVersion
from engine.tasks import addsign, countersign, sendback, transfer, withdraw
from engine.tasks import chase as chasing
from engine.tasks import copy as copying
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


def _copy_targets(db: Session, case: Case, own: tuple[str, int]) -> list[dict[str, Any]]:
    """The posts with someone on them that serve the case (its village, town and county at each role's level),
    the task's own post left out, village first; as the copy form offers them."""
    rows = db.execute(
        select(Role.code, Role.name, Role.level, OrgUnit.id, OrgUnit.name.label("org_name")).distinct()
        .select_from(User).join(Role, Role.code == User.role_code).join(OrgUnit, OrgUnit.id == User.org_id)
        .where(User.active.is_(True), User.org_id.in_([case.village_id, case.town_id, case.county_id])))
    order = {"village": 0, "town": 1, "county": 2}
    return [{"value": f"{row.code}@{row.id}", "name": f"{row.org_name} {row.name}", "level": row.level}
            for row in sorted(rows, key=lambda row: (order.get(row.level, 3), row.code))
            if access.may_receive_task(row.level, row.id, case) and access.may_be_copied(row.code)
            and (row.code, row.id) != own]


@bp.app_template_global()
def copy_offer(task: Task) -> list[dict[str, Any]] | None:
    """The posts the viewer may copy this task's case to, or None when 抄送 is not theirs."""
    if task.status != TaskStatus.OPEN or not access.may_operate(g.user, TaskOperation.COPY, task, task.case):
        return None
    with helpers.services().db.read() as db:
        return _copy_targets(db, task.case, (task.role_code, task.org_id))


@bp.app_template_global()
def chase_offer(task: Task, case: Case) -> bool:
    return access.may_operate(g.user, TaskOperation.CHASE, task, case)


@bp.app_template_global()
def copies_unread() -> int:
    """The 抄送我的 link's number: copies to the viewer's posts not yet opened."""
    with helpers.services().db.read() as db:
        return copying.count(db, g.user, unread_only=True)


@bp.app_template_global()
def case_copies_and_chases(case: Case) -> dict[str, Any]:
    with helpers.services().db.read() as db:
        return {"copies": copying.of_case(db, case.id), "chases": chasing.of_case(db, case.id)}


def _posted_posts(values: list[str]) -> list[copying.Post]:
    """The form's `post` checkboxes (`role@org id`) as the engine names posts; a malformed one names no post."""
    posts = []
    for value in values:
        role, _, org = value.rpartition("@")
        posts.append(copying.Post(role, int(org) if org.isdigit() and len(org) <= 9 else 0))
    return list(dict.fromkeys(posts))


@bp.post("/tasks/<task_id>/copy")
@login_required
def copy_task(task_id: str) -> Any:
    try:
        made = helpers.services().cases.copy_case(g.user.id, task_id, _posted_posts(request.form.getlist("post")),
                                                  request.form.get("note", ""))
    except BianminError as exc:
        return cases.render_task(task_id, operation={"name": "copy", "error": exc.message, "form": request.form},
                                 status=exc.status)
    flash(t("copied_done", n=len(made)), "success")
    return redirect(url_for("cases.task", task_id=task_id))


@bp.get("/copies")
@login_required
def copies() -> Any:
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and len(page) <= 6 else 1
    with helpers.services().db.read() as db:
        total = copying.count(db, g.user)
        pages = desk.page_count(total)
        page = max(1, min(page, pages))
        rows = copying.copied_to(db, g.user, limit=desk.PAGE_SIZE, offset=(page - 1) * desk.PAGE_SIZE)
        unread = copying.count(db, g.user, unread_only=True)
    return render_template("copies.html", rows=rows, unread=unread,
                           found={"page": page, "pages": pages, "total": total})


@bp.get("/copies/<int:copy_id>")
@login_required
def open_copy(copy_id: int) -> Any:
    """Opened from 抄送我的: read for the post, and the case shown read-only, without any task action."""
    svc = helpers.services()
    with svc.db.write() as db:
        row = copying.mark_read(db, g.user, copy_id, clock.now())
        readable = {(post.role_code, post.org_id) for post in copying.posts_of(db, g.user)}
        if not access.may_see_copied_case(g.user, db.get(Case, row.case_id), readable,
                                          [(row.role_code, row.org_id)]):
            raise NotFound("抄送记录不存在")
    return cases.render_case(row.case_id, copied=row)


@bp.post("/tasks/<task_id>/chase")
@login_required
def chase_task(task_id: str) -> Any:
    with helpers.services().db.read() as db:
        case_id = helpers.visible_task(db, task_id).case_id
    try:
        helpers.services().cases.chase(g.user.id, task_id, request.form.get("note", ""))
    except BianminError as exc:
        return cases.render_case(case_id, operation={"name": "chase", "task_id": task_id, "error": exc.message,
                                                     "form": request.form}), exc.status
    flash(t("chased_done"), "success")
    return redirect(url_for("cases.case", case_id=case_id) + "#case-chases")
