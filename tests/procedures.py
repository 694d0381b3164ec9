"""Test and benchmark helpers: fill a task's JSON Schema form the way a clerk would; 低保 with script tasks added."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from engine.config import ROOT
from engine.idcard import generate_id_number
from engine.procedures.diagram import NS
from engine.procedures.formdesign import ID_NUMBER_PATTERN

# An open case refuses a second application of the same ID number for the same item, so every applicant made in a
# test session is a new person: the birth date moves on every 999 numbers, and each process (a test worker, the
# kill test's child) starts its own stretch of them.
_serial = itertools.count((os.getpid() % 1000) * 999 * 4)
FIRST_BIRTH = date(1950, 1, 1)


def applicant(village_code: str = "510123101201", born: date | None = None) -> dict[str, str]:
    """A new person at each call; `born` when the age matters (the birth date is in the ID number)."""
    serial = next(_serial)
    born = born or FIRST_BIRTH + timedelta(days=serial // 999)
    return {"name": "王秀兰", "id_number": generate_id_number(village_code[:6], born, serial % 999 + 1),
            "phone": "13912345678"}


def fill(schema: dict[str, Any], decision: str = "approve") -> dict[str, Any]:
    """Valid data for every field of `schema`; `*_decision` fields get `decision`."""
    data: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        data[name] = _value(name, prop, decision)
    return data


def _value(name: str, prop: dict[str, Any], decision: str) -> Any:
    if name.endswith("decision"):
        options = [o.get("const") for o in prop.get("oneOf", [])] or prop.get("enum", [])
        wanted = {"approve": ("approve", "accept", "agree"), "reject": ("reject", "refuse", "disagree")}
        for option in options:
            if option in wanted.get(decision, ()):
                return option
        return options[0]
    if "const" in prop:
        return prop["const"]
    if prop.get("oneOf"):
        return prop["oneOf"][0]["const"]
    if prop.get("enum"):
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        low = prop.get("minimum", 0)
        high = prop.get("maximum", low + 100)
        return max(low, min(high, 1 if kind == "integer" else 1.0)) if low <= 1 else low
    if kind == "string":
        if prop.get("format") == "date":
            return "2026-03-02"
        if prop.get("pattern") == ID_NUMBER_PATTERN:
            return generate_id_number("510123", FIRST_BIRTH, 1)
        text = "经核查，情况属实，材料齐全"
        return (text * 10)[: max(prop.get("minLength", 0), min(len(text), prop.get("maxLength", len(text))))]
    if kind == "array":
        return []
    return None


# 低保 in the seed's shape (a chain of reviews, each with a yes/no gateway): what script, condition and repair tests
# build on, kept apart from the shipped 低保 so that their flows stay where those tests put things.
SEED_SHAPE = Path(__file__).resolve().parent / "fixtures" / "dibao_seed_shape"


def dibao_with_scripts(parent: Path, code: str, scripts: dict[str, tuple[str, str, str]]) -> Path:
    """A copy of the seed-shaped 低保 folder as item `code`, with a script task put on sequence flows.

    `scripts` maps a flow id to the (element id, name, Python source) of the script task placed on it.
    """
    bpmn = f"{{{NS['bpmn']}}}"

    def script_task(element_id: str, name: str, source: str) -> Any:
        task = etree.Element(bpmn + "scriptTask", id=element_id, name=name)
        etree.SubElement(task, bpmn + "script").text = source
        return task

    return dibao_with_tasks(parent, code, {flow: script_task(*task) for flow, task in scripts.items()})


def dibao_with_service(parent: Path, code: str, flow_id: str, element_id: str, name: str, connector: str,
                       params: dict[str, str], result: str) -> Path:
    """The seed-shaped 低保 as item `code` with a service task on `flow_id`, in spiff-arena's form: a
    `serviceTaskOperator` naming the connector, each parameter an expression over the case data."""
    bpmn, spiff = f"{{{NS['bpmn']}}}", f"{{{NS['spiffworkflow']}}}"
    task = etree.Element(bpmn + "serviceTask", id=element_id, name=name)
    operator = etree.SubElement(etree.SubElement(task, bpmn + "extensionElements"), spiff + "serviceTaskOperator",
                                id=connector, resultVariable=result)
    listed = etree.SubElement(operator, spiff + "parameters")
    for key, value in params.items():
        etree.SubElement(listed, spiff + "parameter", id=key, type="any", value=value)
    return dibao_with_tasks(parent, code, {flow_id: task})


def dibao_with_tasks(parent: Path, code: str, tasks: dict[str, Any]) -> Path:
    """The seed-shaped 低保 as item `code` with each given task element put on the sequence flow keyed to it."""
    folder = parent / code
    shutil.copytree(SEED_SHAPE, folder)
    diagram = folder / "process.bpmn"
    root = etree.fromstring(diagram.read_bytes())
    [process] = root.xpath("//bpmn:process", namespaces=NS)
    bpmn = f"{{{NS['bpmn']}}}"
    for flow_id, task in tasks.items():
        element_id = task.get("id")
        [flow] = process.xpath(f"bpmn:sequenceFlow[@id='{flow_id}']", namespaces=NS)
        target, onward = flow.get("targetRef"), f"{flow_id}_after_script"
        [incoming] = process.xpath(f"*[@id='{target}']/bpmn:incoming[text()='{flow_id}']", namespaces=NS)
        incoming.text = onward
        flow.set("targetRef", element_id)
        process.append(task)
        # BPMN's order: extensionElements, then incoming and outgoing, then the task's own content (a script).
        at = len(task.findall(bpmn + "extensionElements"))
        for offset, (tag, text) in enumerate([("incoming", flow_id), ("outgoing", onward)]):
            link = etree.Element(bpmn + tag)
            link.text = text
            task.insert(at + offset, link)
        etree.SubElement(process, bpmn + "sequenceFlow", id=onward, sourceRef=element_id, targetRef=target)
        _draw_between(root, flow_id, element_id, onward)
    diagram.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    guide = folder / "item.toml"
    guide.write_text(guide.read_text("utf-8").replace('code = "MZ-DIBAO"', f'code = "{code}"'), "utf-8")
    return folder


def _draw_between(root: Any, flow_id: str, element_id: str, onward: str) -> None:
    """Draw the script task small on its flow's last segment, so the diagram viewer can show the case."""
    bpmndi, di, dc = ("{http://www.omg.org/spec/BPMN/20100524/DI}", "{http://www.omg.org/spec/DD/20100524/DI}",
                      "{http://www.omg.org/spec/DD/20100524/DC}")
    [edge] = root.xpath(f"//*[local-name()='BPMNEdge'][@bpmnElement='{flow_id}']")
    *_, before_end, end = edge.xpath("*[local-name()='waypoint']")
    (x1, y1), (x2, y2) = [(float(p.get("x")), float(p.get("y"))) for p in (before_end, end)]
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 10.0
    # The flow now ends at the shape's near side and the onward flow leaves from its far side.
    dx, dy = (half if x2 > x1 else -half if x2 < x1 else 0.0), (half if y2 > y1 else -half if y2 < y1 else 0.0)
    shape = etree.SubElement(edge.getparent(), bpmndi + "BPMNShape", id=f"{element_id}_di", bpmnElement=element_id)
    etree.SubElement(shape, dc + "Bounds", x=str(cx - half), y=str(cy - half), width=str(2 * half),
                     height=str(2 * half))
    end.set("x", str(cx - dx))
    end.set("y", str(cy - dy))
    onward_edge = etree.SubElement(edge.getparent(), bpmndi + "BPMNEdge", id=f"{onward}_di", bpmnElement=onward)
    etree.SubElement(onward_edge, di + "waypoint", x=str(cx + dx), y=str(cy + dy))
    etree.SubElement(onward_edge, di + "waypoint", x=str(x2), y=str(y2))


# 低保 with computed values: an aid amount and an eligibility flag from the application, adjusted after the
# village review into a suggested 月保障金额 (a field of the county's form); the script after the town review
# changes nothing.
AID_ITEM = "MZ-DIBAO-AID"
AID_SCRIPTS = {
    "Flow_start": ("Script_assess", "核算救助金额", "aid_amount = household_size * 100\n"
                   "eligible = annual_income_per_capita < 500\n"
                   "note = '待村委会核实'\nreview_by = datetime(2026, 3, 16)"),
    "Flow_village_approve": ("Script_adjust", "调整救助金额",
                             "aid_amount = aid_amount + 50\nmonthly_allowance = aid_amount\ndel note"),
    "Flow_town_approve": ("Script_recheck", "复核", "eligible = annual_income_per_capita < 500"),
}
AID_APPLICATION = {"household_size": 3, "annual_income_per_capita": 420.5, "has_disabled_member": True,
                   "has_seriously_ill_member": False, "reason": "家中老人常年患病，无劳动能力"}


def dibao_with_loop(parent: Path, code: str, passes: int) -> Path:
    """低保 whose village review is followed by a script → gateway → script loop that runs `passes` times."""
    folder = dibao_with_scripts(parent, code, {
        "Flow_start": ("Script_init", "计数清零", "rounds = 0"),
        "Flow_village_to_gw": ("Script_count", "逐户核对", "rounds = rounds + 1"),
    })
    diagram = folder / "process.bpmn"
    root = etree.fromstring(diagram.read_bytes())
    [process] = root.xpath("//bpmn:process", namespaces=NS)
    bpmn = f"{{{NS['bpmn']}}}"
    # The script's onward flow now goes to a gateway that sends it round again or on to the village decision.
    [onward] = process.xpath("bpmn:sequenceFlow[@id='Flow_village_to_gw_after_script']", namespaces=NS)
    onward.set("targetRef", "Gateway_loop")
    [incoming] = process.xpath("bpmn:exclusiveGateway[@id='Gateway_village']/bpmn:incoming", namespaces=NS)
    incoming.text = "Flow_loop_done"
    gateway = etree.SubElement(process, bpmn + "exclusiveGateway", id="Gateway_loop", name="是否核对完毕")
    etree.SubElement(gateway, bpmn + "incoming").text = onward.get("id")
    for flow_id, target, condition in (("Flow_loop_again", "Script_count", f"rounds < {passes}"),
                                       ("Flow_loop_done", "Gateway_village", f"rounds >= {passes}")):
        etree.SubElement(gateway, bpmn + "outgoing").text = flow_id
        flow = etree.SubElement(process, bpmn + "sequenceFlow", id=flow_id, sourceRef="Gateway_loop",
                                targetRef=target)
        etree.SubElement(flow, bpmn + "conditionExpression").text = condition
    [script] = process.xpath("bpmn:scriptTask[@id='Script_count']", namespaces=NS)
    script.insert(1, etree.Element(bpmn + "incoming"))
    script[1].text = "Flow_loop_again"
    diagram.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return folder


def variant(parent: Path, code: str, *, properties: dict[str, dict[str, str | None]] | None = None,
            timers: str | None = None, source: str | Path = "dibao") -> Path:
    """A copy of a shipped procedure (or of a fixture folder given as a path) as item `code`, with spiffworkflow
    properties set (None: removed) by element id.

    `timers` replaces item.toml's `[timers]` tables (the shipped ones are dropped; "" drops them only).
    """
    folder = parent / code
    shutil.copytree(source if isinstance(source, Path) else ROOT / "bpmn" / source, folder)
    diagram = folder / "process.bpmn"
    root = etree.fromstring(diagram.read_bytes())
    for element_id, values in (properties or {}).items():
        for name, value in values.items():
            set_property(root, element_id, name, value)
    diagram.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    guide = folder / "item.toml"
    text = re.sub(r'code = "[^"]+"', f'code = "{code}"', guide.read_text("utf-8"), count=1)
    if timers is not None:
        text = text.split("\n[timers.")[0] + "\n" + timers
    guide.write_text(text, "utf-8")
    return folder


def set_property(root: Any, element_id: str, name: str, value: str | None) -> None:
    """Set (None: remove) a `spiffworkflow:property` on an element, adding its extensionElements when it has none."""
    bpmn, spiff = f"{{{NS['bpmn']}}}", f"{{{NS['spiffworkflow']}}}"
    [element] = root.xpath(f"//*[@id='{element_id}']")
    extensions = element.find(bpmn + "extensionElements")
    if extensions is None:
        extensions = etree.Element(bpmn + "extensionElements")
        element.insert(0, extensions)
    found = extensions.find(spiff + "properties")
    if found is None:
        found = etree.SubElement(extensions, spiff + "properties")
    for existing in found.findall(spiff + "property"):
        if existing.get("name") == name:
            found.remove(existing)
    if value is not None:
        etree.SubElement(found, spiff + "property", name=name, value=value)


def with_escalation(folder: Path, task_id: str, working_days: int, lane: str = "town_leader",
                    interrupting: bool = False) -> Path:
    """Put a boundary timer of `working_days` on a user task: it leads to a 督办 task in `lane`'s post.

    Non-interrupting, the task stays open beside the 督办 task; interrupting, it is cancelled.
    """
    diagram = folder / "process.bpmn"
    root = etree.fromstring(diagram.read_bytes())
    [process] = root.xpath("//bpmn:process", namespaces=NS)
    bpmn = f"{{{NS['bpmn']}}}"
    boundary = etree.SubElement(process, bpmn + "boundaryEvent", id="Timer_escalate", name="超过时限",
                                attachedToRef=task_id, cancelActivity="true" if interrupting else "false")
    etree.SubElement(boundary, bpmn + "outgoing").text = "Flow_escalate"
    definition = etree.SubElement(boundary, bpmn + "timerEventDefinition", id="TimerEventDefinition_escalate")
    etree.SubElement(definition, bpmn + "timeDuration").text = f'"P{working_days}D"'
    set_property(root, "Timer_escalate", "workingDays", str(working_days))
    supervise = etree.SubElement(process, bpmn + "userTask", id="supervise", name="督办：乡镇审核超过时限")
    etree.SubElement(supervise, bpmn + "incoming").text = "Flow_escalate"
    etree.SubElement(supervise, bpmn + "outgoing").text = "Flow_supervised"
    end = etree.SubElement(process, bpmn + "endEvent", id="EndEvent_supervised", name="督办完毕")
    etree.SubElement(end, bpmn + "incoming").text = "Flow_supervised"
    for flow_id, source, target in (("Flow_escalate", "Timer_escalate", "supervise"),
                                    ("Flow_supervised", "supervise", "EndEvent_supervised")):
        etree.SubElement(process, bpmn + "sequenceFlow", id=flow_id, sourceRef=source, targetRef=target)
    [lane_set] = process.xpath("bpmn:laneSet", namespaces=NS)
    lane_element = etree.SubElement(lane_set, bpmn + "lane", id=f"Lane_{lane}_escalation", name=lane)
    etree.SubElement(lane_element, bpmn + "flowNodeRef").text = "supervise"
    diagram.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return folder
