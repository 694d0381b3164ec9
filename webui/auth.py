"""Log in and out, the `login_required` decorator that loads `g.user`, the user's own password and away flag."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from engine.errors import BianminError, Unauthorized, ValidationFailed
from engine.models import User
from engine.people import access, accounts, signin

from . import helpers
from .i18n import t

bp = Blueprint("auth", __name__)
bp.record_once(helpers.install)

F = TypeVar("F", bound=Callable[..., Any])


def load_user() -> User | None:
    """The session's user while the session is still one of theirs (see `accounts.end_sessions`)."""
    user_id = session.get("user_id")
    if user_id is None:
        return None
    with helpers.services().db.read() as db:
        user = db.get(User, user_id)
    if user is None or not user.active or session.get("session_version") != user.session_version:
        _fresh_session()
        return None
    return user


def _sign_in_session(user: User) -> None:
    _fresh_session()  # no fixation across the login boundary
    session["user_id"] = user.id
    session["session_version"] = user.session_version


def login_required(view: F) -> F:
    """Load the signed-in staff member into `g.user` for this request, or send them to the login page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.user = load_user()
        if g.user is None:
            flash(t("login_required"), "info")
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None, home: str | None = None) -> str:
    """Only same-site relative paths: never redirect off the site after logging in; `home` when none was asked."""
    if not target:
        return home or url_for("inbox.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("inbox.index")
    return target.rstrip("?") or url_for("inbox.index")


def _fresh_session() -> None:
    """Drop everything the session held but the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    username = ""
    status, headers = 200, {}
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        error, status = t("login_failed"), 401
        try:
            if username and password:
                user = signin.sign_in(helpers.services().db, username, password, request.remote_addr)
                _sign_in_session(user)
                flash(t("welcome", name=user.display_name), "success")
                home = url_for("audit.index") if access.lands_on_audit_desk(user) else None
                return redirect(_safe_next(request.form.get("next"), home))
        except signin.TooManyAttempts as exc:
            error, status, headers = exc.message, exc.status, {"Retry-After": str(exc.retry_after)}
        except Unauthorized:
            pass  # the same words for an unknown name, a wrong password and a disabled account
    return render_template("login.html", error=error, username=username,
                           next=request.values.get("next", "")), status, headers


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    """Ends every session of the account, so a copy of this browser's cookie is worthless too."""
    user = load_user()
    if user is not None:
        with helpers.services().db.write() as db:
            accounts.sign_out(db, user.id)
    _fresh_session()
    flash(t("logged_out"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    """The user's own new password; their sessions elsewhere end, this one goes on under the new version."""
    errors: dict[str, list[str]] = {}
    status, headers = 422, {}
    if request.method == "POST":
        old = request.form.get("old_password", "")
        new = request.form.get("new_password", "")
        again = request.form.get("new_password_again", "")
        if not old:
            errors["old_password"] = [t("old_password_missing")]
        if new != again:
            errors["new_password_again"] = [t("passwords_differ")]
        if not errors:
            svc = helpers.services()
            try:
                # Guessing the old password from a stolen session is throttled and recorded like a login.
                signin.sign_in(svc.db, g.user.username, old, request.remote_addr, via="password_change")
                with svc.db.write() as db:
                    user = accounts.change_password(db, g.user.id, old, new)
            except signin.TooManyAttempts as exc:
                errors = {"old_password": [exc.message]}
                status, headers = exc.status, {"Retry-After": str(exc.retry_after)}
            except Unauthorized:
                errors = {"old_password": [accounts.WRONG_OLD_PASSWORD]}
            except ValidationFailed as exc:
                errors = exc.fields
            else:
                _sign_in_session(user)
                flash(t("password_changed"), "success")
                return redirect(url_for("inbox.index"))
    summary = [message for messages in errors.values() for message in messages]
    return render_template("password.html", errors=errors, summary=summary), status if errors else 200, headers


@bp.route("/me/away", methods=["POST"])
@login_required
def toggle_away() -> Any:
    away = not g.user.away
    try:
        with helpers.services().db.write() as db:
            accounts.set_away(db, g.user.username, away, by=g.user)
    except BianminError as exc:
        # A post without a B holder: only an administrator, naming a substitute, can mark it away.
        flash(f"{exc.message}，请联系系统管理员", "error")
    else:
        flash(t("now_away" if away else "now_present"), "info")
    return redirect(_safe_next(request.form.get("next")))
