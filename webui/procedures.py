"""流程管理: administrators list, create, import, export, check and publish procedures, edit guides, see diffs."""

from __future__ import annotations

import io
import tomllib
from typing import Any

from flask import Blueprint, Response, flash, g, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select

from engine.errors import BianminError, DeployRefused, Forbidden, NotFound, ValidationFailed
from engine.models import ProcedureDraft, ProcedureVersion
from engine.people import access
from engine.procedures import catalog, drafts
from engine.procedures.bundle import CASE_TYPES, GUIDE_FILE
from engine.procedures.diff import ASPECTS, Snapshot, compare, elements_of

from . import helpers
from .auth import login_required
from .i18n import CASE_TYPES as CASE_TYPE_LABELS
from .i18n import t

bp = Blueprint("procedures", __name__)

# The endpoints the modeler and the form editor call by script answer errors as JSON.
JSON_ENDPOINTS = ("procedures.draft_files", "procedures.save_files", "procedures.publish")
# Guide fields the editor writes as whole numbers of working days, with what to call them in an error.
GUIDE_NUMBERS = {"promised_days": "承诺时限", "statutory_days": "法定时限", "warning_days": "预警提前天数",
                 "max_extension_days": "最多延期天数"}
GUIDE_TEXTS = ("code", "name", "category", "conditions", "basis", "fee", "department")
# Blank means "not said": the engine's default applies (warning threshold, extension cap) or nothing is shown.
OPTIONAL = ("category", "department", "warning_days", "max_extension_days")
TIMER_UNITS = {"calendar": "自然日", "working": "工作日"}


def _modeler() -> None:
    if not access.may_model(g.user):
        raise Forbidden("只有系统管理员可以管理流程")


@bp.errorhandler(BianminError)
def _error(exc: BianminError) -> Any:
    if request.endpoint in JSON_ENDPOINTS:
        body: dict[str, Any] = {"error": exc.message}
        if isinstance(exc, DeployRefused):
            body["problems"] = [problem.as_json() for problem in exc.problems]
        return jsonify(body), exc.status, exc.headers
    return render_template("error.html", message=exc.message, details=exc.details), exc.status, exc.headers


# -- the list ------------------------------------------------------------------------------------------------------


def _list_page(error: BianminError | None = None, status: int = 200) -> Any:
    with helpers.services().db.read() as db:
        items, open_drafts = catalog.overview(db), drafts.open_drafts(db, g.user)
    return render_template("procedures.html", items=items, drafts=open_drafts, error=error,
                           errors_in=drafts.errors_in), status


@bp.route("/procedures")
@login_required
def index() -> Any:
    _modeler()
    return _list_page()


@bp.post("/procedures/drafts")
@login_required
def new_draft() -> Any:
    _modeler()
    svc = helpers.services()
    version_id = request.form.get("version_id", "")
    with svc.db.write() as db:
        if version_id:
            if not version_id.isdigit():
                raise NotFound("流程版本不存在")
            draft = drafts.create_from_version(db, g.user, int(version_id), svc.settings.max_diagram_bytes)
        else:
            draft = drafts.create_blank(db, g.user, request.form.get("name", ""), svc.settings.max_diagram_bytes)
        draft_id = draft.id
    flash(t("draft_created"), "success")
    return redirect(url_for("procedures.draft", draft_id=draft_id))


@bp.post("/procedures/import")
@login_required
def import_upload() -> Any:
    _modeler()
    svc = helpers.services()
    upload = request.files.get("file")
    name = (upload.filename or "") if upload is not None else ""
    try:
        if not name:
            raise ValidationFailed("请选择要导入的文件：.bpmn 流程图，或流程文件夹的 .zip 压缩包")
        raw = upload.read(svc.settings.max_upload_bytes + 1)  # type: ignore[union-attr]
        with svc.db.write() as db:
            if name.lower().endswith(".bpmn"):
                draft = drafts.import_diagram(db, g.user, name, raw, svc.settings.max_diagram_bytes)
            elif name.lower().endswith(".zip"):
                draft = drafts.import_zip(db, g.user, name, raw, svc.settings.max_diagram_bytes,
                                          svc.settings.max_upload_bytes)
            else:
                raise ValidationFailed(f"无法导入“{name}”：只接受 .bpmn 流程图或 .zip 压缩包")
            draft_id = draft.id
    except BianminError as exc:
        return _list_page(exc, exc.status)
    flash(t("draft_imported", name=name), "success")
    return redirect(url_for("procedures.draft", draft_id=draft_id))


def _zip(name: str, raw: bytes) -> Response:
    # send_file encodes a name that is not ASCII (an item code in Chinese) as RFC 5987 asks.
    return send_file(io.BytesIO(raw), mimetype="application/zip", as_attachment=True, download_name=name)


@bp.route("/procedures/versions/<int:version_id>/export")
@login_required
def export_version(version_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        return _zip(*drafts.export_version(db, g.user, version_id))


@bp.route("/procedures/drafts/<int:draft_id>/export")
@login_required
def export_draft(draft_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        return _zip(*drafts.export_draft(db, g.user, draft_id))


# -- a draft -------------------------------------------------------------------------------------------------------


@bp.route("/procedures/drafts/<int:draft_id>")
@login_required
def draft(draft_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        found = drafts.get_draft(db, g.user, draft_id)
        base = db.get(ProcedureVersion, found.based_on_version_id) if found.based_on_version_id else None
        published = db.get(ProcedureVersion, found.published_version_id) if found.published_version_id else None
        # Someone published since this draft began: publishing it would set their changes aside.
        newer = db.scalar(select(func.max(ProcedureVersion.version))
                          .where(ProcedureVersion.item_code == base.item_code)) if base else None
        forms = sorted(path.split("/", 1)[1] for path in found.files if path.startswith("forms/")
                       and "uischema" not in path)
        return render_template("procedure_draft.html", draft=found, base=base, published=published, forms=forms,
                               errors=drafts.errors_in(found.problems),
                               newer=newer if base and not published and newer and newer > base.version else None)


@bp.route("/procedures/drafts/<int:draft_id>/files")
@login_required
def draft_files(draft_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        found = drafts.get_draft(db, g.user, draft_id)
        return {"files": found.files, "problems": found.problems, "item_code": found.item_code, "name": found.name,
                "published_version_id": found.published_version_id}


@bp.post("/procedures/drafts/<int:draft_id>/files")
@login_required
def save_files(draft_id: int) -> Any:
    _modeler()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("files"), dict):
        raise ValidationFailed('请以 JSON 发送 {"files": {路径: 文本，或 null 表示删除}}')
    svc = helpers.services()
    with svc.db.write() as db:
        saved = drafts.save(db, g.user, draft_id, body["files"], svc.settings.max_diagram_bytes)
        return {"problems": saved.problems, "saved_at": saved.updated_at.isoformat(), "item_code": saved.item_code,
                "name": saved.name}


@bp.post("/procedures/drafts/<int:draft_id>/publish")
@login_required
def publish(draft_id: int) -> Any:
    _modeler()
    svc = helpers.services()
    from_page = helpers.CSRF_FIELD in request.form
    try:
        with svc.db.write() as db:
            done = drafts.publish(db, g.user, draft_id, svc.settings.max_diagram_bytes)
    except BianminError as exc:
        if not from_page:
            raise
        flash(exc.message, "error")
        return redirect(url_for("procedures.draft", draft_id=draft_id))
    if from_page:
        flash(t("draft_published", code=done.item_code, version=done.version), "success")
        return redirect(url_for("procedures.index"))
    return {"item_code": done.item_code, "version": done.version}


# -- the guide editor ----------------------------------------------------------------------------------------------


def _timer_elements(files: dict[str, str]) -> list[tuple[str, str]]:
    """The diagram's timers (id, name): each may take its length from the guide."""
    elements = elements_of(files.get("process.bpmn", ""))
    return [(element_id, facts["name"]) for element_id, facts in elements.items() if "timer" in facts]


def _guide_page(found: ProcedureDraft, guide: dict[str, Any], errors: list[str], status: int = 200) -> Any:
    timers = _timer_elements(found.files)
    known = {element_id for element_id, _ in timers}
    timers += [(element_id, "") for element_id in guide.get("timers", {}) if element_id not in known]
    return render_template("procedure_guide.html", draft=found, guide=guide, errors=errors, timers=timers,
                           case_types=[(code, CASE_TYPE_LABELS[code][0]) for code in CASE_TYPES],
                           units=TIMER_UNITS), status


@bp.route("/procedures/drafts/<int:draft_id>/guide")
@login_required
def guide(draft_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        found = drafts.get_draft(db, g.user, draft_id)
        errors: list[str] = []
        try:
            current = tomllib.loads(found.files.get(GUIDE_FILE, ""))
        except tomllib.TOMLDecodeError as exc:
            current = {}
            errors.append(f"item.toml 格式错误，编辑器从空白开始，保存后将替换原内容：{exc}")
        return _guide_page(found, current, errors)


@bp.post("/procedures/drafts/<int:draft_id>/guide")
@login_required
def save_guide(draft_id: int) -> Any:
    _modeler()
    svc = helpers.services()
    with svc.db.read() as db:
        found = drafts.get_draft(db, g.user, draft_id)
        try:
            current = tomllib.loads(found.files.get(GUIDE_FILE, ""))
        except tomllib.TOMLDecodeError:
            current = {}
        edited, errors = _guide_from_form(current)
        if errors:
            return _guide_page(found, edited, errors, 422)
    with svc.db.write() as db:
        saved = drafts.save(db, g.user, draft_id, {GUIDE_FILE: drafts.guide_text(edited)},
                            svc.settings.max_diagram_bytes)
        left = [problem for problem in saved.problems if problem["file"] == GUIDE_FILE]
    flash(t("guide_saved_problems", n=len(left)) if left else t("guide_saved"), "warn" if left else "success")
    return redirect(url_for("procedures.guide", draft_id=draft_id))


def _whole(value: str, what: str, errors: list[str], minimum: int = 0) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < minimum:
        errors.append(f"{what}应为不小于 {minimum} 的整数，收到“{value}”")
        return None
    return int(value)


def _guide_from_form(current: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The guide as the form says it, over the fields the editor does not show (steps, application form …)."""
    form = request.form
    errors: list[str] = []
    guide = dict(current)
    for key in GUIDE_TEXTS:
        guide[key] = form.get(key, "").strip()
    guide["case_type"] = form.get("case_type", "promised")
    if guide["case_type"] not in CASE_TYPES:
        errors.append("请选择办件类型")
    for key, what in GUIDE_NUMBERS.items():
        number = _whole(form.get(key, ""), what, errors)
        guide[key] = number if number is not None else (0 if key not in OPTIONAL else None)
    materials = []
    for index in sorted({int(key.split("-")[1]) for key in form if key.startswith("materials-")
                         and key.split("-")[1].isdigit()}):
        name = form.get(f"materials-{index}-name", "").strip()
        if not name:
            continue
        copies = _whole(form.get(f"materials-{index}-copies", "1"), f"材料“{name}”的份数", errors, 1)
        materials.append({"name": name, "required": form.get(f"materials-{index}-required") == "1",
                          "copies": copies or 1, "original": form.get(f"materials-{index}-original") == "1"})
    guide["materials"] = materials
    timers: dict[str, Any] = {}
    for element_id in sorted({key.split("-", 2)[1] for key in form if key.startswith("timers-")}):
        days = _whole(form.get(f"timers-{element_id}-days", ""), f"定时器 {element_id} 的天数", errors, 1)
        if days is None:
            continue
        unit = form.get(f"timers-{element_id}-unit", "calendar")
        timers[element_id] = {"days": days, "unit": unit if unit in TIMER_UNITS else "calendar",
                              "basis": form.get(f"timers-{element_id}-basis", "").strip()}
    guide["timers"] = timers
    for key in (*OPTIONAL, "timers"):
        if guide.get(key) in (None, "", {}):
            guide.pop(key, None)
    return guide, errors


# -- diagrams and differences ----------------------------------------------------------------------------------------


@bp.route("/procedures/versions/<int:version_id>/diagram")
@login_required
def version_diagram(version_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        version = db.get(ProcedureVersion, version_id)
        if version is None:
            raise NotFound("流程版本不存在")
        return Response(version.bpmn_xml, mimetype="application/xml")


@bp.route("/procedures/drafts/<int:draft_id>/diagram")
@login_required
def draft_diagram(draft_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        found = drafts.get_draft(db, g.user, draft_id)
        return Response(Snapshot.of_files(found.files).bpmn_xml, mimetype="application/xml")


def _diff_page(old: ProcedureVersion, new_label: str, new: Snapshot, new_url: str) -> Any:
    diff = compare(Snapshot.of_version(old), new)
    return render_template("procedure_diff.html", old=old, new_label=new_label, diff=diff, aspects=ASPECTS,
                           old_url=url_for("procedures.version_diagram", version_id=old.id), new_url=new_url)


@bp.route("/procedures/versions/<int:version_id>/diff")
@login_required
def version_diff(version_id: int) -> Any:
    """This version against the one it replaced, or against `?against=` another version of the same item."""
    _modeler()
    with helpers.services().db.read() as db:
        new = db.get(ProcedureVersion, version_id)
        if new is None:
            raise NotFound("流程版本不存在")
        against = request.args.get("against", "")
        if against.isdigit():
            old = db.get(ProcedureVersion, int(against))
        else:
            old = db.scalar(select(ProcedureVersion).where(ProcedureVersion.item_code == new.item_code,
                                                           ProcedureVersion.version == new.version - 1))
        if old is None or old.item_code != new.item_code:
            raise NotFound(f"{new.item_code} 没有可比较的版本")
        return _diff_page(old, f"{new.item_code} v{new.version}", Snapshot.of_version(new),
                          url_for("procedures.version_diagram", version_id=new.id))


@bp.route("/procedures/drafts/<int:draft_id>/diff")
@login_required
def draft_diff(draft_id: int) -> Any:
    _modeler()
    with helpers.services().db.read() as db:
        found = drafts.get_draft(db, g.user, draft_id)
        base = db.get(ProcedureVersion, found.based_on_version_id) if found.based_on_version_id else None
        if base is None:
            raise NotFound("这份草稿不是从已发布的版本新建的，没有可比较的版本")
        return _diff_page(base, t("draft_label", id=found.id), Snapshot.of_files(found.files),
                          url_for("procedures.draft_diagram", draft_id=found.id))
