"""Procedures kept in the browser: drafts made blank, from a version or by import; checked, published, exported."""

from __future__ import annotations

import io
import json
import stat
import tomllib
import zipfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Protocol
from uuid import uuid4

import tomli_w
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock, userinput
from ..audit import system
from ..errors import Conflict, DeployRefused, Forbidden, NotFound, Problem, Severity, ValidationFailed
from ..models import ProcedureDraft, ProcedureVersion, ServiceItem
from ..people import access
from ..vocabulary import SystemEventKind
from .bundle import FORMS_DIR, GUIDE_FILE, MODEL_FILE, READ_SUFFIXES, folder_layout, read_files
from .deploy import Deployed, deploy, known_roles
from .diagram import NS
from .spiff import parse_xml

DIAGRAM_FILE = "process.bpmn"
# Problems name files by their path in the draft's folder; the check's own label is taken off again.
LABEL = "草稿"
# What an imported zip may hold: a procedure folder is a diagram, a guide and a few dozen forms.
MAX_ZIP_ENTRIES = 200
# A compressed entry expanding more than this many times over is a zip bomb, not a diagram.
MAX_ZIP_RATIO = 100
ZIP_SKIPPED = ("__MACOSX/", ".DS_Store")


class Modeler(Protocol):
    """Whoever models: a staff account (the access rule reads its role; the system chain its id and name)."""

    id: int
    username: str
    display_name: str
    role_code: str
    away: bool
    org_id: int
    org_level: str


def _require(actor: Modeler) -> None:
    if not access.may_model(actor):
        raise Forbidden("只有系统管理员可以编辑、导入、导出和发布流程")


# -- the files of a new draft ---------------------------------------------------------------------------------------


def blank_files(name: str) -> dict[str, str]:
    """A diagram bpmn-js opens (one lane, a start event) and a guide that lists every field to fill in."""
    process_id = f"Process_{uuid4().hex[:8]}"
    diagram = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" \
xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" \
id="Definitions_{process_id}" targetNamespace="http://bpmn.io/schema/bpmn" exporter="bianmin" exporterVersion="1.0">
  <bpmn:collaboration id="Collaboration_{process_id}">
    <bpmn:participant id="Participant_{process_id}" name="{_xml_text(name)}" processRef="{process_id}" />
  </bpmn:collaboration>
  <bpmn:process id="{process_id}" name="{_xml_text(name)}" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{process_id}">
      <bpmn:lane id="Lane_village_agent" name="village_agent">
        <bpmn:flowNodeRef>StartEvent_apply</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_apply" name="提出申请" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_{process_id}">
    <bpmndi:BPMNPlane id="BPMNPlane_{process_id}" bpmnElement="Collaboration_{process_id}">
      <bpmndi:BPMNShape id="Participant_{process_id}_di" bpmnElement="Participant_{process_id}" isHorizontal="true">
        <dc:Bounds x="120" y="80" width="900" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_village_agent_di" bpmnElement="Lane_village_agent" isHorizontal="true">
        <dc:Bounds x="150" y="80" width="870" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="StartEvent_apply_di" bpmnElement="StartEvent_apply">
        <dc:Bounds x="212" y="162" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""
    return {DIAGRAM_FILE: diagram, GUIDE_FILE: skeleton_guide(name)}


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def guide_text(guide: dict[str, Any]) -> str:
    """item.toml's text for a guide: top-level fields first, then materials and timers as TOML tables."""
    return tomli_w.dumps(guide)


def skeleton_guide(name: str) -> str:
    """item.toml with every field the check asks for, blank where only the county can say what it is."""
    return guide_text({"code": "", "name": name, "case_type": "promised", "promised_days": 0,
                          "statutory_days": 0, "conditions": "", "basis": "", "fee": "", "materials": []})


def version_files(version: ProcedureVersion) -> dict[str, str]:
    """A version's files as its folder held them: the diagram, the guide, each form under forms/ by its own name.

    A diagram with several processes also gets the process_model.json that chose the one that runs.
    """
    files = {DIAGRAM_FILE: version.bpmn_xml, GUIDE_FILE: guide_text(version.guide)}
    files |= {f"{FORMS_DIR}/{name}": json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
              for name, schema in version.forms.items()}
    root = parse_xml(version.bpmn_xml, DIAGRAM_FILE)
    executable = root.xpath("//bpmn:process[@isExecutable='true']/@id", namespaces=NS) or \
        root.xpath("//bpmn:process/@id", namespaces=NS)
    if not executable or str(executable[0]) != version.process_id:
        files[MODEL_FILE] = json.dumps({"primary_file_name": DIAGRAM_FILE, "primary_process_id": version.process_id},
                                       ensure_ascii=False, indent=2) + "\n"
    return files


# -- checking ----------------------------------------------------------------------------------------------------------


def check(session: Session, files: Mapping[str, str], max_diagram_bytes: int) -> list[Problem]:
    """What `bianmin deploy` would say of these files: errors refuse publication, warnings do not."""
    raw = {path: text.encode("utf-8") for path, text in files.items()}
    try:
        found = read_files(LABEL, raw, known_roles(session), max_diagram_bytes).warnings
    except DeployRefused as exc:
        found = exc.problems or [Problem(LABEL, exc.message)]
    return [_placed(problem) for problem in found]


def _placed(problem: Problem) -> Problem:
    file = problem.file
    if file == LABEL:
        file = ""
    elif file.startswith(f"{LABEL}/"):
        file = file[len(LABEL) + 1:]
    return Problem(file, problem.message, problem.element_id, problem.element_name, problem.severity)


def errors_in(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [problem for problem in problems if problem.get("severity") == Severity.ERROR]


def _guide_of(files: Mapping[str, str]) -> dict[str, Any]:
    try:
        guide = tomllib.loads(files.get(GUIDE_FILE) or "")
    except tomllib.TOMLDecodeError:
        return {}
    return guide


def _store(session: Session, draft: ProcedureDraft, files: dict[str, str], actor: Modeler, now: datetime,
           max_diagram_bytes: int) -> ProcedureDraft:
    guide = _guide_of(files)
    draft.files = files
    draft.problems = [problem.as_json() for problem in check(session, files, max_diagram_bytes)]
    code, name = str(guide.get("code") or "").strip(), str(guide.get("name") or "").strip()
    draft.item_code = code[:50] or None
    draft.name = (name or draft.name or "未命名流程")[:200]
    draft.updated_by_id, draft.updated_at = actor.id, now
    session.flush()
    return draft


def _new(session: Session, files: dict[str, str], actor: Modeler, max_diagram_bytes: int, name: str,
         based_on: int | None = None) -> ProcedureDraft:
    now = clock.now()
    draft = ProcedureDraft(name=name, files={}, based_on_version_id=based_on, problems=[], created_by_id=actor.id,
                           created_at=now, updated_by_id=actor.id, updated_at=now)
    session.add(draft)
    return _store(session, draft, files, actor, now, max_diagram_bytes)


# -- drafts ------------------------------------------------------------------------------------------------------------


def create_blank(session: Session, actor: Modeler, name: str, max_diagram_bytes: int) -> ProcedureDraft:
    _require(actor)
    name = name.strip() or "新流程"
    userinput.check_text(name, "流程名称")
    return _new(session, blank_files(name[:200]), actor, max_diagram_bytes, name[:200])


def create_from_version(session: Session, actor: Modeler, version_id: int, max_diagram_bytes: int) -> ProcedureDraft:
    _require(actor)
    version = session.get(ProcedureVersion, version_id)
    if version is None:
        raise NotFound("流程版本不存在")
    return _new(session, version_files(version), actor, max_diagram_bytes, str(version.guide.get("name", "")),
                based_on=version.id)


def get_draft(session: Session, actor: Modeler, draft_id: int, *, lock: bool = False) -> ProcedureDraft:
    _require(actor)
    draft = session.get(ProcedureDraft, draft_id, with_for_update=lock)
    if draft is None:
        raise NotFound("草稿不存在")
    return draft


def open_drafts(session: Session, actor: Modeler) -> list[ProcedureDraft]:
    _require(actor)
    return list(session.scalars(select(ProcedureDraft).where(ProcedureDraft.published_version_id.is_(None))
                                .order_by(ProcedureDraft.updated_at.desc(), ProcedureDraft.id.desc())))


def _checked_path(path: Any) -> str:
    """A path in a procedure folder: the diagram, guide or model at the top, forms under forms/, nothing else."""
    if not isinstance(path, str) or not path:
        raise ValidationFailed("文件路径不能为空")
    userinput.check_text(path, "文件路径")
    parts = PurePosixPath(path).parts
    top = len(parts) == 1
    in_forms = len(parts) == 2 and parts[0] == FORMS_DIR and path.endswith(".json")
    if "\\" in path or path.startswith("/") or ".." in parts or not (top or in_forms) \
            or not path.endswith(READ_SUFFIXES):
        raise ValidationFailed(f"文件路径“{path}”无效：只能是流程文件夹中的 .bpmn、item.toml、process_model.json，"
                               f"或 {FORMS_DIR}/ 下的 .json 表单文件")
    return path


def save(session: Session, actor: Modeler, draft_id: int, changes: Mapping[str, Any],
         max_diagram_bytes: int) -> ProcedureDraft:
    """Apply {path: text, or None to delete} and check the whole folder; a draft with errors is saved all the same."""
    draft = get_draft(session, actor, draft_id, lock=True)
    if draft.published_version_id is not None:
        raise Conflict("草稿已发布，不能再修改：请从新版本新建草稿")
    files = dict(draft.files)
    for path, text in changes.items():
        _checked_path(path)
        if text is None:
            files.pop(path, None)
        elif isinstance(text, str):
            userinput.check_text(text, f"文件 {path} 的内容")
            files[path] = text
        else:
            raise ValidationFailed(f"文件 {path} 的内容应为文本（删除文件请传 null）")
    return _store(session, draft, files, actor, clock.now(), max_diagram_bytes)


def publish(session: Session, actor: Modeler, draft_id: int, max_diagram_bytes: int) -> Deployed:
    """Deploy the draft as the item's next version, record the publication and close the draft."""
    draft = get_draft(session, actor, draft_id, lock=True)
    if draft.published_version_id is not None:
        raise Conflict("草稿已发布过：请从新版本新建草稿")
    raw = {path: text.encode("utf-8") for path, text in draft.files.items()}
    try:
        checked = read_files(LABEL, raw, known_roles(session), max_diagram_bytes)
    except DeployRefused as exc:
        problems = [_placed(problem) for problem in exc.problems]
        errors = [problem for problem in problems if problem.severity == Severity.ERROR]
        raise DeployRefused(f"草稿还有 {len(errors)} 处错误，不能发布：请先改正", problems=problems) from exc
    item = session.get(ServiceItem, checked.code)
    current = session.get(ProcedureVersion, item.current_version_id) if item and item.current_version_id else None
    if current is not None and (current.bpmn_xml, current.forms, current.guide, current.process_id) == \
            (checked.bpmn_xml, checked.forms, checked.guide, checked.process_id):
        raise Conflict(f"草稿与 {current.item_code} 当前版本 v{current.version} 完全相同，无需发布")
    # One deployment, one event: the publication below names the draft, so deploy records nothing itself.
    done = deploy(session, checked, actor.username, actor, record=False)
    version = session.scalar(select(ProcedureVersion).where(ProcedureVersion.item_code == done.item_code,
                                                            ProcedureVersion.version == done.version))
    assert version is not None
    now = clock.now()
    system.append(session, SystemEventKind.PROCEDURE_PUBLISHED, actor, now, f"{done.item_code} v{done.version}",
                  after={"item_code": done.item_code, "version": done.version, "name": checked.guide["name"],
                         "draft_id": draft.id, "published_by": actor.username,
                         "based_on_version_id": draft.based_on_version_id})
    draft.published_version_id, draft.item_code = version.id, done.item_code
    draft.updated_by_id, draft.updated_at = actor.id, now
    session.flush()
    return done


# -- import ------------------------------------------------------------------------------------------------------------


def import_diagram(session: Session, actor: Modeler, filename: str, raw: bytes,
                   max_diagram_bytes: int) -> ProcedureDraft:
    """A .bpmn file from any modeler becomes a draft with a skeleton guide named after its process."""
    _require(actor)
    if len(raw) > max_diagram_bytes:
        raise ValidationFailed(f"流程图文件过大，上限为 {max_diagram_bytes // 1024} KB")
    text = _utf8(filename, raw)
    root = _parsed(filename, raw)
    names = root.xpath("//bpmn:process/@name", namespaces=NS)
    name = str(names[0]).strip() if names and str(names[0]).strip() else PurePosixPath(filename).stem or "导入的流程"
    return _new(session, {DIAGRAM_FILE: text, GUIDE_FILE: skeleton_guide(name[:200])}, actor, max_diagram_bytes,
                name[:200])


def import_zip(session: Session, actor: Modeler, filename: str, raw: bytes, max_diagram_bytes: int,
               max_total_bytes: int) -> ProcedureDraft:
    """A Bianmin procedure folder or a spiff-arena process model, zipped, becomes a draft in Bianmin's layout."""
    _require(actor)
    files = read_zip(filename, raw, max_diagram_bytes, max_total_bytes)
    diagram, form_paths, model = folder_layout(files)
    if diagram is None:
        raise ValidationFailed(f"{filename}：压缩包中没有可用的 .bpmn 流程图"
                               f"（应有一个，或由 {MODEL_FILE} 的 primary_file_name 指明）")
    root = _parsed(f"{filename}/{diagram}", files[diagram])
    layout = {DIAGRAM_FILE: _utf8(diagram, files[diagram])}
    layout |= {f"{FORMS_DIR}/{name}": _utf8(path, files[path]) for name, path in form_paths.items()}
    if model.get("primary_process_id"):
        # Only the choice of process is still needed; the primary file is now process.bpmn.
        layout[MODEL_FILE] = json.dumps({"primary_file_name": DIAGRAM_FILE,
                                         "primary_process_id": model["primary_process_id"]},
                                        ensure_ascii=False, indent=2) + "\n"
    names = root.xpath("//bpmn:process/@name", namespaces=NS)
    name = str(model.get("display_name") or (names[0] if names else "") or PurePosixPath(filename).stem).strip()
    layout[GUIDE_FILE] = _utf8(GUIDE_FILE, files[GUIDE_FILE]) if GUIDE_FILE in files else skeleton_guide(name[:200])
    return _new(session, layout, actor, max_diagram_bytes, name[:200] or "导入的流程")


def read_zip(filename: str, raw: bytes, max_file_bytes: int, max_total_bytes: int) -> dict[str, bytes]:
    """The procedure files of an uploaded zip by their path in the folder (one top folder taken off).

    Refused whole, naming the entry: absolute or `..` paths, links, encrypted entries, too many entries, an
    entry or a total over the limits, and entries compressed suspiciously well (a zip bomb).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ValidationFailed(f"{filename} 不是有效的 zip 压缩包") from exc
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ValidationFailed(f"{filename}：压缩包中有 {len(entries)} 个条目，超过上限 {MAX_ZIP_ENTRIES}")
    wanted: list[zipfile.ZipInfo] = []
    total = 0
    for entry in entries:
        name = entry.filename
        userinput.check_text(name, "压缩包中的文件名")
        parts = PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or (parts and ":" in parts[0]):
            raise ValidationFailed(f"{filename}：压缩包中的“{name}”使用了绝对路径或“..”，不予导入")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise ValidationFailed(f"{filename}：压缩包中的“{name}”是符号链接，不予导入")
        if entry.flag_bits & 0x1:
            raise ValidationFailed(f"{filename}：压缩包中的“{name}”已加密，无法导入")
        if entry.is_dir() or any(part in name for part in ZIP_SKIPPED):
            continue
        if entry.file_size > max_file_bytes:
            raise ValidationFailed(f"{filename}：“{name}”解压后过大，单个文件上限为 {max_file_bytes // 1024} KB")
        if entry.file_size > 1024 * 1024 and entry.file_size > MAX_ZIP_RATIO * max(entry.compress_size, 1):
            raise ValidationFailed(f"{filename}：“{name}”的压缩比异常（疑似压缩炸弹），不予导入")
        total += entry.file_size
        if total > max_total_bytes:
            raise ValidationFailed(f"{filename}：解压后总大小超过上限 {max_total_bytes // 1024 // 1024} MB")
        wanted.append(entry)
    paths = [PurePosixPath(entry.filename).parts for entry in wanted]
    # A zipped folder puts everything under one top folder; the procedure's files are what is inside it.
    strip = 1 if paths and all(len(parts) > 1 and parts[0] == paths[0][0] for parts in paths) else 0
    files: dict[str, bytes] = {}
    for entry, parts in zip(wanted, paths, strict=True):
        path = "/".join(parts[strip:])
        if not path.endswith(READ_SUFFIXES) or len(parts) - strip > 2:
            continue
        with archive.open(entry) as member:
            # The header's size is what was checked; an entry that inflates past it is not read further.
            data = member.read(entry.file_size + 1)
        if len(data) > entry.file_size:
            raise ValidationFailed(f"{filename}：“{entry.filename}”解压后的大小与记录不符，不予导入")
        files[path] = data
    return files


def _utf8(name: str, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"{name} 不是 UTF-8 编码的文本文件") from exc
    userinput.check_text(text, f"文件 {name} 的内容")
    return text


def _parsed(name: str, raw: bytes) -> Any:
    try:
        return parse_xml(raw, name)
    except DeployRefused as exc:
        raise ValidationFailed(f"{name} 无法作为流程图导入：{exc.message}") from exc


# -- export ------------------------------------------------------------------------------------------------------------


def export_zip(folder: str, files: Mapping[str, str]) -> bytes:
    """A zip of one folder in Bianmin's layout: unpacked, `bianmin deploy FOLDER` takes it as it is."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            archive.writestr(f"{folder}/{path}", files[path])
    return out.getvalue()


def export_version(session: Session, actor: Modeler, version_id: int) -> tuple[str, bytes]:
    _require(actor)
    version = session.get(ProcedureVersion, version_id)
    if version is None:
        raise NotFound("流程版本不存在")
    folder = f"{version.item_code}-v{version.version}"
    return f"{folder}.zip", export_zip(folder, version_files(version))


def export_draft(session: Session, actor: Modeler, draft_id: int) -> tuple[str, bytes]:
    draft = get_draft(session, actor, draft_id)
    folder = f"{draft.item_code or 'draft'}-draft{draft.id}"
    return f"{folder}.zip", export_zip(folder, draft.files)
