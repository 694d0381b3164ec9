"""每日存证: the daily anchors for auditors, supervisors and administrators — list, download, check one again."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, g, render_template, send_file

from engine.audit import anchors
from engine.errors import Forbidden, NotFound
from engine.models import AuditAnchor
from engine.people import access

from . import helpers
from .auth import login_required

bp = Blueprint("anchors", __name__, url_prefix="/audit/anchors")

LIMIT = 400  # more than a year of days


def _keeper() -> None:
    if not access.may_check_record(g.user):
        raise Forbidden("只有审计、电子监察和系统管理员可以查看和核对每日存证锚点")


def _anchor(day: str) -> AuditAnchor:
    try:
        wanted = date.fromisoformat(day)
    except ValueError:
        raise NotFound(f"“{day}”不是有效日期") from None
    with helpers.services().db.read() as session:
        row = anchors.stored_for(session, wanted)
    if row is None:
        raise NotFound(f"{day} 没有生成锚点")
    return row


def _page(checked: anchors.Checked | None = None, status: int = 200) -> Any:
    with helpers.services().db.read() as session:
        rows = list(anchors.listed(session, LIMIT))
    return render_template("anchors.html", rows=rows, checked=checked, limit=LIMIT,
                           files={row.id: Path(row.path).is_file() for row in rows}), status


@bp.route("")
@login_required
def index() -> Any:
    _keeper()
    return _page()


@bp.route("/<day>/file")
@login_required
def download(day: str) -> Any:
    _keeper()
    row = _anchor(day)
    path = Path(row.path)
    if not path.is_file():
        raise NotFound(f"{day} 的锚点文件 {path.name} 已不在本系统中：请用另存的副本，"
                       "或运行 bianmin audit check-anchor 核对摘要")
    mimetype = "application/gzip" if path.suffix == ".gz" else "application/json"
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=path.name)


@bp.post("/<day>/check")
@login_required
def check(day: str) -> Any:
    """Recheck one anchor: its file when it is still here, else the digest recorded for it."""
    _keeper()
    row = _anchor(day)
    with helpers.services().db.read() as session:
        checked = anchors.recheck(session, row)
    return _page(checked)
