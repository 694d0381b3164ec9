"""A procedure folder (diagram, forms, service guide) read and checked whole before anything is stored."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import SchemaError
from jsonschema.validators import validator_for
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..errors import DeployRefused, Problem
from ..sandbox import ScriptRejected, check_expression, check_script
from .forms import FORM_PROPERTY, UI_FORM_PROPERTY
from .spiff import make_parser, parse_xml

MAX_DIAGRAM_BYTES = 2 * 1024 * 1024
CASE_TYPES = ("immediate", "promised", "joint", "escalated")
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


@dataclass
class ProcedureBundle:
    """Everything deployable read from one folder, already validated."""

    guide: dict[str, Any]
    process_id: str
    bpmn_xml: str
    forms: dict[str, Any]
    checksum: str

    @property
    def code(self) -> str:
        return str(self.guide["code"])


def read_folder(folder: Path, role_codes: set[str]) -> ProcedureBundle:
    """Read and validate a procedure folder; raise DeployRefused listing every problem found."""
    files = {
        path.name: path.read_bytes()
        for path in [*folder.glob("*.bpmn"), *folder.glob("item.toml"), *folder.glob("forms/*.json")]
    }
    forms = {name: data for name, data in files.items() if name.endswith(".json")}
    diagrams = [name for name in files if name.endswith(".bpmn")]
    if not (folder / "item.toml").exists():
        raise DeployRefused(f"{folder.name}：缺少 item.toml（办事指南）")
    if len(diagrams) != 1:
        raise DeployRefused(f"{folder.name}：应当恰好有一个 .bpmn 流程图文件，实际为 {len(diagrams)} 个")
    return validate_bundle(
        folder.name, files["item.toml"], diagrams[0], files[diagrams[0]], forms, role_codes
    )


def validate_bundle(
    label: str,
    item_toml: bytes,
    diagram_name: str,
    diagram: bytes,
    form_files: dict[str, bytes],
    role_codes: set[str],
) -> ProcedureBundle:
    problems: list[str] = []
    guide = _validate_guide(f"{label}/item.toml", item_toml, problems)
    forms = _validate_forms(label, form_files, problems)
    if guide and guide.get("application_form") and guide["application_form"] not in form_files:
        problems.append(f"{label}/item.toml：申请表单 forms/{guide['application_form']} 不存在")
    where = f"{label}/{diagram_name}"
    if len(diagram) > MAX_DIAGRAM_BYTES:
        raise DeployRefused(
            f"{where}：流程图文件过大（{len(diagram) // 1024} KB），上限为 {MAX_DIAGRAM_BYTES // 1024} KB"
        )
    try:
        diagram_text = diagram.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeployRefused(f"{where}：流程图文件应为 UTF-8 编码") from exc
    root = parse_xml(diagram, where)
    process_id = _validate_diagram(where, root, form_files, forms, role_codes, problems)
    if problems:
        raise DeployRefused(f"{label}：流程校验未通过，共 {len(problems)} 处问题",
                            problems=[Problem("", p) for p in problems])
    checksum = hashlib.sha256()
    for name in sorted(form_files):
        checksum.update(name.encode() + b"\0" + form_files[name])
    checksum.update(item_toml + b"\0" + diagram)
    return ProcedureBundle(guide, process_id or "", diagram_text, forms, checksum.hexdigest())


def _validate_guide(where: str, raw: bytes, problems: list[str]) -> dict[str, Any]:
    try:
        guide = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        problems.append(f"{where}：格式错误：{exc}")
        return {}
    for key in ("code", "name", "case_type", "promised_days", "statutory_days", "conditions",
                "materials", "basis", "fee"):
        if key not in guide:
            problems.append(f"{where}：缺少字段 {key}")
    if guide.get("case_type", "promised") not in CASE_TYPES:
        problems.append(f"{where}：case_type 必须是 {' / '.join(CASE_TYPES)} 之一")
    for key in ("promised_days", "statutory_days"):
        value = guide.get(key, 0)
        if not isinstance(value, int) or value < 0:
            problems.append(f"{where}：{key} 必须是不小于 0 的整数（工作日）")
    if isinstance(guide.get("promised_days"), int) and isinstance(guide.get("statutory_days"), int) \
            and guide["promised_days"] > guide["statutory_days"]:
        problems.append(f"{where}：承诺时限不能长于法定时限")
    for index, material in enumerate(guide.get("materials", [])):
        if not isinstance(material, dict) or not {"name", "required", "copies"} <= material.keys():
            problems.append(f"{where}：materials 第 {index + 1} 项须含 name、required、copies")
    return guide


def _validate_forms(label: str, form_files: dict[str, bytes], problems: list[str]) -> dict[str, Any]:
    forms: dict[str, Any] = {}
    for name, raw in sorted(form_files.items()):
        try:
            schema = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            problems.append(f"{label}/forms/{name}：不是合法的 JSON：{exc}")
            continue
        if name.endswith(".schema.json") or "uischema" not in name:
            try:
                validator_for(schema).check_schema(schema)
            except SchemaError as exc:
                path = "/".join(str(p) for p in exc.path) or "(根)"
                problems.append(f"{label}/forms/{name}：表单 JSON Schema 无效（{path}）：{exc.message}")
                continue
        forms[name] = schema
    return forms


def _validate_diagram(
    where: str,
    root: etree._Element,
    form_files: dict[str, bytes],
    forms: dict[str, Any],
    role_codes: set[str],
    problems: list[str],
) -> str | None:
    executable = root.xpath("//bpmn:process[@isExecutable='true']/@id", namespaces=NS)
    process_ids = executable or root.xpath("//bpmn:process/@id", namespaces=NS)
    if not process_ids:
        problems.append(f"{where}：流程图中没有 process 元素")
        return None
    _check_code(where, root, problems)
    parser = make_parser(validate=True)
    try:
        parser.add_bpmn_xml(root, where)
        spec = parser.get_spec(process_ids[0])
        subprocess_specs = parser.get_subprocess_specs(process_ids[0])
    except ValidationException as exc:
        element = f"元素 {exc.id}" if getattr(exc, "id", "") else f"第 {getattr(exc, 'line_number', '?')} 行"
        problems.append(f"{where}：{element}：SpiffWorkflow 无法解析：{exc}")
        return None
    except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
        problems.append(f"{where}：SpiffWorkflow 无法解析：{exc}")
        return None
    for process in [spec, *subprocess_specs.values()]:
        for task_spec in process.task_specs.values():
            if isinstance(task_spec, UserTask):
                _check_user_task(where, task_spec, form_files, forms, role_codes, problems)
    return str(process_ids[0])


def _check_user_task(
    where: str, task_spec: Any, form_files: dict[str, bytes], forms: dict[str, Any],
    role_codes: set[str], problems: list[str],
) -> None:
    element = f"用户任务 {task_spec.bpmn_id}（{task_spec.bpmn_name or ''}）"
    if not task_spec.lane:
        problems.append(f"{where}：{element} 不在任何泳道中，无法确定办理岗位")
    elif task_spec.lane not in role_codes:
        problems.append(f"{where}：{element} 所在泳道“{task_spec.lane}”不是已知的角色代码")
    properties = task_spec.extensions.get("properties", {})
    for key in (FORM_PROPERTY, UI_FORM_PROPERTY):
        name = properties.get(key)
        if name and name not in form_files:
            problems.append(f"{where}：{element} 引用的表单文件 forms/{name} 不存在")
        elif name and name not in forms:
            problems.append(f"{where}：{element} 引用的表单文件 forms/{name} 无效")


def _check_code(where: str, root: etree._Element, problems: list[str]) -> None:
    """Every script, condition and timer expression must pass the sandbox before anything runs."""
    checks = [
        ("//bpmn:scriptTask", "bpmn:script", "script"),
        ("//bpmn:sequenceFlow", "bpmn:conditionExpression", "条件表达式"),
        ("//bpmn:timerEventDefinition/..", "bpmn:timerEventDefinition/*", "定时器表达式"),
    ]
    for element_path, child_path, kind in checks:
        for element in root.xpath(element_path, namespaces=NS):
            element_id = element.get("id", "?")
            for child in element.xpath(child_path, namespaces=NS):
                source = (child.text or "").strip()
                if not source:
                    continue
                try:
                    if kind == "script":
                        check_script(source, element_id)
                    else:
                        check_expression(source, element_id, kind)
                except ScriptRejected as exc:
                    problems.append(f"{where}：{exc}")
