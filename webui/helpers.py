"""Shared view helpers: services, jurisdiction checks, Shanghai time formatting, CSRF tokens, template filters."""

from __future__ import annotations

import hmac
import secrets
from datetime import date, datetime
from typing import Any

from flask import Flask, current_app, g, render_template, request, session
from flask.sansio.blueprints import BlueprintSetupState
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from engine import clock, userinput
from engine.audit import privacy
from engine.errors import NotFound
from engine.idcard import mask_id_number
from engine.models import Case, Task
from engine.people import access
from engine.services import Services

from .i18n import t

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def services() -> Services:
    return current_app.extensions["bianmin"]


def visible_case(db: Session, case_id: int) -> Case:
    """A case outside the user's jurisdiction answers exactly like one that does not exist."""
    case = db.get(Case, case_id)
    if case is None or not access.may_see_case(g.user, case):
        raise NotFound("办件不存在")
    return case


def visible_task(db: Session, task_id: str) -> Task:
    task = db.get(Task, task_id)
    if task is None or not access.may_see_task(g.user, task, task.case):
        raise NotFound("任务不存在")
    return task


def local_time(value: datetime | str | None) -> str:
    """YYYY-MM-DD HH:MM in Asia/Shanghai; ISO strings (as stored in event payloads) are accepted."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M")


def local_date(value: date | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d")
    if isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%d")


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(24)
        session[CSRF_FIELD] = token
    return token


def _check_csrf() -> Any:
    if request.method != "POST" or request.path.startswith("/api/"):
        return None
    expected = session.get(CSRF_FIELD)
    # Pages that save by script (the modeler, the form editor) send it as a header instead of a form field.
    sent = request.form.get(CSRF_FIELD, "") or request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(str(expected), sent):
        return render_template("error.html", message=t("csrf_failed"), details=[]), 400
    return None


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _check_text() -> None:
    """Refuse, before any view reads it, a query, form field or path part that could not be stored or shown."""
    sent = [("网址中的", name, value) for name, value in (request.view_args or {}).items() if isinstance(value, str)]
    sent += [("查询参数", name, value) for name, value in request.args.items(multi=True)]
    if request.mimetype in _FORM_TYPES:
        sent += [("表单字段", name, value) for name, value in request.form.items(multi=True)]
    for kind, name, value in sent:
        # The name is the client's too (a multipart part may have none), and a message must not repeat what
        # cannot be shown.
        userinput.check_text(name or "", f"{kind}名称")
        userinput.check_text(value, f"{kind} {name} ")


def _not_found(_exc: Exception) -> Any:
    if request.path.startswith("/api/"):
        return {"error": "资源不存在"}, 404
    return render_template("error.html", message=t("not_found"), details=[]), 404


def allowed_methods(exc: HTTPException) -> dict[str, str]:
    """The `Allow` header a 405 answer must carry (RFC 9110), as the router found it."""
    return {name: value for name, value in exc.get_headers() if name == "Allow"}


def _method_not_allowed(exc: HTTPException) -> Any:
    if request.path.startswith("/api/"):
        return {"error": "不支持该请求方法"}, 405, allowed_methods(exc)
    return render_template("error.html", message=t("method_not_allowed"), details=[]), 405, allowed_methods(exc)


def _server_error(_exc: Exception) -> Any:
    if request.path.startswith("/api/"):
        return {"error": "系统内部错误"}, 500
    return render_template("error.html", message=t("server_error"), details=[]), 500


# Scripts and styles only from files this server serves: an injected inline <script> or handler never runs.
# data: images are the favicon placeholder and the icons inside bpmn-js's stylesheets.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "object-src 'none'",
    "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
HSTS = "max-age=31536000; includeSubDomains"


def _security_headers(response: Any) -> Any:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def install(state: BlueprintSetupState) -> None:
    """App-wide pieces, recorded once by the auth blueprint."""
    app: Flask = state.app
    app.before_request(_check_text)
    app.before_request(_check_csrf)
    app.register_error_handler(404, _not_found)
    app.register_error_handler(405, _method_not_allowed)
    app.register_error_handler(500, _server_error)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, CSRF_FIELD=CSRF_FIELD, mask_id=mask_id_number,
                                 REVEAL_REASONS=privacy.REASONS, may_see_reveals=access.may_see_reveals,
                                 may_accept=access.may_accept, may_see_incidents=access.may_see_incidents,
                                 may_manage_calendar=access.may_manage_calendar, may_model=access.may_model,
                                 may_manage_people=access.may_manage_people, may_check_record=access.may_check_record,
                                 may_manage_secrets=access.may_manage_secrets,
                                 may_register_enquiry=access.may_register_enquiry,
                                 may_read_refusals=access.may_read_refusals)
    app.jinja_env.filters.update(localtime=local_time, localdate=local_date)
