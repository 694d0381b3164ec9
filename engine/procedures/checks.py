"""Checks of one BPMN diagram before it is stored: parsing, user tasks' posts and forms, and sandboxed code."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..errors import Problem
from ..sandbox import ScriptRejected, check_expression, check_script
from .diagram import NS
from .forms import FORM_PROPERTY, UI_FORM_PROPERTY
from .spiff import make_parser

TIMER = "定时器表达式"
# Where diagram code sits, what it is called, how it is compiled, and how many levels up its element is.
CODE_PLACES = (
    ("//bpmn:scriptTask/bpmn:script", "脚本", "exec", 1),
    ("//bpmn:sequenceFlow/bpmn:conditionExpression", "条件表达式", "eval", 1),
    ("//bpmn:timerEventDefinition/*[self::bpmn:timeDuration or self::bpmn:timeDate or self::bpmn:timeCycle]",
     TIMER, "eval", 2),
)


@dataclass(frozen=True)
class _Code:
    """One piece of Python in the diagram, with the element it belongs to."""

    element: etree._Element
    kind: str
    mode: Literal["exec", "eval"]
    source: str


def check_diagram(file: str, root: etree._Element, process_id: str, forms: dict[str, Any], form_names: set[str],
                  role_codes: set[str]) -> list[Problem]:
    """Every problem of the diagram in `file`."""
    problems = _check_code(file, list(_code(root)))
    for task_spec in _user_tasks(file, root, process_id, problems):
        problems += _check_user_task(file, task_spec, forms, form_names, role_codes)
    return problems


def form_references(root: etree._Element) -> set[str]:
    """The form files the diagram's user tasks name."""
    values = root.xpath(f"//spiffworkflow:property[@name='{FORM_PROPERTY}' or @name='{UI_FORM_PROPERTY}']/@value",
                        namespaces=NS)
    return {str(value) for value in values}


def _at(file: str, element: etree._Element, message: str) -> Problem:
    return Problem(file, message, element.get("id") or None, element.get("name") or None)


def _code(root: etree._Element) -> Iterator[_Code]:
    for path, kind, mode, levels in CODE_PLACES:
        for node in root.xpath(path, namespaces=NS):
            if not (node.text or "").strip():
                continue
            element = node
            for _ in range(levels):
                element = element.getparent()
            yield _Code(element, kind, mode, node.text)


def _check_code(file: str, code: list[_Code]) -> list[Problem]:
    """Every script, condition and timer expression must pass the sandbox before anything runs."""
    problems: list[Problem] = []
    for piece in code:
        try:
            if piece.mode == "exec":
                check_script(piece.source, None)
            else:
                check_expression(piece.source, None, piece.kind)
        except ScriptRejected as exc:
            problems.append(_at(file, piece.element, exc.at(None, piece.kind).message))
    return problems


def _user_tasks(file: str, root: etree._Element, process_id: str, problems: list[Problem]) -> list[Any]:
    """The user tasks of the process and its subprocesses as SpiffWorkflow parses them; none if it cannot."""
    parser = make_parser(validate=True)
    try:
        parser.add_bpmn_xml(root, file)
        specs = [parser.get_spec(process_id), *parser.get_subprocess_specs(process_id).values()]
    except ValidationException as exc:
        line = f"第 {exc.line_number} 行：" if exc.line_number and not exc.id else ""
        problems.append(Problem(file, f"{line}SpiffWorkflow 无法解析：{str(exc).removesuffix('. ')}",
                                exc.id or None, exc.name or None))
        return []
    except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
        problems.append(Problem(file, f"SpiffWorkflow 无法解析：{str(exc).removesuffix('. ')}"))
        return []
    return [task_spec for spec in specs for task_spec in spec.task_specs.values() if isinstance(task_spec, UserTask)]


def _check_user_task(file: str, task_spec: Any, forms: dict[str, Any], form_names: set[str],
                     role_codes: set[str]) -> list[Problem]:
    found: list[str] = []
    if not task_spec.lane:
        found.append("用户任务不在任何泳道中，无法确定办理岗位")
    elif task_spec.lane not in role_codes:
        found.append(f"所在泳道“{task_spec.lane}”不是已知的角色代码")
    properties = task_spec.extensions.get("properties", {})
    for key in (FORM_PROPERTY, UI_FORM_PROPERTY):
        name = properties.get(key)
        if name and name not in form_names:
            found.append(f"引用的表单文件 {name} 不存在（应放在 forms/ 下，或与流程图放在同一文件夹）")
        elif name and name not in forms:
            found.append(f"引用的表单文件 {name} 无效")
    return [Problem(file, message, task_spec.bpmn_id, task_spec.bpmn_name or None) for message in found]
