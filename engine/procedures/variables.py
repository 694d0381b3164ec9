"""What a diagram's scripts set in a case's data, collected per step for the case's history and variables."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from SpiffWorkflow.task import Task

from ..sandbox import SandboxScriptEngine


@dataclass(frozen=True)
class ScriptChange:
    """The top-level task data one script run added, changed or removed, as JSON values."""

    task_id: str
    step: str
    before: dict[str, Any]  # the old values of keys it changed or removed
    after: dict[str, Any]  # the new values of keys it added or changed

    @property
    def removed(self) -> list[str]:
        return [key for key in self.before if key not in self.after]


def json_safe(value: Any) -> Any:
    """`value` as JSON can hold it: dates and times in ISO form, Decimals and other objects as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        # PostgreSQL's JSON refuses NaN and infinities.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item) for item in value]
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def merged(current: dict[str, Any] | None, changes: list[ScriptChange]) -> dict[str, Any]:
    """A case's variables after `changes`, applied in the order the scripts ran."""
    values = dict(current or {})
    for change in changes:
        for key in change.removed:
            values.pop(key, None)
        values.update(change.after)
    return values


class _Collector(threading.local):
    changes: list[ScriptChange] | None = None


_collector = _Collector()


@contextmanager
def collecting() -> Iterator[list[ScriptChange]]:
    """Collect what scripts run in this thread change until the block ends; a nested block shares the outer list.

    Outside such a block scripts run without being watched, so nothing is spent on it.
    """
    if _collector.changes is not None:
        yield _collector.changes
        return
    _collector.changes = changes = []
    try:
        yield changes
    finally:
        _collector.changes = None


def _encoded(data: Mapping[str, Any]) -> dict[str, str]:
    # Compared as canonical JSON, so 1 → 1.0, True → 1 and changes inside a list all count.
    return {str(key): json.dumps(json_safe(value), sort_keys=True, ensure_ascii=False) for key, value in data.items()}


class RecordingScriptEngine(SandboxScriptEngine):
    """The sandbox's engine, telling the open `collecting()` block what each script run changed."""

    def execute(self, task: Task, script: str, external_context: dict[str, Any] | None = None) -> bool:
        changes = _collector.changes
        if changes is None:
            return super().execute(task, script, external_context)
        old = _encoded(task.data)
        result = super().execute(task, script, external_context)
        new = _encoded(task.data)
        changed = [key for key, text in new.items() if old.get(key) != text]
        removed = [key for key in old if key not in new]
        if changed or removed:
            spec = task.task_spec
            changes.append(ScriptChange(
                str(task.id), spec.bpmn_name or spec.bpmn_id,
                before={key: json.loads(old[key]) for key in [*changed, *removed] if key in old},
                after={key: json.loads(new[key]) for key in changed},
            ))
        return result
