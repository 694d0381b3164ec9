"""人员与区划: administrators keep the org tree, accounts, posts, roles and API tokens, and read the system events."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit import system
from engine.errors import BianminError, Forbidden
from engine.models import SystemEvent, User
from engine.people import access, accounts, places
from engine.vocabulary import SystemEventKind

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("people", __name__, url_prefix="/people")

SECTIONS = ("places", "accounts", "posts", "roles", "tokens")
EVENTS_LIMIT = 200


def _admin() -> None:
    if not access.may_manage_people(g.user):
        raise Forbidden("只有系统管理员可以维护人员、岗位、角色、区划和访问令牌")


def _section_data(session: Session, section: str) -> dict[str, Any]:
    """What each section's page lists; the forms' choices come with it."""
    data: dict[str, Any] = {"tree": places.tree(session), "roles": places.roles(session)}
    if section in ("accounts", "posts", "tokens"):
        data["users"] = list(session.scalars(select(User).order_by(User.org_id, User.role_code, User.post_rank)))
    if section == "posts":
        data["posts"] = places.posts(session)
    if section == "tokens":
        data["tokens"] = accounts.tokens(session)
        data["now"] = clock.now()
    return data


def _page(section: str, *, error: BianminError | None = None, secret: dict[str, str] | None = None,
          form: dict[str, str] | None = None) -> Any:
    with helpers.services().db.read() as session:
        data = _section_data(session, section)
    status = error.status if error else 200
    response = render_template("people.html", section=section, error=error, secret=secret, form=form or {},
                               levels=places.LEVELS, child_level=places.CHILD_LEVEL, **data)
    # A password or token shown once must not stay in a cache.
    return response, status, {"Cache-Control": "no-store"} if secret else {}


@bp.route("")
@login_required
def index() -> Any:
    _admin()
    return redirect(url_for("people.section", section="places"))


@bp.route("/<any(places, accounts, posts, roles, tokens):section>")
@login_required
def section(section: str) -> Any:
    _admin()
    return _page(section)


def _field(name: str) -> str:
    return request.form.get(name, "").strip()


@bp.post("/<any(places, accounts, posts, roles, tokens):section>")
@login_required
def act(section: str) -> Any:
    """Every change of a section: the form's `action` names the engine operation; refusals change nothing."""
    _admin()
    action = _field("action")
    operation = OPERATIONS.get((section, action))
    if operation is None:
        raise BianminError("未知的操作")
    try:
        with helpers.services().db.write() as session:
            done, secret = operation(session)
    except BianminError as exc:
        return _page(section, error=exc, form=dict(request.form))
    if secret:
        return _page(section, secret=secret)
    flash(done, "success")
    return redirect(url_for("people.section", section=section))


Result = tuple[str, dict[str, str] | None]


def _add_org(session: Session) -> Result:
    unit = places.add_org(session, _field("code"), _field("name"), _field("parent"), by=g.user)
    return t("people_org_added", name=unit.name, code=unit.code), None


def _rename_org(session: Session) -> Result:
    unit = places.rename_org(session, _field("code"), _field("name"), by=g.user)
    return t("people_renamed", name=unit.name), None


def _set_contact(session: Session) -> Result:
    unit = places.set_contact(session, _field("code"), _field("address"), _field("phone"), by=g.user)
    return t("people_contact_saved", name=unit.name), None


def _add_user(session: Session) -> Result:
    password = accounts.generated_password()
    user = accounts.add_user(session, _field("username"), _field("role"), _field("org"),
                             display_name=_field("display_name"), password=password,
                             post_rank=_field("rank") or "A", by=g.user)
    return "", {"title": t("people_user_added", name=user.display_name, username=user.username),
                "label": t("people_initial_password"), "value": password}


def _set_active(session: Session) -> Result:
    active = _field("active") == "1"
    user = accounts.set_active(session, _field("username"), active, by=g.user)
    return t("people_reactivated" if active else "people_deactivated", name=user.display_name), None


def _reset_password(session: Session) -> Result:
    password = accounts.generated_password()
    user = accounts.set_password(session, _field("username"), password, by=g.user)
    return "", {"title": t("people_password_reset", name=user.display_name, username=user.username),
                "label": t("people_new_password"), "value": password}


def _away(session: Session) -> Result:
    user = accounts.set_away(session, _field("username"), True, substitute=_field("substitute") or None, by=g.user)
    if user.substitute is not None:
        return t("people_away_substitute", name=user.display_name, substitute=user.substitute.display_name), None
    return t("people_away_b", name=user.display_name), None


def _back(session: Session) -> Result:
    user = accounts.set_away(session, _field("username"), False, by=g.user)
    return t("people_back", name=user.display_name), None


def _add_role(session: Session) -> Result:
    role = places.add_role(session, _field("code"), _field("name"), _field("level"), by=g.user)
    return t("people_role_added", name=role.name, code=role.code), None


def _rename_role(session: Session) -> Result:
    role = places.rename_role(session, _field("code"), _field("name"), by=g.user)
    return t("people_renamed", name=role.name), None


def _create_token(session: Session) -> Result:
    try:
        days = int(_field("days") or accounts.DEFAULT_TOKEN_DAYS)
    except ValueError as exc:
        raise BianminError(f"令牌有效期应为 1–{accounts.MAX_TOKEN_DAYS} 天的整数") from exc
    username = _field("username")
    token = accounts.create_token(session, username, days, by=g.user)
    return "", {"title": t("people_token_created", username=username, days=days),
                "label": t("people_token"), "value": token}


def _revoke_token(session: Session) -> Result:
    try:
        token_id = int(_field("token_id"))
    except ValueError as exc:
        raise BianminError("令牌编号无效") from exc
    accounts.revoke_token(session, token_id, by=g.user)
    return t("people_token_revoked", id=token_id), None


OPERATIONS = {
    ("places", "add"): _add_org, ("places", "rename"): _rename_org, ("places", "contact"): _set_contact,
    ("accounts", "add"): _add_user, ("accounts", "active"): _set_active, ("accounts", "password"): _reset_password,
    ("posts", "away"): _away, ("posts", "back"): _back,
    ("roles", "add"): _add_role, ("roles", "rename"): _rename_role,
    ("tokens", "create"): _create_token, ("tokens", "revoke"): _revoke_token,
}


@bp.route("/events")
@login_required
def events() -> Any:
    """The system chain, newest first, one kind or all; where the chain is broken, if it is."""
    _admin()
    kind = request.args.get("kind", "")
    kind = kind if kind in set(SystemEventKind) else ""
    query = select(SystemEvent).order_by(SystemEvent.seq.desc()).limit(EVENTS_LIMIT)
    if kind:
        query = query.where(SystemEvent.kind == kind)
    with helpers.services().db.read() as session:
        rows = list(session.scalars(query))
        findings = system.verify(session)
    return render_template("system_events.html", rows=rows, kind=kind, kinds=list(SystemEventKind),
                           findings=findings, limit=EVENTS_LIMIT)
