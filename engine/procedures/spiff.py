"""SpiffWorkflow glue: safe XML parsing, parsed-spec cache, and the case state (de)serializer."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser, full_tag
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from .. import clock
from ..errors import DeployRefused, NotFound, Problem
from ..models import ProcedureVersion
from ..outbox.calls import WaitingServiceTask
from .variables import RecordingScriptEngine

# The task iterator stops at depth 1,000 without an error, and a workflow whose unfinished tasks lie
# deeper looks completed; refuse to go on well before that.
MAX_TASK_DEPTH = 900


class _ClockDatetime(datetime):
    """SpiffWorkflow's timers call datetime.now() themselves; route that through engine.clock."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def, override]
        current = clock.now()
        return current.astimezone(tz) if tz else current.astimezone().replace(tzinfo=None)


spiff_timer.datetime = _ClockDatetime  # type: ignore[misc]


def parse_xml(data: bytes | str, filename: str) -> etree._Element:
    """Parse untrusted BPMN XML: no DTDs, no entities, no network."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise _refused(Problem(filename, f"不是合法的 XML（第 {exc.lineno} 行）：{exc.msg}")) from exc
    if root.getroottree().docinfo.doctype:
        raise _refused(Problem(filename, "流程图不允许包含 DOCTYPE 或外部实体声明"))
    return root


def _refused(problem: Problem) -> DeployRefused:
    return DeployRefused(str(problem), problems=[problem])


class _Parser(SpiffBpmnParser):
    """spiff-arena's dialect, with service tasks that wait for the outbox instead of calling out mid-step."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("serviceTask"): (SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("serviceTask")][0],
                                  WaitingServiceTask),
    }


def make_parser(validate: bool = False) -> SpiffBpmnParser:
    return _Parser(validator=BpmnValidator() if validate else None)


class _StateConverter(BpmnWorkflowConverter):
    """Stores a case's instance state without its spec: the spec lives once per procedure version."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = _StateConverter
_config[WaitingServiceTask] = ServiceTaskConverter
_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))
# The library knows only datetime, timedelta and UUID; a script may set a date (the sandbox offers it) or a
# Decimal, and without these the step that set it could not be saved.
_serializer.registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
_serializer.registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
SERIALIZER_VERSION = _serializer.VERSION
_script_engine = RecordingScriptEngine()


@dataclass(frozen=True)
class LoadedVersion:
    """A procedure version as the runtime needs it: parsed spec plus forms and guide."""

    id: int
    item_code: str
    version: int
    guide: dict[str, Any]
    forms: dict[str, Any]
    spec: Any
    subprocess_specs: dict[str, Any]


class VersionCache:
    """Deployed versions are immutable, so a parsed one never goes stale and is kept per process."""

    def __init__(self) -> None:
        self._versions: dict[int, LoadedVersion] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, version_id: int) -> LoadedVersion:
        found = self._versions.get(version_id)
        if found is None:
            row = session.get(ProcedureVersion, version_id)
            if row is None:
                raise NotFound("流程版本不存在")
            spec, subprocess_specs = build_spec(row.bpmn_xml, row.process_id)
            found = LoadedVersion(row.id, row.item_code, row.version, row.guide, row.forms, spec, subprocess_specs)
            with self._lock:
                self._versions[version_id] = found
        return found


class StateCache:
    """Workflows this process saved last, reusable only while the case row still has that revision.

    A workflow is taken out (not copied) while a transaction works on it and put back only after
    that transaction committed, so a rolled-back change can never leak into a later step; another
    process moving the case on changes its revision, which makes the cached entry unusable.
    """

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def take(self, case_id: int, revision: int) -> BpmnWorkflow | None:
        with self._lock:
            found = self._items.pop(case_id, None)
        return found[1] if found and found[0] == revision else None

    def put(self, case_id: int, revision: int, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[case_id] = (revision, workflow)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def build_spec(bpmn_xml: str, process_id: str, filename: str = "process.bpmn") -> tuple[Any, dict[str, Any]]:
    parser = make_parser()
    parser.add_bpmn_xml(parse_xml(bpmn_xml, filename), filename)
    return parser.get_spec(process_id), parser.get_subprocess_specs(process_id)


# What a case's data holds besides its application form; deploy checks count these names as set.
CASE_DATA_NAMES = ("case_number", "applicant")


def new_workflow(spec: Any, subprocess_specs: dict[str, Any], application: dict[str, Any], case_number: str,
                 applicant: dict[str, str]) -> BpmnWorkflow:
    # Form fields come first so an application cannot overwrite the case's own identity.
    data = {**application, "case_number": case_number, "applicant": applicant}
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=_script_engine)
    workflow.data.update(data)
    # The start event copies workflow data into the first tasks.
    workflow.task_tree.data.update(data)
    return workflow


def spec_registry() -> Any:
    """The serializer's registry, which SpiffWorkflow's spec comparison (a case's migration) converts specs with."""
    return _serializer.registry


def dump_state(workflow: BpmnWorkflow) -> str:
    _serializer.registry._encoder_mode = True
    try:
        return json.dumps(_serializer.to_dict(workflow), cls=_serializer._encoder_cls, ensure_ascii=False)
    finally:
        _serializer.registry._encoder_mode = False


def load_state(state: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    dct = json.loads(state)
    workflow = _serializer.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = _script_engine
    return workflow


def deepest_task(workflow: BpmnWorkflow) -> tuple[SpiffTask, int]:
    """The deepest task of the tree and its depth, counted as the library's iterator counts (subprocesses within).

    Walked here over the children lists, since the library's own walk stops at the depth this guards.
    """
    deepest, most = workflow.task_tree, 0
    stack: list[tuple[SpiffTask, int]] = [(workflow.task_tree, 0)]
    while stack:
        task, depth = stack.pop()
        if depth > most:
            deepest, most = task, depth
        stack.extend((child, depth + 1) for child in task.children)
        subprocess = workflow.subprocesses.get(task.id)
        if subprocess is not None:
            stack.append((subprocess.task_tree, depth + 1))
    return deepest, most


def end_reached(workflow: BpmnWorkflow) -> SpiffTask | None:
    """The completed end event of the case's own process (not of a subprocess), if one was reached.

    A side path may end on its own (a boundary timer's 督办 branch): the end that states the case's result
    (`caseResult`) is the one that counts, the last reached if several do.
    """
    ends = [task for task in workflow.tasks.values()
            if task.state == TaskState.COMPLETED and isinstance(task.task_spec, EndEvent)]
    stating = [task for task in ends if task.task_spec.extensions.get("properties", {}).get("caseResult")]
    return (stating or ends or [None])[-1]


def waiting_tasks(workflow: BpmnWorkflow) -> list[SpiffTask]:
    """Every task not finished, found in the flat task maps rather than by the library's depth-limited walk."""
    return [task for tasks in [workflow.tasks, *(sub.tasks for sub in workflow.subprocesses.values())]
            for task in tasks.values() if task.state & TaskState.NOT_FINISHED_MASK]


def utc_from_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=clock.SHANGHAI).astimezone(UTC)
