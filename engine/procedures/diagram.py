"""Diagram facts beyond the executable spec (events, instructions, flows) and the elements a case has reached."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import BianminError
from ..models import ProcedureVersion
from ..vocabulary import EventKind, TaskStatus, TimerStatus
from .spiff import parse_xml

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}


@dataclass
class DiagramInfo:
    start_events: list[str] = field(default_factory=list)
    end_events: dict[str, str] = field(default_factory=dict)  # name -> element id
    instructions: dict[str, str] = field(default_factory=dict)  # element id -> text
    flows: list[tuple[str, str, str]] = field(default_factory=list)  # (flow id, source, target)
    gateways: set[str] = field(default_factory=set)


# Keyed by id and checksum: a process may hold versions of more than one database (tests, restores).
_cache: dict[tuple[int, str], DiagramInfo] = {}
_lock = threading.Lock()


def diagram_info(version: ProcedureVersion) -> DiagramInfo:
    """Cached per version: a deployed version never changes."""
    key = (version.id, version.checksum)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    info = DiagramInfo()
    try:
        root = parse_xml(version.bpmn_xml, f"{version.item_code} v{version.version}")
    except BianminError:
        return info
    for process in root.xpath("//bpmn:process", namespaces=NS):
        info.start_events += [str(e.get("id")) for e in process.xpath("./bpmn:startEvent", namespaces=NS)]
    for end in root.xpath("//bpmn:endEvent", namespaces=NS):
        info.end_events[str(end.get("name") or end.get("id"))] = str(end.get("id"))
    for note in root.xpath("//spiffworkflow:instructionsForEndUser", namespaces=NS):
        owner = next((a for a in note.iterancestors() if a.get("id")), None)
        if owner is not None and (note.text or "").strip():
            info.instructions.setdefault(str(owner.get("id")), str(note.text).strip())
    for flow in root.xpath("//bpmn:sequenceFlow", namespaces=NS):
        info.flows.append((str(flow.get("id")), str(flow.get("sourceRef")), str(flow.get("targetRef"))))
    info.gateways = {str(e.get("id")) for e in root.xpath("//*[contains(local-name(), 'Gateway')]")}
    with _lock:
        _cache[key] = info
    return info


class _Row(Protocol):
    element_id: str
    status: str


def markers(info: DiagramInfo, tasks: Iterable[_Row], timers: Iterable[_Row],
            events: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Element ids to draw as completed and as active, from a case's task and timer rows and its events."""
    done: list[str] = list(info.start_events)
    active: list[str] = []
    for row in tasks:
        if row.status == TaskStatus.COMPLETED:
            done.append(row.element_id)
        elif row.status == TaskStatus.OPEN:
            active.append(row.element_id)
    for timer in timers:
        if timer.status == TimerStatus.FIRED:
            done.append(timer.element_id)
        elif timer.status == TimerStatus.WAITING:
            active.append(timer.element_id)
    for event in events:
        if event.kind == EventKind.CASE_COMPLETED and event.step in info.end_events:
            done.append(info.end_events[event.step])
    active = list(dict.fromkeys(active))
    done_set = set(done) - set(active)
    reached = done_set | set(active)
    # Gateways and flows are not recorded as steps: a gateway was passed when something after it was
    # reached, and a flow was taken when both its ends were (repeat for gateways in a row).
    changed = True
    while changed:
        changed = False
        for _flow, source, target in info.flows:
            if source in info.gateways and source not in done_set and target in reached:
                done_set.add(source)
                reached.add(source)
                changed = True
    flows = [flow for flow, source, target in info.flows if source in done_set and target in reached]
    ordered = [e for e in dict.fromkeys(done) if e in done_set] + sorted(done_set - set(done)) + flows
    return ordered, active
