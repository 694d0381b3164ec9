"""Service tasks that wait: the diagram's call is collected while the engine steps run and becomes an outbox row;
the task stays STARTED (the case waits there) until the worker brings the connector's result back."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.spiff.specs.defaults import ServiceTask
from SpiffWorkflow.task import Task as SpiffTask

from connectors import REGISTRY

_CALLS: ContextVar[list[Call] | None] = ContextVar("service_calls", default=None)


@dataclass(frozen=True)
class Call:
    """What a service task asked for: the connector and only the parameters its diagram mapped, evaluated."""

    task: SpiffTask
    connector: str
    params: dict[str, Any]


class WaitingServiceTask(ServiceTask):
    """A `bpmn:serviceTask` with spiff-arena's `spiffworkflow:serviceTaskOperator`: its parameters are expressions
    over the case data, evaluated here; the call itself is made by the outbox worker."""

    def _execute(self, task: SpiffTask) -> bool | None:
        calls = _CALLS.get()
        if calls is None:
            raise RuntimeError("service task reached outside a collected engine step")
        params = {name: task.workflow.script_engine.evaluate(task, param["value"])
                  for name, param in self.operation_params.items()}
        calls.append(Call(task, self.operation_name, params))
        # None leaves the task STARTED: the workflow waits here and goes on along other branches.
        return None


def problems(elements: list[Any]) -> list[tuple[Any, str]]:
    """A deployment's check of each service task: a connector that exists, and parameters it takes (every required
    one mapped); the values are checked as they are computed, since they come from the case."""
    found: list[tuple[Any, str]] = []
    for spec in elements:
        if not isinstance(spec, ServiceTask):
            continue
        connector = REGISTRY.get(spec.operation_name)
        if connector is None:
            known = "、".join(sorted(REGISTRY))
            found.append((spec, f"服务任务使用的连接器“{spec.operation_name}”不存在（可用：{known}）"))
            continue
        declared = connector.parameters.get("properties", {})
        mapped = set(spec.operation_params)
        for name in sorted(mapped - set(declared)):
            found.append((spec, f"连接器“{connector.title}”没有参数“{name}”"))
        for name in sorted(set(connector.parameters.get("required", [])) - mapped):
            found.append((spec, f"连接器“{connector.title}”的必填参数“{name}”没有设置"))
    return found


def named_secrets(elements: list[Any]) -> list[tuple[Any, str]]:
    """The secrets the service tasks among `elements` name, as (task spec, secret name): only a name written as a
    literal; one computed from the case data is known only when the call is made."""
    found: list[tuple[Any, str]] = []
    for spec in elements:
        connector = REGISTRY.get(spec.operation_name) if isinstance(spec, ServiceTask) else None
        if connector is None:
            continue
        for parameter in connector.secret_parameters:
            expression = spec.operation_params.get(parameter, {}).get("value")
            try:
                name = ast.literal_eval(expression) if isinstance(expression, str) else None
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(name, str) and name:
                found.append((spec, name))
    return found


@contextmanager
def collecting() -> Iterator[list[Call]]:
    """Collect the service calls the engine steps run inside this block reach."""
    calls: list[Call] = []
    token = _CALLS.set(calls)
    try:
        yield calls
    finally:
        _CALLS.reset(token)
