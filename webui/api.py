"""JSON API under /api/v1: bearer-token access to the org tree, service items, cases, tasks, history, deployment,
incidents, notifications, extensions (延期), the supervision desk's figures, the auditor's search and verification,
and appointments (预约服务).

Every route but /openapi.json needs `Authorization: Bearer <token>`. Errors are JSON
`{"error": "<Chinese message>", "details": [...]}` with the engine's HTTP status; a 422 from validation (and a 400
for fields a form does not declare) adds `"fields": {"<field>": [...]}`, a refused deployment `"problems"`, each
placed in its file and diagram element.
"""

from __future__ import annotations

import posixpath
from datetime import date, datetime
from typing import Any

from flask import Blueprint, current_app, g, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException

from engine import clock, notifications, userinput
from engine.audit import chain, history, privacy
from engine.audit import desk as audit_desk
from engine.audit import export as exporting
from engine.cases import attachments, incidents, ledger, queries
from engine.cases import window as engine_window
from engine.cases.outcomes import Window
from engine.deadlines import extensions, shown, tracking
from engine.documents import issuing
from engine.errors import BianminError, DeployRefused, Forbidden, NotFound, StepHeld, Unauthorized, ValidationFailed
from engine.idcard import mask_id_number
from engine.models import (
    Appointment,
    Attachment,
    Card,
    Case,
    CaseEvent,
    Document,
    FollowUp,
    OrgUnit,
    ProcedureVersion,
    ServiceItem,
    User,
)
from engine.outbox import notices
from engine.people import access, accounts
from engine.people.jurisdiction import Actor
from engine.procedures import bundle, forms
from engine.procedures.deploy import deploy, known_roles
from engine.supervision import desk
from engine.tasks import copy as copying
from engine.tasks import countersign, inbox
from engine.vocabulary import CaseStatus, FollowUpStatus
from engine.window import appointments, enquiries, population, proxy, ratings

from . import ledger as ledger_views
from .documents import send_pdf
from .helpers import allowed_methods, services
from .openapi import document
from .ratings import store as attachment_store

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.openapi"}
DEFAULT_LIMIT = 100
MAX_LIMIT = 500
UPLOAD_LABEL = "上传的流程"
NOT_A_JSON_OBJECT = "请求体应为 JSON 对象，且 Content-Type 为 application/json"


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
    try:
        g.api_user = accounts.actor_for_token(services().db, token)
    except Unauthorized as exc:
        return _unauthorized(exc.message)
    return None


def _unauthorized(message: str) -> Any:
    return {"error": message, "details": []}, 401, {"WWW-Authenticate": 'Bearer realm="bianmin"'}


def error_body(exc: BianminError) -> dict[str, Any]:
    """The JSON error body; a validation failure also keys its messages by field, a refused deployment places them."""
    body: dict[str, Any] = {"error": exc.message, "details": exc.details}
    if isinstance(exc, ValidationFailed):
        body["fields"] = exc.fields
    if isinstance(exc, DeployRefused):
        body["problems"] = [problem.as_json() for problem in exc.problems]
    if isinstance(exc, StepHeld):
        body.update(held=True, incident_id=exc.incident_id, element=exc.element)
    return body


@bp.errorhandler(BianminError)
def _engine_error(exc: BianminError) -> Any:
    return error_body(exc), exc.status, exc.headers


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
    return {"error": message, "details": []}, status, allowed_methods(exc)


def _json_body() -> dict[str, Any]:
    if not request.is_json:
        raise BadRequest(NOT_A_JSON_OBJECT)
    body = userinput.loads(request.get_data(), "请求体")
    if not isinstance(body, dict):
        raise BadRequest(NOT_A_JSON_OBJECT)
    return body


def _limit() -> int:
    """The `limit` query argument of a list."""
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit 应为 1 至 {MAX_LIMIT} 之间的整数")
    return limit


def _offset() -> int:
    """The `offset` query argument of a paged list."""
    offset = request.args.get("offset", "0")
    if not (offset.isdigit() and len(offset) <= 9):
        raise BadRequest("offset 应为不小于 0 的整数")
    return int(offset)


def _card_filter() -> str:
    card = request.args.get("card", "")
    if card not in ("", *shown.FILTERS):
        raise BadRequest("card 只能是 yellow（即将超期）或 red（已超期）")
    return card


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(clock.SHANGHAI).isoformat(timespec="seconds") if moment else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _person(username: str | None, display_name: str | None) -> dict[str, Any] | None:
    return {"username": username, "display_name": display_name} if username else None


def _place(code: str, name: str, level: str) -> dict[str, str]:
    return {"code": code, "name": name, "level": level}




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
                                   body.get("data", {}), _window(body.get("intake"))).case
    with services().db.read() as session:
        payload = _case_summary(session, queries.case_row(session, case.id))
    return payload, 201, {"Location": url_for("api.get_case", case_id=case.id)}


def _window(raw: Any) -> Window | None:
    """The window's part of a request: without it every material counts as received and the case is accepted."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValidationFailed("intake 应为对象：materials、outcome、notes、reasons、basis、confirm_repeat")
    return Window.parse(raw)


@bp.post("/cases/<int:case_id>/window")
def examine_case(case_id: int) -> Any:
    """A case in 补正 or 收件待审 examined again: accepted, told to 补正 (once) or refused."""
    with services().db.read() as session:
        _visible_case(session, case_id)
    services().cases.examine(_user().id, case_id, Window.parse(_json_body()))
    with services().db.read() as session:
        return _case_summary(session, queries.case_row(session, case_id))


@bp.get("/cases/<int:case_id>/intake")
def case_intake(case_id: int) -> Any:
    """The window's record: the checklist as ticked, the one-time notice, §32's dates, the refusal."""
    with services().db.read() as session:
        _visible_case(session, case_id)
        case = session.get(Case, case_id)
        found = engine_window.waiting_case(services().cases, session, case) if case else None
        if found is None:
            raise NotFound("该办件没有窗口收件记录")
        row = found.intake
        return {"case_id": case_id, "status": case.status, "materials": row.materials,
                "received_at": _iso(row.received_at), "received_by": found.received_by,
                "notice_at": _iso(row.notice_at), "notice_missing": row.notice_missing,
                "section32": {"warn_on": _day(found.warn_on), "deemed_on": _day(found.deemed_on),
                              "days_left": found.days_left} if found.deemed_on else None,
                "refused_at": _iso(row.refused_at), "refusal_reasons": row.refusal_reasons,
                "refusal_basis": row.refusal_basis}


@bp.get("/cases")
def list_cases() -> Any:
    asked = request.args.get("status", "")
    status = queries.case_status(asked)
    if asked and status is None:
        raise BadRequest("status 只能是 " + "、".join(CaseStatus))
    card = _card_filter()
    limit = _limit()
    with services().db.read() as session:
        rows = queries.case_list(session, _user(), search=request.args.get("q", "").strip(), status=status,
                                 card=card, limit=limit)
    return {"cases": [_case_json(row) for row in rows]}


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int) -> Any:
    with services().db.read() as session:
        head = _visible_case(session, case_id)
        payload = _case_summary(session, head)
        clear = privacy.handles(session, _user(), case_id)
        payload["data"] = _submitted_data(session, case_id, clear)
        payload["clock_pauses"] = [{
            "reason": row.reason, "step": row.step, "element_id": row.element_id, "started_at": _iso(row.started_at),
            "ended_at": _iso(row.ended_at), "working_days": row.working_days,
        } for row in tracking.case_pauses(session, case_id)]
    payload["variables"] = (head.variables or {}) if clear else privacy.mask_data(head.variables or {})
    return payload


@bp.post("/cases/<int:case_id>/reveal")
def reveal(case_id: int) -> Any:
    """One personal value of a case in clear for a caller who does not handle it: logged, with a reason."""
    body = _json_body()
    field, reason, note = (body.get(key) for key in ("field", "reason", "note"))
    if not isinstance(field, str) or not field:
        raise ValidationFailed("请指明要查看的字段（field）", fields={"field": ["请指明要查看的字段"]})
    with services().db.write() as session:
        shown = privacy.reveal(session, _user(), case_id, field, reason if isinstance(reason, str) else "",
                               note if isinstance(note, str) else "", request.remote_addr)
    return {"case_id": case_id, "field": shown.field, "kind": shown.kind, "value": shown.value}


@bp.get("/cases/<int:case_id>/events")
def case_events(case_id: int) -> Any:
    with services().db.read() as session:
        head = _visible_case(session, case_id)
        # The hashes cover the stored values: someone who does not handle the case gets the masked ones, and
        # verifies the chain with `chain_intact` (the server re-hashes what is stored).
        shown = (lambda value: value) if privacy.handles(session, _user(), case_id) else privacy.mask_data
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).all()
        problems = [{"seq": found.seq, "event_id": found.event_id, "kind": found.kind, "message": found.message}
                    for found in chain.verify(session, case_id)]
    return {
        "case_id": case_id, "case_number": head.case_number, "chain_intact": not problems, "problems": problems,
        "events": [{
            "seq": event.seq, "at": _iso(event.at), "actor": event.actor_name, "kind": event.kind,
            "task_id": event.task_id, "step": event.step, "before": shown(event.before), "after": shown(event.after),
            "prev_hash": event.prev_hash, "hash": event.hash,
        } for event in events],
    }


@bp.get("/cases/<int:case_id>/export")
def case_export(case_id: int) -> Any:
    """The whole history with its hashes, as the web UI's export file: verifiable offline with links.py. The events
    carry the numbers in clear, so whoever does not handle the case gives `reason` (and `note`), logged as a reveal."""
    user = _user()
    with services().db.write() as session:
        head = _visible_case(session, case_id)
        if not privacy.handles(session, user, head.id):
            if "reason" not in request.args:
                raise Forbidden("导出文件含未遮盖的身份证号码和电话号码：您不经办此件，请以 reason 参数说明理由（"
                                + "、".join(privacy.REASONS) + "），导出将被记录")
            privacy.reveal(session, user, head.id, privacy.HISTORY, request.args.get("reason", ""),
                           request.args.get("note", ""))
        return exporting.document(session, head.id, exporting.exporter(user.display_name, user.username))


@bp.get("/cases/<int:case_id>/documents")
def case_documents(case_id: int) -> Any:
    """The case's written documents as issued; for whoever does not handle it, numbers in the facts are masked."""
    with services().db.read() as session:
        head = _visible_case(session, case_id)
        clear = privacy.handles(session, _user(), case_id)
        rows = issuing.of_case(session, case_id)
    return {"case_id": case_id, "case_number": head.case_number, "documents": [{
        "id": row.id, "kind": row.kind, "title": row.title, "number": row.number, "issuer": row.issuer,
        "issued_at": _iso(row.issued_at), "issued_by": row.issued_by_name,
        "facts": row.facts if clear else privacy.mask_data(row.facts), "facts_sha256": row.facts_sha256,
        "pdf_sha256": row.pdf_sha256,
        "pdf_url": url_for("api.case_document_pdf", case_id=case_id, document_id=row.id),
    } for row in rows]}


@bp.get("/cases/<int:case_id>/documents/<int:document_id>.pdf")
def case_document_pdf(case_id: int, document_id: int) -> Any:
    with services().db.read() as session:
        _visible_case(session, case_id)
        document = session.get(Document, document_id)
        if document is None or document.case_id != case_id:
            raise NotFound("文书不存在")
        clear = privacy.handles(session, _user(), case_id)
    return send_pdf(document, clear)


def _visible_case(session: Session, case_id: int) -> Any:
    head = queries.case_row(session, case_id)
    if head is None or not access.may_see_case(_user(), head):
        raise NotFound("办件不存在，或不在您的辖区内")
    return head


def _case_json(head: Any, clear: bool = False) -> dict[str, Any]:
    """A case's head; lists mask the applicant's numbers for everyone, one case shows them to its handlers."""
    return {
        "id": head.id, "case_number": head.case_number, "item_code": head.item_code, "item_name": head.item_name,
        "status": head.status, "result": head.result,
        "applicant": {"name": head.applicant_name,
                      "id_number": head.applicant_id_number if clear else mask_id_number(head.applicant_id_number),
                      "phone": head.applicant_phone if clear else privacy.mask_phone(head.applicant_phone)},
        "village": _place(head.village_code, head.village_name, head.village_level),
        "accepted_at": _iso(head.accepted_at), "promised_date": _day(head.promised_date),
        "promised_provisional": head.promised_provisional, "promised_note": head.promised_note,
        "completed_at": _iso(head.completed_at), "card": head.card,
    }


def _case_summary(session: Session, head: Any) -> dict[str, Any]:
    tasks = [{
        "id": row.id, "step": row.name, "element_id": row.element_id,
        "role": {"code": row.role_code, "name": row.role_name},
        "org": _place(row.org_code, row.org_name, row.org_level),
        "assignee": _person(row.assignee_username, row.assignee_name), "created_at": _iso(row.created_at),
        "form": row.form_file, "card": row.step_card or "", "step_due_date": _day(row.step_due_date),
    } for row in queries.open_tasks(session, head.id)]
    return {**_case_json(head, privacy.handles(session, _user(), head.id)), "tasks": tasks}


def _submitted_data(session: Session, case_id: int, clear: bool) -> dict[str, Any]:
    """The application form and each completed step's form, as recorded in the case history."""
    application, steps = history.submissions(session.execute(
        select(CaseEvent.kind, CaseEvent.at, CaseEvent.actor_name, CaseEvent.task_id, CaseEvent.step,
               CaseEvent.after)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(history.SUBMITTING))
        .order_by(CaseEvent.seq)
    ))
    shown = (lambda value: value) if clear else privacy.mask_data
    return {"application": shown(application), "steps": [
        {"task_id": step.task_id, "step": step.step, "completed_at": _iso(step.at),
         "completed_by": step.actor_name, "data": shown(step.data)} for step in steps]}


# -- tasks --------------------------------------------------------------------------------------


@bp.get("/tasks")
def list_tasks() -> Any:
    scope = request.args.get("scope", "mine")
    if scope not in inbox.SCOPES:
        raise BadRequest("scope 只能是 mine（我的任务）、post（本岗位待认领任务）、cover（代岗任务）"
                         "或 delegated（委派中：本人委派、同事尚未交回的任务）")
    card = _card_filter()
    limit = _limit()
    offset = _offset()
    # Narrowed as the inbox page and the ledger are: the search box, item and village.
    wanted = audit_desk.search_from({key: request.args.get(key, "") for key in ("q", "item", "village")})
    narrow = inbox.Narrow(wanted.text, wanted.item_code, wanted.village_id)
    # One query, no count: the task list is the benchmark's hot path; a caller pages on until a page comes back short.
    with services().db.read() as session:
        rows = inbox.tasks(session, _user(), scope, limit=limit, card=card, narrow=narrow, offset=offset)
    if scope == "delegated":
        return {"scope": scope, "tasks": [_task_json(row) | {"delegated_at": _iso(row.delegated_at)} for row in rows]}
    return {"scope": scope, "tasks": [_task_json(row) for row in rows]}


@bp.get("/tasks/<task_id>")
def get_task(task_id: str) -> Any:
    user = _user()
    with services().db.read() as session:
        task = inbox.task_row(session, task_id)
        if task is None or not access.may_see_task(user, task, task):
            raise NotFound("任务不存在，或不在您的辖区内")
        version_forms = services().cases.versions.get(session, task.version_id).forms
        step = tracking.step_deadlines(session, [task.id]).get(task.id)
    payload = _task_json(task)
    payload["step_deadline"] = step and {
        "limit_days": step.limit_days, "due_date": _day(step.due_date), "provisional": step.provisional,
        "status": step.status, "late": step.late,
    }
    decided = access.task_access(user, task)
    payload["may_claim"], payload["may_complete"] = decided.may_claim, decided.may_complete
    payload["form_schema"] = forms.task_form(version_forms, task.form_file)
    payload["ui_schema"] = version_forms.get(task.ui_form_file) if task.ui_form_file else None
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
        payload = _case_summary(session, queries.case_row(session, case.id))
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
        "promised_provisional": task.promised_provisional,
        "assignee": _person(task.assignee_username, task.assignee_name),
        "form": task.form_file, "ui_form": task.ui_form_file, "card": task.card,
        "step_due_date": _day(task.step_due_date),
        # How it reached its holder other than by the case moving on (退回, 撤回, 转办, 委派, 会签, 加签), and why.
        "arrival": task.arrival, "arrival_note": task.arrival_note, "signing_for": task.signing_for,
        "sign_position": task.sign_position,
    }


# -- deployment ---------------------------------------------------------------------------------


@bp.post("/procedures")
def deploy_procedure() -> Any:
    user = _user()
    if user.role_code != "admin":
        raise Forbidden("只有系统管理员可以部署流程")
    if request.mimetype != "multipart/form-data":
        raise BadRequest("请以 multipart/form-data 上传流程文件夹中的文件（files，文件名为文件夹内的路径），"
                         "或 item_toml、diagram 和 forms 文件")
    svc = services()
    files = _uploaded_files(svc.settings.max_diagram_bytes)
    with svc.db.read() as session:
        roles = known_roles(session)
    checked = bundle.read_files(UPLOAD_LABEL, files, roles, svc.settings.max_diagram_bytes)
    with svc.db.write() as session:
        done = deploy(session, checked, user.username, user)
    return {"item_code": done.item_code, "version": done.version, "created": done.created,
            "warnings": [warning.as_json() for warning in done.warnings]}, 201 if done.created else 200


def _uploaded_files(max_diagram_bytes: int) -> dict[str, bytes]:
    """Each upload by its path in the procedure folder: `files` carry theirs, the named fields have fixed places."""
    uploads = [(_folder_path(upload), upload) for upload in request.files.getlist("files")]
    item_file, diagram_file = request.files.get("item_toml"), request.files.get("diagram")
    if item_file is not None:
        uploads.append((bundle.GUIDE_FILE, item_file))
    if diagram_file is not None:
        diagram_name = _file_name(diagram_file, "process.bpmn")
        if not diagram_name.lower().endswith(".bpmn"):
            raise DeployRefused(f"{UPLOAD_LABEL}：流程图文件应为 .bpmn 文件，收到的是“{diagram_name}”")
        uploads.append((diagram_name, diagram_file))
    uploads += [(f"{bundle.FORMS_DIR}/{_file_name(upload, '')}", upload) for upload in request.files.getlist("forms")
                if _file_name(upload, "")]
    files: dict[str, bytes] = {}
    for path, upload in uploads:
        if not path:
            continue
        if path in files:
            raise DeployRefused(f"{UPLOAD_LABEL}：文件 {path} 上传了不止一次")
        # A diagram is read one byte past its limit, never wholly into memory; the bundle refuses it as too large.
        files[path] = upload.stream.read(max_diagram_bytes + 1) if path.lower().endswith(".bpmn") else upload.read()
    return files


def _file_name(upload: FileStorage, default: str) -> str:
    """The base name a browser sent (some send a relative path; Windows ones use backslashes)."""
    return posixpath.basename((upload.filename or default).replace("\\", "/")).strip()


def _folder_path(upload: FileStorage) -> str:
    """The path in the folder an upload of `files` names (Windows ones use backslashes); empty when it names none."""
    path = posixpath.normpath((upload.filename or "").replace("\\", "/").strip()).lstrip("/")
    return "" if path == "." else path


@bp.post("/population/lookup")
def population_lookup() -> Any:
    """人口库查询 at intake, as the new-application page asks it."""
    svc = services()
    return population.look_up(svc.db, svc.settings, _user().id, _json_body().get("id_number")).shown()


# -- notifications ------------------------------------------------------------------------------


@bp.get("/notifications")
def list_notifications() -> Any:
    unread_only = request.args.get("unread", "")
    if unread_only not in ("", "1"):
        raise BadRequest("unread 只能是 1（只列未读）")
    limit = _limit()
    user_id = _user().id
    with services().db.read() as session:
        rows = notifications.listing(session, user_id, unread_only=bool(unread_only), limit=limit)
        numbers = dict(session.execute(select(Case.id, Case.case_number).where(
            Case.id.in_({row.case_id for row in rows if row.case_id}))).all())
        colors = dict(session.execute(select(Card.id, Card.color).where(
            Card.id.in_({row.card_id for row in rows if row.card_id}))).all())
        unread = notifications.unread_count(session, user_id)
    return {"unread": unread, "notifications": [{
        "id": row.id, "kind": row.kind, "title": row.title, "body": row.body, "case_id": row.case_id,
        "case_number": numbers.get(row.case_id), "card": colors.get(row.card_id, ""),
        "created_at": _iso(row.created_at), "read_at": _iso(row.read_at),
    } for row in rows]}


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Any:
    return _mark_read(notification_id)


@bp.post("/notifications/read-all")
def read_all_notifications() -> Any:
    return _mark_read(None)


@bp.get("/notifications/settings")
def notification_settings() -> Any:
    return _settings_json(_user().id)


@bp.put("/notifications/settings")
def choose_notification_settings() -> Any:
    body = _json_body()
    user_id = _user().id
    with services().db.write() as session:
        notices.choose(session, user_id, str(body.get("phone") or ""), str(body.get("email") or ""),
                       body.get("channels") or {})
    return _settings_json(user_id)


def _settings_json(user_id: int) -> dict[str, Any]:
    with services().db.read() as session:
        user = session.get(User, user_id)
        sent = notices.sent_today(session, user_id, clock.now())
    out = services().outbound()
    return {"phone": user.phone, "email": user.email, "channels": notices.channels(user),
            "groups": {code: group.title for code, group in notices.GROUPS.items()},
            "sent_today": sent, "daily_cap": out.daily_cap if out else None}


def _mark_read(notification_id: int | None) -> dict[str, int]:
    user_id = _user().id
    with services().db.write() as session:
        marked = notifications.mark_read(session, user_id, clock.now(), notification_id)
    with services().db.read() as session:
        return {"marked": marked, "unread": notifications.unread_count(session, user_id)}


# -- incidents ----------------------------------------------------------------------------------


@bp.get("/incidents")
def list_incidents() -> Any:
    if not access.may_see_incidents(_user()):
        raise Forbidden("只有系统管理员可以查看异常办件")
    limit = _limit()
    with services().db.read() as session:
        rows = incidents.open_incidents(session, limit)
    return {"incidents": [{
        "id": row.id, "case_id": row.case_id, "case_number": row.case_number, "item_name": row.item_name,
        "village_name": row.village_name, "applicant_name": row.applicant_name, "kind": row.kind, "step": row.step,
        "message": row.message, "attempts": row.attempts, "next_try_at": _iso(row.next_try_at),
        "given_up": row.given_up, "opened_at": _iso(row.opened_at), "last_failed_at": _iso(row.last_failed_at),
        "task_id": row.task_id,
    } for row in rows]}


# Repairs (administrators only, enforced by the engine): each answers the case as its summary shows it now.
def _repaired(case_id: int) -> dict[str, Any]:
    with services().db.read() as session:
        return _case_summary(session, queries.case_row(session, case_id))


@bp.post("/cases/<int:case_id>/retry")
def retry_case_step(case_id: int) -> Any:
    services().cases.retry_step(_user().id, case_id)
    return _repaired(case_id)


@bp.post("/cases/<int:case_id>/migrate")
def migrate_case(case_id: int) -> Any:
    body = _json_body()
    version_id, mapping = body.get("version_id"), body.get("mapping") or {}
    if isinstance(version_id, bool) or not isinstance(version_id, int):
        raise ValidationFailed("version_id 应为目标流程版本的整数编号", fields={"version_id": ["应为整数"]})
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ValidationFailed("mapping 应为对象：当前环节的元素 ID → 新版本中的元素 ID",
                               fields={"mapping": ["应为字符串到字符串的对象"]})
    services().cases.migrate(_user().id, case_id, version_id, mapping)
    return _repaired(case_id)


@bp.post("/cases/<int:case_id>/cancel")
def cancel_case(case_id: int) -> Any:
    reason = _json_body().get("reason")
    services().cases.cancel(_user().id, case_id, reason if isinstance(reason, str) else "")
    return _repaired(case_id)


# -- extensions (延期) ----------------------------------------------------------------------------


def _extension_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "case_id": row.case_id, "case_number": row.case_number, "item_name": row.item_name,
        "deadline": {"id": row.deadline_id, "name": row.deadline_name, "task_id": row.task_id,
                     "due_date": _day(row.due_date), "provisional": row.provisional},
        "days": row.days, "reason": row.reason, "status": row.status, "requested_by": row.requested_by,
        "requested_at": _iso(row.requested_at), "decided_by": row.decided_by, "decided_at": _iso(row.decided_at),
        "decision_note": row.decision_note,
    }


# One rule for both methods: with two, a too-large id sent with POST would answer 405 instead of 404.
@bp.route("/cases/<int:case_id>/extensions", methods=["GET", "POST"])
def case_extensions(case_id: int) -> Any:
    if request.method == "POST":
        return _ask_extension(case_id)
    with services().db.read() as session:
        _visible_case(session, case_id)
        return {"extensions": [_extension_json(row) for row in extensions.of_case(session, case_id)]}


def _ask_extension(case_id: int) -> Any:
    body = _json_body()
    deadline_id = body.get("deadline_id")
    if deadline_id is not None and (isinstance(deadline_id, bool) or not isinstance(deadline_id, int)):
        raise ValidationFailed("deadline_id 应为期限的整数编号；不填为办件期限",
                               fields={"deadline_id": ["应为整数"]})
    asked = extensions.request(services().cases, _user().id, case_id, deadline_id, body.get("days"),
                               body.get("reason"))
    with services().db.read() as session:
        return _extension_json(extensions.one(session, asked.id)), 201


@bp.get("/extensions")
def pending_extensions() -> Any:
    limit = _limit()
    with services().db.read() as session:
        return {"extensions": [_extension_json(row) for row in extensions.pending_for(session, _user(), limit)]}


@bp.post("/extensions/<int:extension_id>/decision")
def decide_extension(extension_id: int) -> Any:
    body = _json_body()
    approve = body.get("approve")
    if not isinstance(approve, bool):
        raise ValidationFailed("approve 应为 true（批准）或 false（不予批准）", fields={"approve": ["应为布尔值"]})
    decided = extensions.decide(services().cases, _user().id, extension_id, approve, body.get("note"))
    with services().db.read() as session:
        return _extension_json(extensions.one(session, decided.id))


# -- 代办 and 首问负责 (the service window) -------------------------------------------------------------


def _proxy_step_json(step: Any, clear: bool) -> dict[str, Any]:
    details = dict(step.details)
    if not clear and "phone" in details:
        details["phone"] = privacy.mask_phone(details["phone"])
    return {"id": step.id, "kind": step.kind, "name": proxy.NAMES[step.kind], "happened_at": _iso(step.happened_at),
            "recorded_at": _iso(step.recorded_at),
            "recorded_by": _person(step.recorded_by.username, step.recorded_by.display_name), "details": details}


# One rule for both methods, as for extensions.
@bp.route("/cases/<int:case_id>/proxy", methods=["GET", "POST"])
def case_proxy(case_id: int) -> Any:
    if request.method == "POST":
        body = _json_body()
        kind = body.get("kind")
        if kind not in proxy.FIELDS:
            raise ValidationFailed("kind 应为 " + "、".join(proxy.FIELDS), fields={"kind": ["不是代办环节"]})
        made = proxy.record(services().cases, _user().id, case_id, kind, body)
        with services().db.read() as session:
            return _proxy_step_json(made, privacy.handles(session, _user(), case_id)), 201
    with services().db.read() as session:
        _visible_case(session, case_id)
        case = session.get(Case, case_id)
        assert case is not None
        done = proxy.progress(session, case)
        clear = privacy.handles(session, _user(), case_id)
        starter = session.get(User, case.started_by_id)
        return {"first_contact": _person(starter.username, starter.display_name) if starter else None,
                "steps": [_proxy_step_json(step, clear) for step in done.steps],
                "allowed": done.allowed if access.may_record_proxy(_user(), case) else []}


@bp.get("/proxy/awaiting-return")
def awaiting_return() -> Any:
    limit = _limit()
    with services().db.read() as session:
        rows = proxy.awaiting_return(session, _user(), limit)
    return {"cases": [{"id": row.id, "case_number": row.case_number, "item_name": row.item_name,
                       "applicant_name": row.applicant_name, "completed_at": _iso(row.completed_at),
                       "result": row.result} for row in rows]}


def _enquiry_json(found: Any) -> dict[str, Any]:
    user = _user()
    handles = user.id in (found.registered_by_id, found.owner_id) or access.holds_enquiry_post(user, found)
    return {
        "id": found.id, "registered_at": _iso(found.registered_at), "status": found.status,
        "person_name": found.person_name, "contact": found.contact if handles else privacy.mask_phone(found.contact),
        "village": _place(found.village.code, found.village.name, found.village.level), "matter": found.matter,
        "first_contact": _person(found.registered_by.username, found.registered_by.display_name),
        "owner": _person(found.owner.username, found.owner.display_name) if found.owner else None,
        "post": {"role_code": found.post_role_code, "role_name": found.post_role.name,
                 "org": _place(found.post_org.code, found.post_org.name, found.post_org.level)},
        "answer_method": found.answer_method, "answer": found.answer,
        "answered_by": _person(found.answered_by.username, found.answered_by.display_name)
        if found.answered_by else None, "answered_at": _iso(found.answered_at), "trail": found.trail,
    }


@bp.route("/enquiries", methods=["GET", "POST"])
def enquiry_list() -> Any:
    if request.method == "POST":
        return _enquiry_json(enquiries.register(services().cases, _user().id, _json_body())), 201
    scope = request.args.get("scope", "mine")
    if scope not in enquiries.SCOPES:
        raise BadRequest("scope 应为 " + "、".join(enquiries.SCOPES))
    limit = _limit()
    with services().db.read() as session:
        return {"enquiries": [_enquiry_json(found) for found in enquiries.listing(session, _user(), scope, limit)]}


@bp.get("/enquiries/<int:enquiry_id>")
def enquiry_one(enquiry_id: int) -> Any:
    with services().db.read() as session:
        return _enquiry_json(enquiries.one(session, _user(), enquiry_id))


@bp.post("/enquiries/<int:enquiry_id>/answer")
def enquiry_answer(enquiry_id: int) -> Any:
    return _enquiry_json(enquiries.answer(services().cases, _user().id, enquiry_id, _json_body()))


@bp.post("/enquiries/<int:enquiry_id>/transfer")
def enquiry_transfer(enquiry_id: int) -> Any:
    body = _json_body()
    return _enquiry_json(enquiries.transfer(services().cases, _user().id, enquiry_id, body.get("role_code"),
                                            body.get("org_id"), body.get("note")))


@bp.post("/enquiries/<int:enquiry_id>/take")
def enquiry_take(enquiry_id: int) -> Any:
    return _enquiry_json(enquiries.take(services().cases, _user().id, enquiry_id))
# -- appointments (预约服务) ------------------------------------------------------------------------


def _appointment_json(booking: Appointment) -> dict[str, Any]:
    return {"id": booking.id, "kind": booking.kind, "item": {"code": booking.item_code, "name": booking.item.name},
            "place": _place(booking.place.code, booking.place.name, booking.place.level), "day": _day(booking.day),
            "slot": booking.slot, "name": booking.name, "phone": booking.phone, "note": booking.note,
            "status": booking.status, "created_at": _iso(booking.created_at), "changed_at": _iso(booking.changed_at)}


def _text_fields(body: dict[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """The named body fields as text (absent ones empty); a field that is not a string is refused by name."""
    wrong = {name: ["应为字符串"] for name in names if not isinstance(body.get(name, ""), str)}
    if wrong:
        raise ValidationFailed("以下字段应为字符串：" + "、".join(wrong), fields=wrong)
    return {name: body.get(name, "") for name in names}


@bp.get("/appointments")
def list_appointments() -> Any:
    text = request.args.get("day", "")
    try:
        day = date.fromisoformat(text) if text else clock.now().astimezone(clock.SHANGHAI).date()
    except ValueError as exc:
        raise BadRequest("day 应为 YYYY-MM-DD 格式的日期") from exc
    with services().db.read() as session:
        rows = appointments.day_list(session, _user(), day)
        return {"day": day.isoformat(), "appointments": [_appointment_json(row) for row in rows]}


@bp.post("/appointments")
def book_appointment() -> Any:
    fields = _text_fields(_json_body(), ("kind", "item", "place", "day", "slot", "name", "phone", "note"))
    try:
        day: date | None = date.fromisoformat(fields["day"])
    except ValueError:
        day = None
    with services().db.write() as session:
        booking = appointments.book(session, kind=fields["kind"], item_code=fields["item"],
                                    place_code=fields["place"], day=day, slot=fields["slot"], name=fields["name"],
                                    phone=fields["phone"], note=fields["note"], by=_user())
        return _appointment_json(booking), 201


@bp.post("/appointments/<int:booking_id>/status")
def mark_appointment(booking_id: int) -> Any:
    status = _text_fields(_json_body(), ("status",))["status"]
    with services().db.write() as session:
        return _appointment_json(appointments.set_status(session, _user(), booking_id, status))


# -- supervision desk (电子监察) -------------------------------------------------------------------


@bp.get("/supervision")
def supervision() -> Any:
    if not access.may_use_desk(_user()):
        raise Forbidden("只有电子监察、审计和系统管理员可以查看电子监察数据")
    chosen = desk.filters(request.args)
    with services().db.read() as session:
        by = {dimension: desk.counts(session, _user(), chosen, dimension) for dimension in desk.DIMENSIONS}
        carded = desk.carded(session, _user(), chosen)
        chases = desk.chases(session, _user(), chosen)
    return {
        "period": {"start": chosen.period.start.isoformat(), "end": chosen.period.end.isoformat(),
                   "preset": chosen.period.preset},
        "totals": desk.totals(by["town"]),
        "by": {dimension: [{"key": str(line.key) if line.key is not None else None, "label": line.label,
                            "counts": line.counts, "overdue": line.overdue} for line in lines]
               for dimension, lines in by.items()},
        "carded": [{
            "case_id": entry.row.case_id, "case_number": entry.row.case_number, "item_name": entry.row.item_name,
            "town": entry.row.town_name, "deadline": entry.row.name, "kind": entry.row.kind, "card": entry.row.card,
            "due_date": _day(entry.row.due_date), "provisional": entry.row.provisional,
            "days_overdue": entry.days_overdue,
            "holders": [{"name": holder.name or None, "post": holder.post} for holder in entry.holders],
        } for entry in carded],
        "chases": [{"post": {"role": line.role_code, "org_id": line.org_id,
                             "name": f"{line.org_name} {line.role_name}"},
                    "handler": line.handler_name, "chases": line.chases, "tasks": line.tasks} for line in chases],
    }


# -- 审计 -------------------------------------------------------------------------------------------


def _auditor() -> Actor:
    if not access.may_audit(_user()):
        raise Forbidden("只有审计人员和电子监察人员可以使用审计查询与核验")
    return _user()


@bp.get("/audit/cases")
def audit_cases() -> Any:
    user = _auditor()
    wanted = audit_desk.search_from(request.args)
    with services().db.read() as session:
        found = audit_desk.search(session, user, wanted)
    return {"total": found.total, "page": found.page, "pages": found.pages, "page_size": audit_desk.PAGE_SIZE,
            "cases": [_case_json(row) for row in found.rows]}


# -- 台账 -------------------------------------------------------------------------------------------


def _ledger_json(line: ledger.Line) -> dict[str, Any]:
    return {
        "id": line.case_id, "case_number": line.case_number, "item_code": line.item_code, "item_name": line.item_name,
        "applicant": {"name": line.applicant, "id_number": line.id_number, "phone": line.phone},
        "village": line.village, "handler": line.handler, "accepted_at": _iso(line.accepted_at),
        "promised_date": _day(line.promised_date), "promised_provisional": line.promised_provisional,
        "completed_at": _iso(line.completed_at), "status": line.status, "result": line.result,
        "timeliness": line.timeliness.value or None, "card": line.card, "rating": line.rating,
    }


@bp.get("/ledger")
def ledger_page() -> Any:
    wanted = audit_desk.search_from(request.args)
    with services().db.read() as session:
        found = ledger.page(session, _user(), wanted)
    return {"total": found.total, "page": found.page, "pages": found.pages, "page_size": audit_desk.PAGE_SIZE,
            "cases": [_ledger_json(line) for line in found.lines]}


@bp.get("/ledger/export")
def ledger_export() -> Any:
    kind = request.args.get("format", "xlsx")
    if kind not in ledger_views.MEDIA:
        raise BadRequest("format 只能是 xlsx 或 csv")
    return ledger_views.export(_user(), audit_desk.search_from(request.args), kind)


@bp.post("/cases/<int:case_id>/verify")
def verify_case(case_id: int) -> Any:
    _auditor()
    with services().db.read() as session:
        _visible_case(session, case_id)
        case = session.get(Case, case_id)
        assert case is not None
        verified = audit_desk.verify_case(session, case)
    return {"case_id": case_id, "case_number": verified.case_number, "intact": verified.intact,
            "event_count": verified.event_count, "last_event_hash": verified.last_hash,
            "problems": [{"seq": found.seq, "event_id": found.event_id, "kind": found.kind, "message": found.message}
                         for found in verified.findings]}


# -- attachments, ratings (好差评), complaints and follow-ups -----------------------------------------


def _attachment_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "slot": row.slot, "version": row.version,
            "filename": row.filename, "media_type": row.media_type, "size": row.size, "sha256": row.sha256,
            "uploaded_by": row.uploaded_by.display_name if row.uploaded_by else None,
            "uploaded_at": _iso(row.uploaded_at), "url": url_for("api.attachment", attachment_id=row.id)}


# One rule for both methods: with two, a too-large id sent with POST would answer 405 instead of 404.
@bp.route("/cases/<int:case_id>/attachments", methods=["GET", "POST"])
def case_attachments(case_id: int) -> Any:
    svc = services()
    if request.method == "POST":
        sent = request.files.get("file")
        if sent is None:
            raise ValidationFailed("请用 multipart/form-data 上传 file（扫描件）和 slot（材料名称）",
                                   fields={"file": ["缺少文件"]})
        added = attachments.add(svc.cases, attachment_store(), _user().id, case_id, request.form.get("slot", ""),
                                sent.filename, sent.stream)
        with svc.db.read() as session:
            return _attachment_json(session.get(Attachment, added.id)), 201
    with svc.db.read() as session:
        _visible_case(session, case_id)
        return {"attachments": [_attachment_json(row) for row in attachments.of_case(session, case_id)]}


@bp.get("/attachments/<int:attachment_id>")
def attachment(attachment_id: int) -> Any:
    with services().db.read() as session:
        row = attachments.readable(session, _user(), attachment_id)
    path = attachment_store().path(row.sha256)
    if not path.is_file():
        raise NotFound("附件文件缺失，请联系系统管理员从备份恢复")
    response = send_file(path, mimetype=row.media_type, as_attachment=True, download_name=row.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _follow_up_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "case_number": row.case.case_number,
            "reason": "complaint" if row.complaint_id else "rating",
            "rating_level": row.rating.level if row.rating else None,
            "complaint": row.complaint.text if row.complaint else None,
            "opened_at": _iso(row.opened_at), "due_date": _day(row.due_date), "card": ratings.card(row),
            "status": row.status, "answer": row.answer,
            "answered_by": row.answered_by.display_name if row.answered_by else None,
            "answered_at": _iso(row.answered_at)}


def _feedback_json(session: Session, case_id: int) -> dict[str, Any]:
    rating = ratings.rating_of(session, case_id)
    return {
        "rating": {"level": rating.level, "comment": rating.comment, "channel": rating.channel,
                   "at": _iso(rating.at)} if rating else None,
        "complaints": [{"id": row.id, "text": row.text, "channel": row.channel, "at": _iso(row.at)}
                       for row in ratings.complaints_of(session, case_id)],
        "follow_ups": [_follow_up_json(row) for row in ratings.follow_ups_of(session, case_id)],
    }


@bp.route("/cases/<int:case_id>/rating", methods=["GET", "POST"])
def case_rating(case_id: int) -> Any:
    svc = services()
    if request.method == "POST":
        body = _json_body()
        ratings.rate(svc.cases, svc.settings.followup_days, _user().id, case_id, body.get("level"),
                     body.get("comment"))
    with svc.db.read() as session:
        _visible_case(session, case_id)
        return _feedback_json(session, case_id), 201 if request.method == "POST" else 200


@bp.post("/cases/<int:case_id>/complaints")
def case_complaint(case_id: int) -> Any:
    svc = services()
    ratings.complain(svc.cases, svc.settings.followup_days, _user().id, case_id, _json_body().get("text"))
    with svc.db.read() as session:
        return _feedback_json(session, case_id), 201


@bp.get("/followups")
def follow_ups() -> Any:
    status = request.args.get("status", FollowUpStatus.OPEN)
    if status not in list(FollowUpStatus):
        raise BadRequest("status 只能是 open（待答复）或 answered（已答复）")
    if not access.may_use_desk(_user()):
        raise Forbidden("只有电子监察、审计和系统管理员可以查看整改回访")
    limit = _limit()
    with services().db.read() as session:
        return {"follow_ups": [_follow_up_json(row) for row in ratings.follow_ups(session, _user(), status, limit)]}


@bp.post("/followups/<int:follow_up_id>/answer")
def answer_follow_up(follow_up_id: int) -> Any:
    answered = ratings.answer(services().cases, _user().id, follow_up_id, _json_body().get("answer"))
    with services().db.read() as session:
        row = session.get(FollowUp, answered.id)
        return _follow_up_json(row)


# -- task operations: 退回 and 撤回 (engine/tasks/sendback.py, withdraw.py) -------------------------


@bp.get("/tasks/<task_id>/send-back")
def send_back_targets(task_id: str) -> Any:
    steps = services().cases.send_back_targets(_user().id, task_id)
    return {"task_id": task_id, "targets": [
        {"task_id": step.task_id, "step": step.name, "element_id": step.element_id, "whole_split": step.whole_split}
        for step in steps]}


@bp.post("/tasks/<task_id>/send-back")
def send_back_task(task_id: str) -> Any:
    body = _json_body()
    target = body.get("target_task_id")
    if not isinstance(target, str):
        raise BadRequest("target_task_id 应为要退回到的环节的任务 ID（见 GET /tasks/{task_id}/send-back）")
    return _moved(services().cases.send_back(_user().id, task_id, target, body.get("reason")))


@bp.post("/tasks/<task_id>/withdraw")
def withdraw_task(task_id: str) -> Any:
    return _moved(services().cases.withdraw(_user().id, task_id, _json_body().get("reason")))


def _moved(step: Any) -> dict[str, Any]:
    """The case after a task operation moved it, with the tasks now open on it."""
    with services().db.read() as session:
        payload = _case_summary(session, queries.case_row(session, step.case.id))
    payload["open_tasks"] = [{"id": task.id, "step": task.name, "element_id": task.element_id}
                             for task in step.open_tasks]
    return payload


# -- task operations: 转办 and 委派 (engine/tasks/transfer.py, delegate.py) ------------------------


@bp.get("/tasks/<task_id>/receivers")
def task_receivers(task_id: str) -> Any:
    offered = services().cases.task_receivers(_user().id, task_id)
    return {"task_id": task_id,
            "posts": [{"role": post.role_code, "org_id": post.org_id, "label": post.label} for post in offered.posts],
            "colleagues": [{"user": colleague.username, "name": colleague.display_name, "label": colleague.label}
                           for colleague in offered.colleagues]}


@bp.post("/tasks/<task_id>/transfer")
def transfer_task(task_id: str) -> Any:
    body = _json_body()
    services().cases.transfer(_user().id, task_id, body.get("role"), body.get("org_id"), body.get("reason"))
    return _reloaded_task(task_id)


@bp.post("/tasks/<task_id>/delegate")
def delegate_task(task_id: str) -> Any:
    body = _json_body()
    username = body.get("user")
    with services().db.read() as session:
        colleague = session.scalar(select(User.id).where(User.username == username)) \
            if isinstance(username, str) else None
    if colleague is None:
        message = "user 应为要委派的同事的用户名（见 GET /tasks/{task_id}/receivers）"
        raise ValidationFailed(message, fields={"user": [message]})
    services().cases.delegate(_user().id, task_id, colleague, body.get("reason"))
    return _reloaded_task(task_id)


@bp.post("/tasks/<task_id>/delegate/recall")
def recall_delegation(task_id: str) -> Any:
    services().cases.recall_delegation(_user().id, task_id)
    return _reloaded_task(task_id)


# -- task operations: 会签/或签 and 加签 -------------------------------------------------------


@bp.post("/tasks/<task_id>/signers")
def add_signer(task_id: str) -> Any:
    """加签: the holder adds a post to sign the task before or after them; a signer's share is then completed
    through POST /tasks/{id}/complete like any task."""
    body = _json_body()
    text = _text_fields(body, ("role", "position", "reason"))
    org_id = body.get("org_id")
    if not isinstance(org_id, int) or isinstance(org_id, bool):
        raise ValidationFailed("org_id 应为整数：加签岗位所在村、镇或县的 ID", fields={"org_id": ["应为整数"]})
    added = services().cases.add_signer(_user().id, task_id, text["role"], org_id, text["position"],
                                        text["reason"])
    with services().db.read() as session:
        task, signer = inbox.task_row(session, added.task_id), inbox.task_row(session, added.signer_id)
    return {"task": _task_json(task), "signer": _task_json(signer)}, 201


@bp.get("/cases/<int:case_id>/signatures")
def case_signatures(case_id: int) -> Any:
    """Every round of signing of the case (会签/或签/按比例, 加签): mode, tally, and each post's share."""
    svc = services()
    with svc.db.read() as session:
        _visible_case(session, case_id)
        version = svc.cases.versions.get(session, session.scalar(select(Case.version_id).where(Case.id == case_id)))
        found = countersign.signings(session, version, case_id)
        shown = (lambda value: value) if privacy.handles(session, _user(), case_id) else privacy.mask_data
    return {"case_id": case_id, "signings": [_signing_json(signing, shown) for signing in found]}


def _signing_json(signing: countersign.Signing, shown: Any) -> dict[str, Any]:
    outcome = None if signing.outcome is None else "approved" if signing.outcome else "refused"
    return {
        "task_id": signing.task_id, "step": signing.step, "element_id": signing.element_id, "kind": signing.kind,
        "status": signing.status, "opened_at": _iso(signing.opened_at), "ratio": signing.ratio,
        "needed": signing.needed, "signed": signing.signed, "total": signing.total, "approvals": signing.approvals,
        "refusals": signing.refusals, "outcome": outcome, "decision_field": signing.decision_field,
        "holder": signing.holder,
        "signatures": [{
            "task_id": s.task_id, "role": s.role_code, "role_name": s.role_name, "org_id": s.org_id,
            "org_name": s.org_name, "status": s.status, "signed_by": s.signed_by, "signed_at": _iso(s.signed_at),
            "decision": s.decision, "approved": s.approved, "opinion": s.opinion or None, "answer": shown(s.answer),
            "position": s.position, "reason": s.reason,
        } for s in signing.signatures],
    }


# -- task operations: 抄送 and 催办 -------------------------------------------------------------


@bp.post("/tasks/<task_id>/copy")
def copy_task(task_id: str) -> Any:
    body = _json_body()
    made = services().cases.copy_case(_user().id, task_id, copying.parse_posts(body.get("posts")), body.get("note"))
    return {"task_id": task_id, "copies": [{
        "id": row.id, "case_id": row.case_id, "step": row.step, "post": {"role": row.role_code, "org_id": row.org_id},
        "note": row.note, "copied_at": _iso(row.copied_at)} for row in made]}, 201


@bp.get("/copies")
def list_copies() -> Any:
    limit, offset = _limit(), _offset()
    with services().db.read() as session:
        rows = copying.copied_to(session, _user(), limit=limit, offset=offset)
        total, unread = copying.count(session, _user()), copying.count(session, _user(), unread_only=True)
    return {"total": total, "unread": unread, "copies": [_copy_json(row) for row in rows]}


@bp.post("/copies/<int:copy_id>/read")
def read_copy(copy_id: int) -> Any:
    with services().db.write() as session:
        copying.mark_read(session, _user(), copy_id, clock.now())
    with services().db.read() as session:
        return _copy_json(copying.copy_row(session, _user(), copy_id))


def _copy_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "case_id": row.case_id, "case_number": row.case_number, "item_code": row.item_code,
        "item_name": row.item_name, "applicant_name": row.applicant_name,
        "applicant_id_number": mask_id_number(row.applicant_id_number), "village": row.village_name,
        "task_id": row.task_id, "step": row.step, "post": {"role": row.role_code, "org_id": row.org_id},
        "copied_by": _person(row.copier_username, row.copier_name), "copied_at": _iso(row.copied_at),
        "note": row.note, "read_at": _iso(row.read_at),
    }


@bp.post("/tasks/<task_id>/chase")
def chase_task(task_id: str) -> Any:
    row = services().cases.chase(_user().id, task_id, _json_body().get("note"))
    with services().db.read() as session:
        handler = session.get(User, row.handler_id) if row.handler_id else None
    return {"id": row.id, "case_id": row.case_id, "task_id": row.task_id, "step": row.step,
            "post": {"role": row.role_code, "org_id": row.org_id},
            "handler": _person(handler.username, handler.display_name) if handler else None,
            "chased_at": _iso(row.chased_at), "note": row.note}, 201
