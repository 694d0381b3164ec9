"""Log in and out, the `login_required` decorator that loads `g.user`, and the user's own away flag."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from engine.models import User
from engine.people import accounts

from . import helpers
from .i18n import t

bp = Blueprint("auth", __name__)
bp.record_once(helpers.install)

F = TypeVar("F", bound=Callable[..., Any])


def _load_user() -> User | None:
    user_id = session.get("user_id")
    if user_id is None:
        return None
    with helpers.services().db.read() as db:
        user = db.get(User, user_id)
    if user is None or not user.active:
        session.pop("user_id", None)
        return None
    return user


def login_required(view: F) -> F:
    """Load the signed-in staff member into `g.user` for this request, or send them to the login page."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.user = _load_user()
        if g.user is None:
            flash(t("login_required"), "info")
            return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths: never redirect off the site after logging in."""
    if not target:
        return url_for("inbox.index")
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
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        with helpers.services().db.read() as db:
            user = accounts.authenticate(db, username, password) if username and password else None
        if user is None:
            error = t("login_failed")
        else:
            _fresh_session()  # no fixation across the login boundary
            session["user_id"] = user.id
            flash(t("welcome", name=user.display_name), "success")
            return redirect(_safe_next(request.form.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error, username=username,
                           next=request.values.get("next", "")), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    _fresh_session()
    flash(t("logged_out"), "info")
    return redirect(url_for("auth.login"))


@bp.route("/me/away", methods=["POST"])
@login_required
def toggle_away() -> Any:
    away = not g.user.away
    with helpers.services().db.write() as db:
        accounts.set_away(db, g.user.username, away)
    flash(t("now_away" if away else "now_present"), "info")
    return redirect(_safe_next(request.form.get("next")))
