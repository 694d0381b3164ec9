"""What changed between two versions of a procedure (or a draft and its base): elements, forms and guide fields."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from ..errors import DeployRefused
from ..models import ProcedureVersion
from .bundle import GUIDE_FILE, folder_layout
from .diagram import NS
from .spiff import parse_xml

BPMN = NS["bpmn"]
# What an element is, for comparing: the parts a modeler changes and a case runs by.
ASPECTS = {"type": "类型", "name": "名称", "lane": "泳道（角色）", "properties": "属性", "condition": "条件",
           "script": "脚本", "timer": "定时器", "source": "起点", "target": "终点", "form": "表单"}
# Diagram parts that are not elements a case passes through.
SKIPPED = {"laneSet", "lane", "documentation", "extensionElements", "incoming", "outgoing", "flowNodeRef",
           "conditionExpression", "script", "timerEventDefinition", "timeDuration", "timeDate", "timeCycle"}


@dataclass(frozen=True)
class Snapshot:
    """A procedure as far as a diff goes: its diagram, forms by file name and guide."""

    bpmn_xml: str
    forms: dict[str, Any]
    guide: dict[str, Any]

    @classmethod
    def of_version(cls, version: ProcedureVersion) -> Snapshot:
        return cls(version.bpmn_xml, version.forms, version.guide)

    @classmethod
    def of_files(cls, files: Mapping[str, str]) -> Snapshot:
        """A draft's files, read leniently: a form or guide that does not parse counts as empty here."""
        raw = {path: text.encode("utf-8") for path, text in files.items()}
        diagram, form_paths, _ = folder_layout(raw)
        forms: dict[str, Any] = {}
        for name, path in form_paths.items():
            try:
                forms[name] = json.loads(files[path])
            except ValueError:
                forms[name] = {}
        try:
            guide = tomllib.loads(files.get(GUIDE_FILE, ""))
        except tomllib.TOMLDecodeError:
            guide = {}
        return cls(files.get(diagram or "", ""), forms, guide)


@dataclass(frozen=True)
class Change:
    """One aspect of one element, field or file that differs: what it was and what it is."""

    aspect: str
    before: Any
    after: Any


@dataclass
class ElementDiff:
    element_id: str
    name: str
    kind: str
    status: str  # added, removed, changed
    changes: list[Change] = field(default_factory=list)


@dataclass
class FormDiff:
    file: str
    status: str
    fields_added: list[str] = field(default_factory=list)
    fields_removed: list[str] = field(default_factory=list)
    fields_changed: list[str] = field(default_factory=list)


@dataclass
class Diff:
    elements: list[ElementDiff]
    forms: list[FormDiff]
    guide: list[Change]

    def ids(self, status: str) -> list[str]:
        return [element.element_id for element in self.elements if element.status == status]

    @property
    def empty(self) -> bool:
        return not (self.elements or self.forms or self.guide)


def compare(old: Snapshot, new: Snapshot) -> Diff:
    return Diff(_elements(old.bpmn_xml, new.bpmn_xml), _forms(old.forms, new.forms), _changes(old.guide, new.guide))


def _elements(old_xml: str, new_xml: str) -> list[ElementDiff]:
    old, new = elements_of(old_xml), elements_of(new_xml)
    found: list[ElementDiff] = []
    for element_id, facts in new.items():
        if element_id not in old:
            found.append(ElementDiff(element_id, facts["name"], facts["type"], "added"))
            continue
        changes = _changes(old[element_id], facts)
        if changes:
            found.append(ElementDiff(element_id, facts["name"] or old[element_id]["name"], facts["type"], "changed",
                                     changes))
    found += [ElementDiff(element_id, facts["name"], facts["type"], "removed")
              for element_id, facts in old.items() if element_id not in new]
    return found


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    return [Change(key, old.get(key), new.get(key)) for key in [*old, *(key for key in new if key not in old)]
            if old.get(key) != new.get(key)]


def elements_of(xml: str) -> dict[str, dict[str, Any]]:
    """Each process element by id: type, name, lane (its role), spiffworkflow properties, condition, script,
    timer and, for a flow, its ends. A diagram that does not parse has none."""
    if not xml:
        return {}
    try:
        root = parse_xml(xml, "diff")
    except DeployRefused:
        return {}
    lanes = {str(ref.text).strip(): str(lane.get("name") or lane.get("id"))
             for lane in root.iter(f"{{{BPMN}}}lane") for ref in lane.findall(f"{{{BPMN}}}flowNodeRef")}
    found: dict[str, dict[str, Any]] = {}
    for process in root.iter(f"{{{BPMN}}}process"):
        for element in process.iter():
            if not isinstance(element.tag, str) or element is process or not element.get("id"):
                continue
            kind = etree.QName(element).localname
            if etree.QName(element).namespace != BPMN or kind in SKIPPED:
                continue
            found[str(element.get("id"))] = _facts(element, kind, lanes)
    return found


def _facts(element: etree._Element, kind: str, lanes: dict[str, str]) -> dict[str, Any]:
    element_id = str(element.get("id"))
    properties = {str(node.get("name")): str(node.get("value"))
                  for node in element.xpath("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property",
                                            namespaces=NS)}
    facts: dict[str, Any] = {"type": kind, "name": element.get("name") or "", "lane": lanes.get(element_id),
                             "properties": properties or None}
    condition = element.find(f"{{{BPMN}}}conditionExpression")
    script = element.find(f"{{{BPMN}}}script")
    timer = element.xpath("bpmn:timerEventDefinition/*", namespaces=NS)
    pre_post = element.xpath("bpmn:extensionElements/spiffworkflow:preScript | "
                             "bpmn:extensionElements/spiffworkflow:postScript", namespaces=NS)
    facts["condition"] = (condition.text or "").strip() if condition is not None else None
    facts["script"] = "\n".join((node.text or "").strip() for node in
                                ([script] if script is not None else []) + list(pre_post)) or None
    facts["timer"] = (timer[0].text or "").strip() if timer else None
    facts["source"], facts["target"] = element.get("sourceRef"), element.get("targetRef")
    return {key: value for key, value in facts.items() if value is not None}


def _forms(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FormDiff]:
    found: list[FormDiff] = []
    for name in sorted({*old, *new}):
        if name not in old:
            found.append(FormDiff(name, "added", fields_added=sorted(_fields(new[name]))))
        elif name not in new:
            found.append(FormDiff(name, "removed", fields_removed=sorted(_fields(old[name]))))
        elif old[name] != new[name]:
            before, after = _fields(old[name]), _fields(new[name])
            found.append(FormDiff(name, "changed", sorted(after.keys() - before.keys()),
                                  sorted(before.keys() - after.keys()),
                                  sorted(key for key in before.keys() & after.keys() if before[key] != after[key])))
    return found


def _fields(schema: Any) -> dict[str, Any]:
    """A form's fields with what defines each: its schema, or in a UI schema its options; required counts too."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties")
    if isinstance(properties, dict):
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        return {str(key): (value, key in required) for key, value in properties.items()}
    return {str(key): value for key, value in schema.items() if not str(key).startswith("ui:")}

