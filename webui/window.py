"""The service window on the web: the case page's 代办记录 and its forms, the enquiries register (首问负责), and the
inbox sections 待回交 and 转来的咨询."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine import clock
from engine.audit import privacy
from engine.errors import Conflict, NotFound, ValidationFailed
from engine.models import Case, User
from engine.people import access, jurisdiction
from engine.window import enquiries, proxy

from . import helpers, personal
from .auth import login_required
from .i18n import t

bp = Blueprint("window", __name__)

LIMIT = 200


# -- 代办 on the case page ---------------------------------------------------------------------------


@bp.app_template_global()
def window_panel(case: Case) -> dict[str, Any]:
    """What `_case_proxy.html` shows: the 首问责任人, the 代办 steps, and the forms this user may fill next."""
    with helpers.services().db.read() as db:
        starter = db.get(User, case.started_by_id)
        done = proxy.progress(db, case)
        viewer = personal.viewer(db, case)
    may_record = access.may_record_proxy(g.user, case)
    return {
        "first_contact": starter, "steps": [{
            "step": step, "name": proxy.NAMES[step.kind], "details": [
                (spec.label, _shown(viewer, spec.key, step.details[spec.key]))
                for spec in proxy.FIELDS[step.kind] if step.details.get(spec.key)],
        } for step in done.steps],
        "allowed": done.allowed if may_record else [], "fields": proxy.FIELDS, "names": proxy.NAMES,
        "now": clock.local_now().strftime("%Y-%m-%dT%H:%M"),
    }


def _shown(viewer: personal.Viewer, key: str, value: str) -> str:
    return value if key != "phone" or viewer.clear else viewer.data({key: value})[key]


@bp.route("/cases/<int:case_id>/proxy/<kind>", methods=["POST"])
@login_required
def record_proxy(case_id: int, kind: str) -> Any:
    if kind not in proxy.FIELDS:
        raise NotFound("没有这一代办环节")
    posted = {spec.key: request.form.get(spec.key, "") for spec in proxy.FIELDS[kind]}
    try:
        proxy.record(helpers.services().cases, g.user.id, case_id, kind, {**posted, "at": request.form.get("at")})
    except (ValidationFailed, Conflict) as exc:
        flash(t("proxy_refused", step=proxy.NAMES[kind], reason=exc.message), "error")
    else:
        flash(t("proxy_recorded", step=proxy.NAMES[kind]), "success")
    return redirect(url_for("cases.case", case_id=case_id, _anchor="proxy"))


@bp.app_template_global()
def enquiry_contact(enquiry: Any) -> str:
    """The contact number in clear for those who handle the enquiry, masked for others of the place."""
    user = g.user
    handles = user.id in (enquiry.registered_by_id, enquiry.owner_id) or access.holds_enquiry_post(user, enquiry)
    return enquiry.contact if handles else privacy.mask_phone(enquiry.contact)


# -- inbox sections ------------------------------------------------------------------------------


@bp.app_template_global()
def window_inbox() -> dict[str, Any]:
    """待回交 for village agents, and enquiries handed to this user's post and not yet taken."""
    user = g.user
    with helpers.services().db.read() as db:
        awaiting = proxy.awaiting_return(db, user, LIMIT) if user.role_code == access.PROXY_ROLE else []
        waiting = enquiries.listing(db, user, "post", LIMIT)
        mine = enquiries.count(db, user, "mine")
    return {"awaiting": awaiting, "enquiries": waiting, "my_enquiries": mine}


# -- enquiries (首问负责) ------------------------------------------------------------------------------


@bp.route("/enquiries", methods=["GET", "POST"])
@login_required
def index() -> Any:
    scope = request.args.get("scope", "mine")
    scope = scope if scope in enquiries.SCOPES else "mine"
    errors: dict[str, list[str]] = {}
    raw: dict[str, str] = {}
    if request.method == "POST":
        raw = {key: request.form.get(key, "") for key in
               ("person_name", "contact", "village", "matter", "answer_method", "answer")}
        try:
            made = enquiries.register(helpers.services().cases, g.user.id, raw)
        except ValidationFailed as exc:
            errors = exc.fields or {"": [exc.message]}
        else:
            flash(t("enq_registered", n=made.id), "success")
            return redirect(url_for("window.enquiry", enquiry_id=made.id))
    with helpers.services().db.read() as db:
        counts = {name: enquiries.count(db, g.user, name) for name in enquiries.SCOPES}
        rows = enquiries.listing(db, g.user, scope, LIMIT)
        villages = enquiries.villages(db, g.user)
    return render_template("enquiries.html", scope=scope, rows=rows, counts=counts, errors=errors, raw=raw,
                           villages=villages, methods=enquiries.ANSWER_METHODS,
                           may_register=access.may_register_enquiry(g.user), limit=LIMIT), 422 if errors else 200


@bp.route("/enquiries/<int:enquiry_id>")
@login_required
def enquiry(enquiry_id: int) -> Any:
    with helpers.services().db.read() as db:
        found = enquiries.one(db, g.user, enquiry_id)
        posts = jurisdiction.receiving_posts(db, found)
    return render_template("enquiry.html", e=found, posts=posts, methods=enquiries.ANSWER_METHODS,
                           may_answer=access.may_answer_enquiry(g.user, found) and found.status != "answered",
                           may_take=access.may_take_enquiry(g.user, found) and found.status != "answered")


@bp.route("/enquiries/<int:enquiry_id>/<action>", methods=["POST"])
@login_required
def act(enquiry_id: int, action: str) -> Any:
    cases = helpers.services().cases
    try:
        if action == "answer":
            enquiries.answer(cases, g.user.id, enquiry_id, request.form.to_dict())
        elif action == "transfer":
            role_code, _, org = request.form.get("post", "").partition("@")
            enquiries.transfer(cases, g.user.id, enquiry_id, role_code, int(org) if org.isdigit() else None,
                               request.form.get("note", ""))
        elif action == "take":
            enquiries.take(cases, g.user.id, enquiry_id)
        else:
            raise NotFound("没有这一操作")
    except (ValidationFailed, Conflict) as exc:
        flash(exc.message, "error")
    else:
        flash(t("enquiry_" + action + "_done"), "success")
    return redirect(url_for("window.enquiry", enquiry_id=enquiry_id))
