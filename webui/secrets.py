"""接口机密: administrators enter the connectors' API keys and passwords and see which names are stored, set by whom
and when, and where they are used; a value is never shown, echoed back or logged once it is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine import clock, secrets
from engine.errors import Forbidden, SecretsUnavailable, ValidationFailed
from engine.people import access

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("secrets", __name__)
# The page lists names only, but a form holding a typed key is better not kept by any cache on the way.
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class Row:
    """One secret name on the page: stored (when, by whom) or only named by a setting or a diagram so far."""

    name: str
    updated_at: datetime | None = None
    updated_by: str | None = None
    references: list[secrets.Reference] = field(default_factory=list)


def _admin() -> None:
    if not access.may_manage_secrets(g.user):
        raise Forbidden("只有系统管理员可以管理接口机密")


def _page(name: str = "", error: ValidationFailed | SecretsUnavailable | None = None, status: int = 200) -> Any:
    svc = helpers.services()
    with svc.db.read() as session:
        stored = secrets.listed(session)
        used = secrets.references(session, svc.cases.versions, svc.settings,
                                  svc.outbound())
    rows = {row.name: Row(row.name, row.updated_at, row.updated_by) for row in stored}
    for secret_name, where in used.items():
        rows.setdefault(secret_name, Row(secret_name)).references = where
    # The value typed is never put back into the form: only the name is, for a correction.
    return render_template("secrets.html", rows=sorted(rows.values(), key=lambda row: row.name), name=name,
                           error=error, key_problem=secrets.key_problem(svc.settings)), status, NO_STORE


@bp.route("/secrets")
@login_required
def index() -> Any:
    _admin()
    return _page()


@bp.post("/secrets")
@login_required
def enter() -> Any:
    _admin()
    svc = helpers.services()
    name = request.form.get("name", "").strip()
    try:
        with svc.db.write() as session:
            secrets.store(session, name, request.form.get("value", ""), g.user.id, clock.now(), settings=svc.settings)
    except (ValidationFailed, SecretsUnavailable) as exc:
        return _page(name, exc, exc.status)
    flash(t("secrets_saved", name=name), "success")
    return redirect(url_for("secrets.index"))
