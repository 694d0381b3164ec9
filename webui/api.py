"""JSON API under /api/v1: bearer-token access to the org tree, service items, cases, tasks, history and deployment.

Every route but /openapi.json needs `Authorization: Bearer <token>`. Errors are JSON
`{"error": "<Chinese message>", "details": [...]}` with the engine's HTTP status.
"""

from __future__ import annotations

import posixpath
from datetime import date, datetime
from typing import Any

from flask import Blueprint, current_app, g, request, url_for
from sqlalchemy import Select, select
from sqlalchemy.orm import Load, Session, contains_eager, defer, joinedload
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException

from engine import accounts, audit, catalog, clock, routing
from engine.errors import BianminError, DeployRefused, Forbidden, NotFound, ValidationFailed
from engine.idcard import mask_id_number
from engine.models import Case, CaseEvent, OrgUnit, ProcedureVersion, Role, ServiceItem, Task, User
from engine.services import Services

from .openapi import document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}
DEFAULT_TASK_LIMIT = 100
MAX_TASK_LIMIT = 500
UPLOAD_LABEL = "上传的流程"


class BadRequest(BianminError):
    status = 400


# -- plumbing -----------------------------------------------------------------------------------


def _svc() -> Services:
    return current_app.extensions["bianmin"]


def _user() -> User:
    return g.api_user


@bp.before_request
def _authenticate() -> Any:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized("未登录：请在请求头 Authorization 中提供访问令牌（Bearer）")
    with _svc().db.read() as session:
        user = accounts.user_for_token(session, token)
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


def _person(user: User | None) -> dict[str, Any] | None:
    return {"username": user.username, "display_name": user.display_name} if user else None


def _place(unit: OrgUnit) -> dict[str, str]:
    return {"code": unit.code, "name": unit.name, "level": unit.level}


# What a case or task payload reads, loaded with it in one query; the serialized workflow state never is.
_CASE_LOADING = (
    defer(Case.workflow_state),
    joinedload(Case.item).load_only(ServiceItem.name),
    joinedload(Case.village).load_only(OrgUnit.code, OrgUnit.name, OrgUnit.level).lazyload("*"),
)
_ASSIGNEE_LOADING: Load = joinedload(Task.assignee).load_only(User.username, User.display_name).lazyload("*")


# -- reference data -----------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Any:
    return document()


@bp.get("/orgs")
def orgs() -> Any:
    with _svc().db.read() as session:
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
    with _svc().db.read() as session:
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
    case = _svc().cases.start_case(_user().id, item_code, village_code, body.get("applicant"),
                                   body.get("data", {})).case
    with _svc().db.read() as session:
        payload = _case_summary(session, _load_case(session, case.id))
    return payload, 201, {"Location": url_for("api.get_case", case_id=case.id)}


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int) -> Any:
    with _svc().db.read() as session:
        case = _visible_case(session, case_id)
        payload = _case_summary(session, case)
        payload["data"] = _submitted_data(session, case.id)
    return payload


@bp.get("/cases/<int:case_id>/events")
def case_events(case_id: int) -> Any:
    with _svc().db.read() as session:
        case = _visible_case(session, case_id)
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        problems = audit.verify(session, case.id)
    return {
        "case_id": case.id, "case_number": case.case_number, "chain_intact": not problems, "problems": problems,
        "events": [{
            "seq": event.seq, "at": _iso(event.at), "actor": event.actor_name, "kind": event.kind,
            "task_id": event.task_id, "step": event.step, "before": event.before, "after": event.after,
            "prev_hash": event.prev_hash, "hash": event.hash,
        } for event in events],
    }


def _load_case(session: Session, case_id: int, *conditions: Any) -> Case | None:
    return session.scalar(select(Case).where(Case.id == case_id, *conditions).options(*_CASE_LOADING))


def _visible_case(session: Session, case_id: int) -> Case:
    case = _load_case(session, case_id, routing.case_visible_to(_user()))
    if case is None:
        raise NotFound("办件不存在，或不在您的辖区内")
    return case


def _case_summary(session: Session, case: Case | None) -> dict[str, Any]:
    assert case is not None
    rows = session.execute(
        select(Task, Role.name, OrgUnit.code, OrgUnit.name, OrgUnit.level)
        .join(Role, Role.code == Task.role_code).join(OrgUnit, OrgUnit.id == Task.org_id)
        .where(Task.case_id == case.id, Task.status == "open")
        .options(_ASSIGNEE_LOADING).order_by(Task.created_at, Task.name)
    ).all()
    tasks = [{
        "id": task.id, "step": task.name, "element_id": task.element_id,
        "role": {"code": task.role_code, "name": role_name},
        "org": {"code": org_code, "name": org_name, "level": org_level},
        "assignee": _person(task.assignee), "created_at": _iso(task.created_at), "form": task.form_file,
    } for task, role_name, org_code, org_name, org_level in rows]
    return {
        "id": case.id, "case_number": case.case_number, "item_code": case.item_code, "item_name": case.item.name,
        "status": case.status, "result": case.result,
        "applicant": {"name": case.applicant_name, "id_number": mask_id_number(case.applicant_id_number),
                      "phone": case.applicant_phone},
        "village": _place(case.village), "accepted_at": _iso(case.accepted_at), "due_date": _day(case.due_date),
        "due_note": case.due_note, "completed_at": _iso(case.completed_at), "tasks": tasks,
    }


def _submitted_data(session: Session, case_id: int) -> dict[str, Any]:
    """The application form and each completed step's form, as recorded in the case history."""
    application, steps = audit.submissions(session.execute(
        select(CaseEvent.kind, CaseEvent.at, CaseEvent.actor_name, CaseEvent.task_id, CaseEvent.step,
               CaseEvent.after)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(audit.SUBMITTING))
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
    user = _user()
    stmt = routing.my_tasks(user) if scope == "mine" else routing.post_tasks(user)
    with _svc().db.read() as session:
        tasks = session.scalars(
            _with_case(stmt).order_by(Case.due_date.is_(None), Case.due_date, Task.created_at, Task.id).limit(limit)
        ).all()
        payload = [_task_json(task) for task in tasks]
    return {"scope": scope, "tasks": payload}


@bp.get("/tasks/<task_id>")
def get_task(task_id: str) -> Any:
    user = _user()
    with _svc().db.read() as session:
        task = session.scalar(_with_case(select(Task)).where(Task.id == task_id))
        if task is None or not (routing.holds_post(user, task) or routing.can_see_case(user, task.case)):
            raise NotFound("任务不存在，或不在您的辖区内")
        forms = session.scalar(select(ProcedureVersion.forms).where(ProcedureVersion.id == task.case.version_id))
        payload = _task_json(task)
    payload["form_schema"] = forms.get(task.form_file) if task.form_file else None
    payload["ui_schema"] = forms.get(task.ui_form_file) if task.ui_form_file else None
    return payload


@bp.post("/tasks/<task_id>/claim")
def claim_task(task_id: str) -> Any:
    _svc().cases.claim(_user().id, task_id)
    return _reloaded_task(task_id)


@bp.post("/tasks/<task_id>/release")
def release_task(task_id: str) -> Any:
    _svc().cases.release(_user().id, task_id)
    return _reloaded_task(task_id)


@bp.post("/tasks/<task_id>/complete")
def complete_task(task_id: str) -> Any:
    body = _json_body()
    case = _svc().cases.complete(_user().id, task_id, body.get("data", {})).case
    with _svc().db.read() as session:
        payload = _case_summary(session, _load_case(session, case.id))
    payload["completed_task_id"] = task_id
    return payload


def _with_case(stmt: Select[Any]) -> Select[Any]:
    """Join each task's case (to sort by due date) and load it, its item, village and assignee in the same query."""
    return stmt.join(Task.case).options(contains_eager(Task.case).options(*_CASE_LOADING), _ASSIGNEE_LOADING)


def _reloaded_task(task_id: str) -> dict[str, Any]:
    with _svc().db.read() as session:
        task = session.scalar(_with_case(select(Task)).where(Task.id == task_id))
        assert task is not None
        return _task_json(task)


def _task_json(task: Task) -> dict[str, Any]:
    case = task.case
    return {
        "id": task.id, "case_id": case.id, "case_number": case.case_number, "item_code": case.item_code,
        "item_name": case.item.name, "step": task.name, "element_id": task.element_id, "role": task.role_code,
        "status": task.status, "applicant_name": case.applicant_name,
        "applicant_id_number": mask_id_number(case.applicant_id_number), "village": _place(case.village),
        "created_at": _iso(task.created_at), "due_date": _day(case.due_date), "assignee": _person(task.assignee),
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
    diagram = _read_limited(diagram_file, catalog.MAX_DIAGRAM_BYTES)
    if diagram is None:
        raise DeployRefused(
            f"{UPLOAD_LABEL}/{diagram_name}：流程图文件过大，上限为 {catalog.MAX_DIAGRAM_BYTES // 1024} KB"
        )
    forms: dict[str, bytes] = {}
    for upload in request.files.getlist("forms"):
        name = _file_name(upload, "")
        if not name:
            continue
        if name in forms:
            raise DeployRefused(f"{UPLOAD_LABEL}：表单文件 {name} 上传了不止一次")
        forms[name] = upload.read()
    svc = _svc()
    with svc.db.read() as session:
        roles = catalog.known_roles(session)
    try:
        bundle = catalog.validate_bundle(UPLOAD_LABEL, item_file.read(), diagram_name, diagram, forms, roles)
    except UnicodeDecodeError as exc:
        raise DeployRefused(f"{UPLOAD_LABEL}/{diagram_name}：流程图文件应为 UTF-8 编码") from exc
    with svc.db.write() as session:
        version, created = catalog.deploy(session, bundle, user.username)
        result = {"item_code": version.item_code, "version": version.version, "created": created}
    return result, 201 if created else 200


def _file_name(upload: FileStorage, default: str) -> str:
    """The base name a browser sent (some send a relative path; Windows ones use backslashes)."""
    return posixpath.basename((upload.filename or default).replace("\\", "/")).strip()


def _read_limited(upload: FileStorage, limit: int) -> bytes | None:
    """Read at most `limit` bytes; None when the file is larger (the rest is never read into memory)."""
    data = upload.stream.read(limit + 1)
    return None if len(data) > limit else data

