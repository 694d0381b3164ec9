"""Checks of one BPMN diagram before it is stored: parsing, user tasks' posts and forms, sign-offs, sandboxed code,
timers, the drawing, paths that stop short of an end event, and variables read that nothing sets."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.exceptions import SpiffWorkflowException

from ..deadlines import marks
from ..documents import issuing
from ..errors import Problem, Severity
from ..outbox import calls as service_calls
from ..sandbox import PROVIDED_NAMES, ScriptRejected, check_expression, check_script, syntax_tree
from ..tasks import copy as copying
from ..tasks import countersign
from .diagram import NS
from .forms import COMMENT_FORM, FORM_PROPERTY, UI_FORM_PROPERTY
from .spiff import CASE_DATA_NAMES, make_parser

TIMER = "定时器表达式"
# Where diagram code sits, what it is called, how it is compiled, and how many levels up its element is.
CODE_PLACES = (
    ("//bpmn:scriptTask/bpmn:script", "脚本", "exec", 1),
    ("//spiffworkflow:preScript", "前置脚本", "exec", 2),
    ("//spiffworkflow:postScript", "后置脚本", "exec", 2),
    ("//bpmn:sequenceFlow/bpmn:conditionExpression", "条件表达式", "eval", 1),
    ("//bpmn:multiInstanceLoopCharacteristics/bpmn:loopCardinality", "多实例数量表达式", "eval", 2),
    ("//bpmn:multiInstanceLoopCharacteristics/bpmn:completionCondition", "完成条件", "eval", 2),
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
    timer: str  # timeDuration, timeDate or timeCycle for a timer; empty otherwise


def check_diagram(file: str, root: etree._Element, process_id: str, forms: dict[str, Any], form_names: set[str],
                  role_codes: set[str], guide: dict[str, Any], guide_file: str) -> list[Problem]:
    """Every problem of the diagram in `file`: errors refuse it, warnings are shown with a deployment."""
    problems, accepted = _check_code(file, list(_code(root)))
    problems += _check_drawing(file, root)
    problems += _check_dead_ends(file, root)
    problems += _check_foreign(file, root)
    elements = _elements(file, root, process_id, problems)
    user_tasks = [task_spec for task_spec in elements if isinstance(task_spec, UserTask)]
    # The clock's properties, and item.toml's [timers] for the diagram's timers.
    problems += [Problem(file, message, spec.bpmn_id, spec.bpmn_name or None) if spec is not None
                 else Problem(guide_file, message) for spec, message in marks.problems(elements, guide)]
    problems += _check_clock_places(file, root, elements)
    problems += [Problem(file, message, spec.bpmn_id, spec.bpmn_name or None)
                 for spec, message in copying.problems(elements, role_codes)]
    problems += [Problem(file, message, spec.bpmn_id, spec.bpmn_name or None)
                 for spec, message in service_calls.problems(elements)]
    problems += _check_case_documents(file, elements)
    problems += _check_step_decisions(file, elements)
    # 会签/或签: who signs, how many must approve, and the form field each signer's decision is in.
    problems += [Problem(file, message, spec.bpmn_id, spec.bpmn_name or None)
                 for spec, message in countersign.problems(elements, forms, role_codes)]
    problems += _check_sign_places(file, root, elements)
    for task_spec in user_tasks:
        problems += _check_user_task(file, task_spec, forms, form_names)
    problems += _check_lanes(file, root, {spec.lane for spec in user_tasks if spec.lane} - role_codes)
    schemas = list(forms.values())
    if any(not task_spec.extensions.get("properties", {}).get(FORM_PROPERTY) for task_spec in user_tasks):
        schemas.append(COMMENT_FORM)
    return problems + _check_names(file, accepted, schemas)


def form_references(root: etree._Element) -> set[str]:
    """The form files the diagram's user tasks name."""
    values = root.xpath(f"//spiffworkflow:property[@name='{FORM_PROPERTY}' or @name='{UI_FORM_PROPERTY}']/@value",
                        namespaces=NS)
    return {str(value) for value in values}


def _at(file: str, element: etree._Element, message: str, severity: Severity = Severity.ERROR) -> Problem:
    return Problem(file, message, element.get("id") or None, element.get("name") or None, severity)


def _code(root: etree._Element) -> Iterator[_Code]:
    # A service task's parameters are expressions over the case data, kept in attributes (spiff-arena's form).
    for node in root.xpath("//spiffworkflow:serviceTaskOperator//spiffworkflow:parameter[@value]", namespaces=NS):
        element = next(node.iterancestors(f"{{{NS['bpmn']}}}serviceTask"), node)
        yield _Code(element, "服务任务参数", "eval", node.get("value"), "")
    for path, kind, mode, levels in CODE_PLACES:
        for node in root.xpath(path, namespaces=NS):
            if not (node.text or "").strip():
                continue
            element = node
            for _ in range(levels):
                element = element.getparent()
            yield _Code(element, kind, mode, node.text, etree.QName(node).localname if kind == TIMER else "")


def _check_code(file: str, code: list[_Code]) -> tuple[list[Problem], list[_Code]]:
    """Every script, condition and timer expression must pass the sandbox before anything runs."""
    problems: list[Problem] = []
    accepted: list[_Code] = []
    for piece in code:
        refused, message = code_problem(piece.kind, piece.mode, piece.source, piece.timer)
        if not refused:
            accepted.append(piece)
        if message:
            problems.append(_at(file, piece.element, message))
    return problems, accepted


def code_problem(kind: str, mode: Literal["exec", "eval"], source: str, timer: str = "") -> tuple[bool, str | None]:
    """One piece of diagram code checked as a deployment checks it: (refused by the sandbox, what is wrong).

    The modeler asks this as the administrator types; a timer's `timer` is timeDuration, timeDate or timeCycle.
    """
    try:
        if mode == "exec":
            check_script(source, None)
        else:
            check_expression(source, None, kind)
    except ScriptRejected as exc:
        return True, exc.at(None, kind).message
    return False, _timer_problem(timer, source) if timer else None


def _duration(value: str) -> None:
    TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(value))


def _date_time(value: str) -> None:
    # A duration parses too, but a date timer compares the value with a time and would fail.
    if not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
        raise ValueError(value)


def _cycle(value: str) -> None:
    TimerEventDefinition.parse_iso_recurring_interval(value)


TIMERS: dict[str, tuple[Callable[[str], None], str, str]] = {
    "timeDuration": (_duration, "时长", '"P7D"（7 天）、"PT2H"（2 小时）'),
    "timeDate": (_date_time, "日期时间", '"2026-05-01T09:00:00+08:00"'),
    "timeCycle": (_cycle, "重复周期", '"R3/PT10M"（每 10 分钟一次，共 3 次）'),
}


def _timer_problem(timer: str, source: str) -> str | None:
    """A literal timer value, parsed now the way SpiffWorkflow parses it when a case reaches the event."""
    try:
        value = ast.literal_eval(source.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None  # computed from case data: only a running case can tell
    parse, what, example = TIMERS[timer]
    if not isinstance(value, str):
        return f"定时器的{what}应为带引号的 ISO 8601 文本，例如 {example}"
    try:
        parse(value)
    except Exception:  # the library refuses a bad value with a bare Exception as well as ValueError and others
        return f"定时器的{what}“{value}”不是有效的 ISO 8601 格式，应写成例如 {example}"
    return None


def _check_clock_places(file: str, root: etree._Element, elements: list[Any]) -> list[Problem]:
    """A clock property on an element SpiffWorkflow reads no properties of (a gateway, a flow) would do nothing."""
    read = {spec.bpmn_id for spec in elements if marks.properties(spec)}
    return [_at(file, element, f"{name} 只能设在用户任务或定时器上")
            for element, name in _properties_outside(root, elements, marks.CLOCK_PROPERTIES, read)]


def _check_sign_places(file: str, root: etree._Element, elements: list[Any]) -> list[Problem]:
    """会签 is a property of a user task: anywhere else nobody would sign."""
    user_tasks = {spec.bpmn_id for spec in elements if isinstance(spec, UserTask)}
    placed = dict(_properties_outside(root, elements, countersign.SIGN_PROPERTIES, user_tasks))
    return [_at(file, element, "会签属性（signMode 等）只能设在用户任务上") for element in placed]


def _properties_outside(root: etree._Element, elements: list[Any], names: tuple[str, ...],
                        allowed: set[str]) -> list[tuple[etree._Element, str]]:
    """Each element (and property name) that carries one of the properties `names` without being `allowed` to."""
    if not elements:
        return []  # the diagram did not parse: that problem is reported already
    condition = " or ".join(f"@name='{name}'" for name in names)
    found = []
    for node in root.xpath(f"//bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[{condition}]",
                           namespaces=NS):
        element = node.getparent().getparent().getparent()
        if element.get("id") not in allowed:
            found.append((element, str(node.get("name"))))
    return found


def _check_case_documents(file: str, elements: list[Any]) -> list[Problem]:
    """An end event's caseDocument names a document a case can end with: a misspelt one would quietly give way."""
    allowed = "、".join(sorted(issuing.ENDING_KINDS))
    return [Problem(file, f"{issuing.DOCUMENT_PROPERTY} 的值“{named}”不是可出具的结案文书，应为 {allowed} 之一",
                    spec.bpmn_id, spec.bpmn_name or None)
            for spec in elements
            if (named := getattr(spec, "extensions", {}).get("properties", {}).get(issuing.DOCUMENT_PROPERTY))
            and named not in issuing.ENDING_KINDS]


def _check_step_decisions(file: str, elements: list[Any]) -> list[Problem]:
    """caseDecision: on a user task (someone decides), approved or rejected; else no decision would be issued."""
    problems = []
    for spec in elements:
        named = marks.properties(spec).get(issuing.DECISION_PROPERTY)
        if named is None:
            continue
        if not isinstance(spec, UserTask):
            problems.append(Problem(file, f"{issuing.DECISION_PROPERTY} 只能设在用户任务上（办理人在该环节作出决定）",
                                    spec.bpmn_id, spec.bpmn_name or None))
        elif named not in issuing.STEP_DECISIONS:
            allowed = "、".join(issuing.STEP_DECISIONS)
            problems.append(Problem(file, f"{issuing.DECISION_PROPERTY} 的值“{named}”无效，应为 {allowed} 之一",
                                    spec.bpmn_id, spec.bpmn_name or None))
    return problems


def _check_drawing(file: str, root: etree._Element) -> list[Problem]:
    """A shape or edge drawn for an element that no longer exists breaks the modeler and the case page's diagram."""
    ids = {str(value) for value in root.xpath("//@id")}
    shapes = root.xpath("//bpmndi:BPMNPlane | //bpmndi:BPMNShape | //bpmndi:BPMNEdge", namespaces=NS)
    return [_at(file, shape, f"图形指向的元素“{shape.get('bpmnElement')}”不存在：请删除该图形，或补回该元素")
            for shape in shapes if shape.get("bpmnElement") and shape.get("bpmnElement") not in ids]


# Namespaces the engine reads, and those only other tools read that change nothing when run: bpmn.io's colours
# and Camunda Modeler's note of the modeler and platform that wrote the file.
READ_NAMESPACES = {*NS.values(), "http://www.omg.org/spec/DD/20100524/DC", "http://www.omg.org/spec/DD/20100524/DI",
                   "http://www.w3.org/2001/XMLSchema-instance", "http://www.w3.org/XML/1998/namespace"}
HARMLESS_NAMESPACES = {"http://bpmn.io/schema/bpmn/biocolor/1.0", "http://www.omg.org/spec/BPMN/non-normative/color/1.0",
                       "http://camunda.org/schema/modeler/1.0"}
KNOWN_NAMESPACES = READ_NAMESPACES | HARMLESS_NAMESPACES


def _check_foreign(file: str, root: etree._Element) -> list[Problem]:
    """Warn of another modeler's extensions (camunda:assignee, zeebe:taskDefinition …): they are kept in the file,
    but the engine does not run them, so what they meant to do (assign, call a worker) does not happen."""
    problems = []
    for node in root.iter(etree.Element):
        namespace = etree.QName(node).namespace
        if namespace not in KNOWN_NAMESPACES:
            parent = node.getparent()
            if parent is None or etree.QName(parent).namespace in KNOWN_NAMESPACES:  # the outermost one only
                problems.append(_foreign(file, node, "扩展元素", _prefixed(node, node.tag)))
            continue
        for attribute in node.attrib:
            if etree.QName(attribute).namespace not in KNOWN_NAMESPACES | {None}:
                problems.append(_foreign(file, node, "扩展属性", _prefixed(node, attribute)))
    return problems


def _prefixed(node: etree._Element, tag: str) -> str:
    name = etree.QName(tag)
    prefix = next((key for key, uri in node.nsmap.items() if uri == name.namespace and key), None)
    return f"{prefix}:{name.localname}" if prefix else f"{{{name.namespace}}}{name.localname}"


def _foreign(file: str, node: etree._Element, what: str, name: str) -> Problem:
    owner = node
    while owner.get("id") is None and owner.getparent() is not None:
        owner = owner.getparent()
    return _at(file, owner, f"{what}“{name}”来自其他建模工具，便民不支持：保存时原样保留，但办件运行时不起作用",
               Severity.WARNING)


# Every flow node but an end event needs a way on: a case is completed only when it reaches an end event.
FLOW_NODES = " | ".join(f"bpmn:{name}" for name in (
    "task", "userTask", "scriptTask", "serviceTask", "manualTask", "sendTask", "receiveTask", "businessRuleTask",
    "callActivity", "subProcess", "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
    "complexGateway", "startEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"))


def _check_dead_ends(file: str, root: etree._Element) -> list[Problem]:
    problems = []
    for container in root.xpath("//bpmn:process | //bpmn:subProcess", namespaces=NS):
        sources = {flow.get("sourceRef") for flow in container.xpath("bpmn:sequenceFlow", namespaces=NS)}
        for node in container.xpath(FLOW_NODES, namespaces=NS):
            # A compensation handler is reached by association, never by a flow of its own.
            if node.get("id") in sources or node.xpath("bpmn:compensateEventDefinition", namespaces=NS):
                continue
            problems.append(_at(file, node, "没有流出的连线，也不是结束事件：办件走到这里将无法办结。"
                                            "请连线到后续环节，或在其后加一个结束事件"))
    return problems


def _elements(file: str, root: etree._Element, process_id: str, problems: list[Problem]) -> list[Any]:
    """The elements of the process and its subprocesses as SpiffWorkflow parses them; none if it cannot."""
    parser = make_parser(validate=True)
    try:
        parser.add_bpmn_xml(root, file)
        spec, subprocess_specs = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    except ValidationException as exc:
        line = f"第 {exc.line_number} 行：" if exc.line_number and not exc.id else ""
        problems.append(Problem(file, f"{line}SpiffWorkflow 无法解析：{str(exc).removesuffix('. ')}",
                                exc.id or None, exc.name or None))
        return []
    except (SpiffWorkflowException, etree.LxmlError, KeyError, ValueError) as exc:
        problems.append(Problem(file, f"SpiffWorkflow 无法解析：{str(exc).removesuffix('. ')}"))
        return []
    return marks.element_specs(spec, subprocess_specs)


def _check_lanes(file: str, root: etree._Element, unknown: set[str]) -> list[Problem]:
    """A lane holding user tasks names their post by its role code; an unknown one is marked on the lane itself."""
    return [_at(file, lane, f"泳道名称“{lane.get('name')}”不是已知的角色代码，泳道中的用户任务无法确定办理岗位："
                            "请选择一个已有的岗位（角色）")
            for lane in root.xpath("//bpmn:lane[@name]", namespaces=NS) if lane.get("name") in unknown]


def _check_user_task(file: str, task_spec: Any, forms: dict[str, Any], form_names: set[str]) -> list[Problem]:
    found: list[str] = []
    if not task_spec.lane:
        found.append("用户任务不在任何泳道中，无法确定办理岗位")
    properties = task_spec.extensions.get("properties", {})
    for key in (FORM_PROPERTY, UI_FORM_PROPERTY):
        name = properties.get(key)
        if name and name not in form_names:
            found.append(f"引用的表单文件 {name} 不存在（应放在 forms/ 下，或与流程图放在同一文件夹）")
        elif name and name not in forms:
            found.append(f"引用的表单文件 {name} 无效")
    return [Problem(file, message, task_spec.bpmn_id, task_spec.bpmn_name or None) for message in found]


def _check_names(file: str, code: list[_Code], schemas: list[Any]) -> list[Problem]:
    """Warn of a variable that code reads and no form field, script or the engine sets: reaching it would fail.

    Only a warning, since data may also come from outside the diagram's own forms and scripts.
    """
    trees = [(piece, syntax_tree(piece.source, piece.mode)) for piece in code]
    known = set(PROVIDED_NAMES) | set(CASE_DATA_NAMES)
    for schema in schemas:
        known |= _field_names(schema)
    for _piece, tree in trees:
        known |= _assigned(tree)
    problems = []
    for piece, tree in trees:
        read = dict.fromkeys(node.id for node in ast.walk(tree)
                             if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load))
        for name in read:
            if name not in known:
                problems.append(_at(file, piece.element, _unset_message(piece.kind, name, known), Severity.WARNING))
    return problems


def _unset_message(kind: str, name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known - PROVIDED_NAMES), n=3)
    hint = "；是否应为 " + "、".join(f"“{match}”" for match in close) + "？" if close else ""
    return (f"{kind}读取的变量“{name}”没有表单字段、脚本或系统数据（{'、'.join(CASE_DATA_NAMES)}）设置，"
            f"若也不来自别处，办件运行到此会出错{hint}")


def _field_names(schema: Any) -> set[str]:
    """Every property a form may submit, also those inside dependencies, conditions and nested objects."""
    if isinstance(schema, list):
        return set().union(*(_field_names(item) for item in schema))
    if not isinstance(schema, dict):
        return set()
    properties = schema.get("properties")
    found = {str(name) for name in properties} if isinstance(properties, dict) else set()
    return found.union(*(_field_names(value) for value in schema.values()))


def _assigned(tree: ast.AST) -> set[str]:
    """Names code sets: variables (also of loops and comprehensions), functions and their parameters."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ExceptHandler) and node.name:
            found.add(node.name)
    return found
