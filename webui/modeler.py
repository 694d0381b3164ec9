"""流程建模: bpmn-js and its properties panel over a procedure draft, for administrators; bundled at set-up."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any, Literal

from flask import Blueprint, current_app, g, make_response, render_template, request
from sqlalchemy import select

from connectors import REGISTRY
from engine.errors import Forbidden, NotFound
from engine.models import ProcedureDraft, Role
from engine.people import access
from engine.procedures import checks
from engine.userinput import BadInput, check_text

from . import helpers
from .auth import login_required

bp = Blueprint("modeler", __name__)

BUNDLE = Path("build") / "modeler.js"
# What the panel may ask about, as the deploy check names and compiles it.
CODE_KINDS: dict[str, tuple[str, Literal["exec", "eval"]]] = {
    "script": ("脚本", "exec"),
    "condition": ("条件表达式", "eval"),
    "timer": (checks.TIMER, "eval"),
}


# The properties panel builds its two containers from HTML with these style attributes; the page's policy allows
# exactly these two (by hash), not inline styles in general.
PANEL_STYLES = ("height: 100%", "flex: none; height: auto")
PANEL_STYLE_HASHES = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'"
                              for style in PANEL_STYLES)
CONTENT_SECURITY_POLICY = helpers.CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", f"style-src 'self'; style-src-attr 'unsafe-hashes' {PANEL_STYLE_HASHES}")


def _require_modeler() -> None:
    if not access.may_model(g.user):
        raise Forbidden("只有系统管理员可以建模和发布流程")


@bp.route("/modeler/<int:draft_id>")
@login_required
def page(draft_id: int) -> Any:
    _require_modeler()
    with helpers.services().db.read() as db:
        draft = db.get(ProcedureDraft, draft_id)
        if draft is None:
            raise NotFound("草稿不存在")
        name, closed = draft.name, draft.published_version_id is not None
    built = (Path(current_app.static_folder or "") / BUNDLE).is_file()
    response = make_response(render_template("modeler.html", draft_id=draft_id, name=name, closed=closed,
                                             built=built))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@bp.route("/modeler/roles")
@login_required
def roles() -> Any:
    """The posts a lane may stand for: the lane's name is the role code."""
    _require_modeler()
    with helpers.services().db.read() as db:
        rows = db.scalars(select(Role).order_by(Role.level, Role.code)).all()
        return {"roles": [{"code": role.code, "name": role.name, "level": role.level} for role in rows]}


@bp.route("/modeler/connectors")
@login_required
def connectors() -> Any:
    """What a service task may call: each connector's name, title and declared parameters (never a secret)."""
    _require_modeler()
    return {"connectors": [{"name": c.name, "title": c.title, "parameters": c.parameters,
                            "secret_parameters": list(c.secret_parameters)}
                           for c in sorted(REGISTRY.values(), key=lambda c: c.name)]}


@bp.route("/modeler/check-code", methods=["POST"])
@login_required
def check_code() -> Any:
    """One script, condition or timer expression checked as `bianmin deploy` checks it, while it is typed."""
    _require_modeler()
    sent = request.get_json(silent=True)
    if not isinstance(sent, dict) or sent.get("kind") not in CODE_KINDS or not isinstance(sent.get("source"), str):
        raise BadInput("请求应为 JSON：kind（script、condition 或 timer）与 source（代码文本）")
    timer = sent.get("timer") or ""
    if sent["kind"] == "timer" and timer not in checks.TIMERS:
        raise BadInput(f"定时器类型应为 {'、'.join(checks.TIMERS)} 之一")
    check_text(sent["source"], "代码")
    kind, mode = CODE_KINDS[sent["kind"]]
    if not sent["source"].strip():
        return {"problems": []}
    _refused, message = checks.code_problem(kind, mode, sent["source"], timer)
    return {"problems": [message] if message else []}
