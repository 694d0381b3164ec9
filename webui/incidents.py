"""异常办件: the administrators' page of cases whose timed path failed, with their retries."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template

from engine.cases import incidents
from engine.errors import Forbidden
from engine.people import access

from . import helpers
from .auth import login_required

bp = Blueprint("incidents", __name__)

LIMIT = 300


@bp.route("/incidents")
@login_required
def index() -> Any:
    if not access.may_see_incidents(g.user):
        raise Forbidden("只有系统管理员可以查看异常办件")
    svc = helpers.services()
    with svc.db.read() as db:
        rows = incidents.open_incidents(db, LIMIT)
    return render_template("incidents.html", rows=rows, retry=svc.cases.retry, truncated=len(rows) >= LIMIT,
                           limit=LIMIT)
