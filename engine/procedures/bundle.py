"""A procedure's files, from a folder on disk or an upload, read by their paths in the folder into one bundle."""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from lxml import etree

from .. import userinput
from ..errors import DeployRefused, Problem, Severity
from ..userinput import BadInput
from . import checks, crosschecks
from .diagram import NS
from .forms import declared_fields, is_reserved
from .spiff import parse_xml

# item.toml `repeats`: an open case of the same applicant refuses a new application, or only warns.
REPEATS = ("refuse", "warn")
CASE_TYPES = ("immediate", "promised", "joint", "escalated")
GUIDE_FILE = "item.toml"
# spiff-arena describes a process model folder here (display_name, primary_file_name, primary_process_id …).
MODEL_FILE = "process_model.json"
FORMS_DIR = "forms"
READ_SUFFIXES = (".bpmn", ".json", ".toml")
# The service guide's fields, told to whoever has to write them.
GUIDE_FIELDS = {
    "code": "事项编码",
    "name": "事项名称",
    "case_type": f"办件类型：{' / '.join(CASE_TYPES)}",
    "promised_days": "承诺时限，工作日数",
    "statutory_days": "法定时限，工作日数",
    "conditions": "申请条件",
    "materials": "申请材料，每项含 name、required、copies",
    "basis": "设定依据",
    "fee": "收费标准",
}


@dataclass
class ProcedureBundle:
    """Everything deployable read from one folder, already checked; warnings do not stop a deployment."""

    guide: dict[str, Any]
    process_id: str
    bpmn_xml: str
    forms: dict[str, Any]
    checksum: str
    warnings: list[Problem] = field(default_factory=list)

    @property
    def code(self) -> str:
        return str(self.guide["code"])


def read_folder(folder: Path, role_codes: set[str], max_diagram_bytes: int) -> ProcedureBundle:
    """Read and check a procedure folder as it is: Bianmin's layout (forms/) or a spiff-arena process model.

    A symbolic link inside it is refused: it could deploy, and show every staff member, a file from anywhere.
    """
    paths = [*folder.glob("*"), *folder.glob(f"{FORMS_DIR}/*")]
    links = sorted(path.relative_to(folder).as_posix() for path in paths if path.is_symlink())
    if links:
        raise DeployRefused(f"{folder.name}：流程文件夹中有符号链接，未部署", problems=[
            Problem(f"{folder.name}/{link}", "是符号链接，不予部署：请把它指向的文件复制到流程文件夹中，替换这个链接")
            for link in links])
    files = {path.relative_to(folder).as_posix(): path.read_bytes() for path in paths
             if path.is_file() and path.suffix in READ_SUFFIXES}
    return read_files(folder.name, files, role_codes, max_diagram_bytes)


def read_files(label: str, files: Mapping[str, bytes], role_codes: set[str],
               max_diagram_bytes: int) -> ProcedureBundle:
    """Read and check a procedure from its files keyed by path in its folder; DeployRefused lists every problem."""
    problems = [Problem(label, f"有文件的文件名{problem}：请改名后重新上传")
                for problem in filter(None, map(userinput.text_problem, files))]
    if problems:
        raise DeployRefused(f"{label}：流程校验未通过，共 {len(problems)} 处问题", problems=problems)
    model = _read_model(f"{label}/{MODEL_FILE}", files.get(MODEL_FILE), problems)
    guide = _read_guide(f"{label}/{GUIDE_FILE}", files.get(GUIDE_FILE), model, problems)
    diagram_name = _primary_diagram(label, files, model, problems)
    diagram_file = f"{label}/{diagram_name}"
    root = _read_diagram(diagram_file, files[diagram_name], max_diagram_bytes, problems) if diagram_name else None
    form_paths = _form_paths(label, files, guide, root, problems)
    forms = _read_forms(label, files, form_paths, problems)
    problems += [Problem(f"{label}/{form_paths[name]}", message)
                 for name, message in crosschecks.declaration_problems(forms)]
    application_form = guide.get("application_form")
    if application_form and application_form not in form_paths:
        problems.append(Problem(f"{label}/{GUIDE_FILE}",
                                f"申请表单 {application_form} 不存在（应放在 forms/ 下，或与流程图放在同一文件夹）"))
    process_id = _process_id(label, diagram_file, root, model, problems) if root is not None else None
    if process_id and root is not None:
        problems += checks.check_diagram(diagram_file, root, process_id, forms, set(form_paths), role_codes,
                                         guide, f"{label}/{GUIDE_FILE}")
    errors = [problem for problem in problems if problem.severity == Severity.ERROR]
    warnings = [problem for problem in problems if problem.severity == Severity.WARNING]
    if errors or not (diagram_name and process_id):
        raise DeployRefused(f"{label}：流程校验未通过，共 {len(errors)} 处问题", problems=errors + warnings)
    checksum = hashlib.sha256()
    for name in sorted(form_paths):
        checksum.update(name.encode() + b"\0" + files[form_paths[name]])
    checksum.update(files[GUIDE_FILE] + b"\0" + files[diagram_name])
    # It chooses which process of the diagram runs.
    checksum.update(files.get(MODEL_FILE, b""))
    return ProcedureBundle(guide, process_id, files[diagram_name].decode("utf-8"), forms, checksum.hexdigest(),
                           warnings)


def folder_layout(files: Mapping[str, bytes]) -> tuple[str | None, dict[str, str], dict[str, Any]]:
    """Which diagram deploys, where each form file is (name → path) and the spiff-arena model, as `read_files`
    finds them; what is wrong with them is for `read_files` to say."""
    ignored: list[Problem] = []
    model = _read_model(MODEL_FILE, files.get(MODEL_FILE), ignored)
    diagram = _primary_diagram("", files, model, ignored)
    root = None
    if diagram:
        try:
            root = parse_xml(files[diagram], diagram)
        except DeployRefused:
            root = None
    return diagram, _form_paths("", files, {}, root, ignored), model


def _text(model: dict[str, Any], key: str) -> str:
    value = model.get(key)
    return value.strip() if isinstance(value, str) else ""


def _read_model(file: str, raw: bytes | None, problems: list[Problem]) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        model = userinput.loads(raw, "")
    except BadInput as exc:
        problems.append(Problem(file, exc.message))
        return {}
    if not isinstance(model, dict):
        problems.append(Problem(file, "应为 JSON 对象"))
        return {}
    return model


def _read_guide(file: str, raw: bytes | None, model: dict[str, Any], problems: list[Problem]) -> dict[str, Any]:
    display_name = _text(model, "display_name")
    # The guide must say its own name; the model's display name only helps whoever writes it.
    hint = f"；name 可参照 {MODEL_FILE} 的 display_name“{display_name}”" if display_name else ""
    if raw is None:
        fields = "；".join(f"{key}（{what}）" for key, what in GUIDE_FIELDS.items())
        problems.append(Problem(file, f"缺少办事指南 {GUIDE_FILE}：请在流程文件夹中与 .bpmn 文件同级处新建，"
                                      f"写明以下字段：{fields}{hint}"))
        return {}
    try:
        guide = tomllib.loads(raw.decode("utf-8"))
        userinput.check_value(guide, "")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(Problem(file, f"格式错误：{exc}"))
        return {}
    except BadInput as exc:
        problems.append(Problem(file, exc.message))
        return {}
    for key, what in GUIDE_FIELDS.items():
        if key not in guide:
            problems.append(Problem(file, f"缺少字段 {key}（{what}）{hint if key == 'name' else ''}"))
    # A draft's guide starts with these blank: an item needs both before it can be published.
    problems += [Problem(file, f"{key}（{GUIDE_FIELDS[key]}）不能为空") for key in ("code", "name")
                 if key in guide and not str(guide[key]).strip()]
    if guide.get("case_type", "promised") not in CASE_TYPES:
        problems.append(Problem(file, f"case_type 必须是 {' / '.join(CASE_TYPES)} 之一"))
    if guide.get("repeats", "refuse") not in REPEATS:
        problems.append(Problem(file, "repeats 只能是 \"refuse\"（同一申请人有未办结的办件时不予重复申请，默认）"
                                      "或 \"warn\"（允许重复申请，窗口人员确认后受理）"))
    for key in ("promised_days", "statutory_days"):
        value = guide.get(key, 0)
        if not isinstance(value, int) or value < 0:
            problems.append(Problem(file, f"{key} 必须是不小于 0 的整数（工作日）"))
    if isinstance(guide.get("promised_days"), int) and isinstance(guide.get("statutory_days"), int) \
            and guide["promised_days"] > guide["statutory_days"]:
        problems.append(Problem(file, "承诺时限不能长于法定时限"))
    for index, material in enumerate(guide.get("materials", [])):
        if not isinstance(material, dict) or not {"name", "required", "copies"} <= material.keys():
            problems.append(Problem(file, f"materials 第 {index + 1} 项须含 name、required、copies"))
    return guide


def _primary_diagram(label: str, files: Mapping[str, bytes], model: dict[str, Any],
                     problems: list[Problem]) -> str | None:
    """The diagram to deploy: the one process_model.json names, or the folder's only one."""
    diagrams = sorted(name for name in files if name.lower().endswith(".bpmn") and "/" not in name)
    primary = _text(model, "primary_file_name")
    if primary and primary not in diagrams:
        problems.append(Problem(f"{label}/{MODEL_FILE}", f"primary_file_name 指定的主流程图 {primary} 不存在"
                                                         f"（文件夹中的流程图：{'、'.join(diagrams) or '无'}）"))
        return None
    if primary:
        problems += [Problem(f"{label}/{other}", f"不会部署：只部署 {MODEL_FILE} 指定的主流程图 {primary}",
                             severity=Severity.WARNING) for other in diagrams if other != primary]
        return primary
    if len(diagrams) > 1:
        problems.append(Problem(label, f"有 {len(diagrams)} 个 .bpmn 流程图文件：请只留一个，"
                                       f"或在 {MODEL_FILE} 的 primary_file_name 中指明主流程图"))
    elif not diagrams:
        problems.append(Problem(label, "缺少 .bpmn 流程图文件"))
    return diagrams[0] if len(diagrams) == 1 else None


def _read_diagram(file: str, raw: bytes, limit: int, problems: list[Problem]) -> etree._Element | None:
    if len(raw) > limit:
        problems.append(Problem(file, f"流程图文件过大，上限为 {limit // 1024} KB"))
        return None
    try:
        raw.decode("utf-8")
        return parse_xml(raw, file)
    except UnicodeDecodeError:
        problems.append(Problem(file, "流程图文件应为 UTF-8 编码"))
    except DeployRefused as exc:
        problems += exc.problems
    return None


def _process_id(label: str, diagram_file: str, root: etree._Element, model: dict[str, Any],
                problems: list[Problem]) -> str | None:
    """The process that runs: process_model.json's primary_process_id, else the first executable one."""
    every = [str(value) for value in root.xpath("//bpmn:process/@id", namespaces=NS)]
    executable = [str(value) for value in root.xpath("//bpmn:process[@isExecutable='true']/@id", namespaces=NS)]
    wanted = _text(model, "primary_process_id")
    if wanted and wanted not in every:
        problems.append(Problem(f"{label}/{MODEL_FILE}", f"primary_process_id 指定的流程 {wanted} 不在主流程图中"
                                                         f"（图中的流程：{'、'.join(every) or '无'}）"))
        return None
    if not every:
        problems.append(Problem(diagram_file, "流程图中没有 process 元素"))
        return None
    return wanted or (executable or every)[0]


def _form_paths(label: str, files: Mapping[str, bytes], guide: dict[str, Any], root: etree._Element | None,
                problems: list[Problem]) -> dict[str, str]:
    """Form file name → its path: every JSON file under forms/, and those beside the diagram that a user task or
    the guide names or that are named as schemas are (spiff-arena's x-schema.json and x-uischema.json)."""
    named = checks.form_references(root) if root is not None else set()
    if isinstance(guide.get("application_form"), str):
        named.add(guide["application_form"])
    found: dict[str, str] = {}
    for path in sorted(files):
        folder, _, name = path.rpartition("/")
        beside = not folder and name != MODEL_FILE and (name in named or name.endswith("schema.json"))
        if not name.endswith(".json") or not (folder == FORMS_DIR or beside):
            continue
        if name in found:
            problems.append(Problem(f"{label}/{path}", f"与 {found[name]} 同名：一个流程的表单文件名不能重复"))
        else:
            found[name] = path
    return found


def _read_forms(label: str, files: Mapping[str, bytes], form_paths: dict[str, str],
                problems: list[Problem]) -> dict[str, Any]:
    forms: dict[str, Any] = {}
    for name, path in sorted(form_paths.items()):
        file = f"{label}/{path}"
        try:
            schema = userinput.loads(files[path], "")
        except BadInput as exc:
            problems.append(Problem(file, exc.message))
            continue
        if not isinstance(schema, dict):
            problems.append(Problem(file, "表单应为 JSON 对象"))
            continue
        if "uischema" not in name:
            try:
                validator_for(schema).check_schema(schema)
            except SchemaError as exc:
                where = "/".join(str(part) for part in exc.path) or "(根)"
                problems.append(Problem(file, f"表单 JSON Schema 无效（{where}）：{exc.message}"))
                continue
            problems += [Problem(file, f"字段名“{name}”是系统保留的名称（以下划线开头的名称、脚本可用的函数名和"
                                       f"办件自带的数据名），表单不能使用：请改用其他字段名")
                         for name in sorted(declared_fields(schema)) if is_reserved(name)]
        forms[name] = schema
    return forms
