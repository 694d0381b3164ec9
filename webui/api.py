"""JSON API under /api/v1: bearer-token access to the org tree, service items, cases, tasks, history and deployment.

Every route but /openapi.json needs `Authorization: Bearer <token>`. Errors are JSON
`{"error": "<Chinese message>", "details": [...]}` with the engine's HTTP status.
"""

from __future__ import annotations

import posixpath
from datetime import date, datetime
from typing import Any

from flask import Blueprint, current_app, g, request, url_for
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException

from engine import clock
from engine.audit import chain, history
from engine.errors import BianminError, DeployRefused, Forbidden, NotFound, ValidationFailed
from engine.idcard import mask_id_number
from engine.models import Case, CaseEvent, OrgUnit, ProcedureVersion, Role, ServiceItem, Task, User
from engine.people import access, accounts
from engine.people.jurisdiction import Actor
from engine.procedures import bundle
from engine.procedures.deploy import deploy, known_roles
from engine.tasks import inbox

from .helpers import services
from .openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}
DEFAULT_TASK_LIMIT = 100
MAX_TASK_LIMIT = 500
UPLOAD_LABEL = "上传的流程"


class BadRequest(BianminError):
    status = 400


# -- plumbing -----------------------------------------------------------------------------------


def _user() -> Actor:
    return g.api_user


@bp.before_request
def _authenticate() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized("未登录：请在请求头 Authorization 中提供访问令牌（Bearer）")
    with services().db.read() as session:
        user = accounts.actor_for_token(session, token)
    if user is None:
        return _unauthorized("访问令牌无效、已撤销，或账号已停用")
    g.api_user = user
    return None


def _unauthorized(message: str) -> Any:
    return {"error": message, "details": []}, 401, {"WWW-Authenticate": 'Bearer realm="bianmin"'}


@bp.errorhandler(BianminError)
def _engine_error(exc: BianminError) -> Any:
    return {"error": exc.message, "details": exc.details}, exc.status


_HTTP_MESSAGES = {
    400: "请求格式不正确",
    404: "请求的资源不存在",
    405: "不支持该请求方法",
    413: "上传内容过大",
    415: "不支持的请求内容类型",
}


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    message = _HTTP_MESSAGES.get(status, "请求无法处理")
    if status == 413 and current_app.config.get("MAX_CONTENT_LENGTH"):
        message += f"（上限 {current_app.config['MAX_CONTENT_LENGTH'] // (1024 * 1024)} MB）"
    return {"error": message, "details": []}, status


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("请求体应为 JSON 对象，且 Content-Type 为 application/json")
    return body


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(clock.SHANGHAI).isoformat(timespec="seconds") if moment else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _person(username: str | None, display_name: str | None) -> dict[str, Any] | None:
    return {"username": username, "display_name": display_name} if username else None


def _place(code: str, name: str, level: str) -> dict[str, str]:
    return {"code": code, "name": name, "level": level}


# What the case and task payloads read, as Core statements built once: a case, its open tasks, task rows.
CASES, TASKS, ITEMS = Case.__table__, Task.__table__, ServiceItem.__table__
_VILLAGE, _TASK_ORG, _ASSIGNEE = OrgUnit.__table__.alias("village"), OrgUnit.__table__.alias("task_org"), \
    User.__table__.alias("assignee")
CASE_HEAD = select(
    CASES.c.id, CASES.c.case_number, CASES.c.item_code, ITEMS.c.name.label("item_name"), CASES.c.status,
    CASES.c.result, CASES.c.applicant_name, CASES.c.applicant_id_number, CASES.c.applicant_phone,
    CASES.c.village_id, CASES.c.town_id, CASES.c.county_id, _VILLAGE.c.code.label("village_code"),
    _VILLAGE.c.name.label("village_name"), _VILLAGE.c.level.label("village_level"), CASES.c.accepted_at,
    CASES.c.promised_date, CASES.c.promised_note, CASES.c.completed_at, CASES.c.variables,
).select_from(
    CASES.join(ITEMS, ITEMS.c.code == CASES.c.item_code).join(_VILLAGE, _VILLAGE.c.id == CASES.c.village_id)
).where(CASES.c.id == bindparam("case_id"))
OPEN_TASKS = select(
    TASKS.c.id, TASKS.c.name, TASKS.c.element_id, TASKS.c.role_code, Role.__table__.c.name.label("role_name"),
    _TASK_ORG.c.code.label("org_code"), _TASK_ORG.c.name.label("org_name"), _TASK_ORG.c.level.label("org_level"),
    _ASSIGNEE.c.username.label("assignee_username"), _ASSIGNEE.c.display_name.label("assignee_name"),
    TASKS.c.created_at, TASKS.c.form_file,
).select_from(
    TASKS.join(Role.__table__, Role.__table__.c.code == TASKS.c.role_code)
    .join(_TASK_ORG, _TASK_ORG.c.id == TASKS.c.org_id).outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == TASKS.c.assignee_id)
).where(TASKS.c.case_id == bindparam("case_id"), TASKS.c.status == "open").order_by(TASKS.c.created_at, TASKS.c.name)


# -- reference data -----------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Any:
    return document()


@bp.get("/orgs")
def orgs() -> Any:
    with services().db.read() as session:
        rows = session.execute(
            select(OrgUnit.id, OrgUnit.code, OrgUnit.name, OrgUnit.level, OrgUnit.parent_id).order_by(OrgUnit.code)
        ).all()
    nodes = {row.id: {"code": row.code, "name": row.name, "level": row.level, "children": []} for row in rows}
    roots = []
    for row in rows:
        parent = nodes.get(row.parent_id) if row.parent_id is not None else None
        (parent["children"] if parent else roots).append(nodes[row.id])
    return {"orgs": roots}


@bp.get("/items")
def items() -> Any:
    with services().db.read() as session:
        rows = session.execute(
            select(ServiceItem.code, ServiceItem.name, ProcedureVersion.version, ProcedureVersion.guide,
                   ProcedureVersion.forms, ProcedureVersion.deployed_at)
            .join(ProcedureVersion, ProcedureVersion.id == ServiceItem.current_version_id)
            .order_by(ServiceItem.code)
        ).all()
    result = []
    for row in rows:
        guide = row.guide
        form = guide.get("application_form")
        result.append({
            "code": row.code, "name": row.name, "version": row.version, "deployed_at": _iso(row.deployed_at),
            "case_type": guide.get("case_type"), "promised_days": guide.get("promised_days"),
            "statutory_days": guide.get("statutory_days"), "fee": guide.get("fee"),
            "department": guide.get("department"), "conditions": guide.get("conditions"),
            "basis": guide.get("basis"), "steps": guide.get("steps", []), "materials": guide.get("materials", []),
            "application_form": form, "application_schema": row.forms.get(form) if form else None,
        })
    return {"items": result}


# -- cases --------------------------------------------------------------------------------------


@bp.post("/cases")
def start_case() -> Any:
    body = _json_body()
    item_code, village_code = body.get("item_code"), body.get("village_code")
    problems = [f"{key} 应为非空文本" for key, value in (("item_code", item_code), ("village_code", village_code))
                if not isinstance(value, str) or not value.strip()]
    if problems:
        raise ValidationFailed("申请信息不完整：" + "；".join(problems), details=problems)
    case = services().cases.start_case(_user().id, item_code, village_code, body.get("applicant"),
                                   body.get("data", {})).case
    with services().db.read() as session:
        payload = _case_summary(session, _case_head(session, case.id))
    return payload, 201, {"Location": url_for("api.get_case", case_id=case.id)}


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int) -> Any:
    with services().db.read() as session:
        head = _visible_case(session, case_id)
        payload = _case_summary(session, head)
        payload["data"] = _submitted_data(session, case_id)
    payload["variables"] = head.variables or {}
    return payload


@bp.get("/cases/<int:case_id>/events")
def case_events(case_id: int) -> Any:
    with services().db.read() as session:
        head = _visible_case(session, case_id)
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).all()
        problems = [{"seq": found.seq, "event_id": found.event_id, "kind": found.kind, "message": found.message}
                    for found in chain.verify(session, case_id)]
    return {
        "case_id": case_id, "case_number": head.case_number, "chain_intact": not problems, "problems": problems,
        "events": [{
            "seq": event.seq, "at": _iso(event.at), "actor": event.actor_name, "kind": event.kind,
            "task_id": event.task_id, "step": event.step, "before": event.before, "after": event.after,
            "prev_hash": event.prev_hash, "hash": event.hash,
        } for event in events],
    }


def _case_head(session: Session, case_id: int) -> Any:
    return session.connection().execute(CASE_HEAD, {"case_id": case_id}).first()


def _visible_case(session: Session, case_id: int) -> Any:
    head = _case_head(session, case_id)
    if head is None or not access.may_see_case(_user(), head):
        raise NotFound("办件不存在，或不在您的辖区内")
    return head


def _case_summary(session: Session, head: Any) -> dict[str, Any]:
    tasks = [{
        "id": row.id, "step": row.name, "element_id": row.element_id,
        "role": {"code": row.role_code, "name": row.role_name},
        "org": _place(row.org_code, row.org_name, row.org_level),
        "assignee": _person(row.assignee_username, row.assignee_name), "created_at": _iso(row.created_at),
        "form": row.form_file,
    } for row in session.connection().execute(OPEN_TASKS, {"case_id": head.id})]
    return {
        "id": head.id, "case_number": head.case_number, "item_code": head.item_code, "item_name": head.item_name,
        "status": head.status, "result": head.result,
        "applicant": {"name": head.applicant_name, "id_number": mask_id_number(head.applicant_id_number),
                      "phone": head.applicant_phone},
        "village": _place(head.village_code, head.village_name, head.village_level),
        "accepted_at": _iso(head.accepted_at), "promised_date": _day(head.promised_date),
        "promised_note": head.promised_note,
        "completed_at": _iso(head.completed_at), "tasks": tasks,
    }


def _submitted_data(session: Session, case_id: int) -> dict[str, Any]:
    """The application form and each completed step's form, as recorded in the case history."""
    application, steps = history.submissions(session.execute(
        select(CaseEvent.kind, CaseEvent.at, CaseEvent.actor_name, CaseEvent.task_id, CaseEvent.step,
               CaseEvent.after)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(history.SUBMITTING))
        .order_by(CaseEvent.seq)
    ))
    return {"application": application, "steps": [
        {"task_id": step.task_id, "step": step.step, "completed_at": _iso(step.at),
         "completed_by": step.actor_name, "data": step.data} for step in steps]}


# -- tasks --------------------------------------------------------------------------------------


@bp.get("/tasks")
def list_tasks() -> Any:
    scope = request.args.get("scope", "mine")
    if scope not in ("mine", "post"):
        raise BadRequest("scope 只能是 mine（我的任务）或 post（本岗位待认领任务）")
    limit = request.args.get("limit", DEFAULT_TASK_LIMIT)
    try:
        limit = int(limit)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_TASK_LIMIT:
        raise BadRequest(f"limit 应为 1 至 {MAX_TASK_LIMIT} 之间的整数")
    with services().db.read() as session:
        rows = inbox.tasks(session, _user(), scope, limit=limit)
    return {"scope": scope, "tasks": [_task_json(row) for row in rows]}


@bp.get("/tasks/<task_id>")
def get_task(task_id: str) -> Any:
    user = _user()
    with services().db.read() as session:
        task = inbox.task_row(session, task_id)
        if task is None or not access.may_see_task(user, task, task):
            raise NotFound("任务不存在，或不在您的辖区内")
        forms = services().cases.versions.get(session, task.version_id).forms
    payload = _task_json(task)
    decided = access.task_access(user, task, bool(task.assignee_away))
    payload["may_claim"], payload["may_complete"] = decided.may_claim, decided.may_complete
    payload["form_schema"] = forms.get(task.form_file) if task.form_file else None
    payload["ui_schema"] = forms.get(task.ui_form_file) if task.ui_form_file else None
    return payload


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str) -> Any:
    services().cases.claim(_user().id, task_id)
    return _reloaded_task(task_id)


@bp.post("/tasks/<task_id>/release")
def release_task(task_id: str) -> Any:
    services().cases.release(_user().id, task_id)
    return _reloaded_task(task_id)


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Any:
    body = _json_body()
    case = services().cases.complete(_user().id, task_id, body.get("data", {})).case
    with services().db.read() as session:
        payload = _case_summary(session, _case_head(session, case.id))
    payload["completed_task_id"] = task_id
    return payload


def _reloaded_task(task_id: str) -> dict[str, Any]:
    with services().db.read() as session:
        task = inbox.task_row(session, task_id)
    assert task is not None
    return _task_json(task)


def _task_json(task: Any) -> dict[str, Any]:
    return {
        "id": task.id, "case_id": task.case_id, "case_number": task.case_number, "item_code": task.item_code,
        "item_name": task.item_name, "step": task.name, "element_id": task.element_id, "role": task.role_code,
        "status": task.status, "applicant_name": task.applicant_name,
        "applicant_id_number": mask_id_number(task.applicant_id_number),
        "village": _place(task.village_code, task.village_name, task.village_level),
        "created_at": _iso(task.created_at), "promised_date": _day(task.promised_date),
        "assignee": _person(task.assignee_username, task.assignee_name),
        "form": task.form_file, "ui_form": task.ui_form_file,
    }


# -- deployment ---------------------------------------------------------------------------------


@bp.post("/procedures")
def deploy_procedure() -> Any:
    user = _user()
    if user.role_code != "admin":
        raise Forbidden("只有系统管理员可以部署流程")
    if request.mimetype != "multipart/form-data":
        raise BadRequest("请以 multipart/form-data 上传 item_toml、diagram 和 forms 文件")
    item_file, diagram_file = request.files.get("item_toml"), request.files.get("diagram")
    missing = [name for name, upload in (("item_toml", item_file), ("diagram", diagram_file)) if upload is None]
    if missing:
        raise DeployRefused(f"{UPLOAD_LABEL}：缺少文件 " + "、".join(missing))
    assert item_file is not None and diagram_file is not None
    diagram_name = _file_name(diagram_file, "process.bpmn")
    if not diagram_name.lower().endswith(".bpmn"):
        raise DeployRefused(f"{UPLOAD_LABEL}：流程图文件应为 .bpmn 文件，收到的是“{diagram_name}”")
    diagram = _read_limited(diagram_file, bundle.MAX_DIAGRAM_BYTES)
    if diagram is None:
        raise DeployRefused(
            f"{UPLOAD_LABEL}/{diagram_name}：流程图文件过大，上限为 {bundle.MAX_DIAGRAM_BYTES // 1024} KB"
        )
    forms: dict[str, bytes] = {}
    for upload in request.files.getlist("forms"):
        name = _file_name(upload, "")
        if not name:
            continue
        if name in forms:
            raise DeployRefused(f"{UPLOAD_LABEL}：表单文件 {name} 上传了不止一次")
        forms[name] = upload.read()
    svc = services()
    with svc.db.read() as session:
        roles = known_roles(session)
    try:
        checked = bundle.validate_bundle(UPLOAD_LABEL, item_file.read(), diagram_name, diagram, forms, roles)
    except UnicodeDecodeError as exc:
        raise DeployRefused(f"{UPLOAD_LABEL}/{diagram_name}：流程图文件应为 UTF-8 编码") from exc
    with svc.db.write() as session:
        version, created = deploy(session, checked, user.username)
        result = {"item_code": version.item_code, "version": version.version, "created": created}
    return result, 201 if created else 200


def _file_name(upload: FileStorage, default: str) -> str:
    """The base name a browser sent (some send a relative path; Windows ones use backslashes)."""
    return posixpath.basename((upload.filename or default).replace("\\", "/")).strip()


def _read_limited(upload: FileStorage, limit: int) -> bytes | None:
    """Read at most `limit` bytes; None when the file is larger (the rest is never read into memory)."""
    data = upload.stream.read(limit + 1)
    return None if len(data) > limit else data

