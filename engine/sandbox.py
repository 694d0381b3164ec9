"""SpiffWorkflow's script engine for diagrams: comparisons in-process, other code in a worker, errors in Chinese."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task

from . import restricted, scriptpool
from .restricted import (
    PROVIDED_NAMES,
    SCRIPT_FILENAME,
    SandboxError,
    ScriptRejected,
    check_expression,
    check_script,
    compile_cache_info,
    syntax_tree,
)
from .scriptpool import ScriptFailed, ScriptStopped

__all__ = [
    "PROVIDED_NAMES",
    "SCRIPT_FILENAME",
    "SandboxError",
    "SandboxScriptEngine",
    "SandboxTaskDataEnvironment",
    "SandboxViolation",
    "ScriptError",
    "ScriptRejected",
    "check_expression",
    "check_script",
    "compile_cache_info",
    "syntax_tree",
]


class ScriptError(WorkflowTaskException):
    """A script, condition or timer expression failed while a case was running."""

    def __str__(self) -> str:
        # The library's __str__ appends ". " even without notes, which reads
        # badly after a Chinese sentence.
        text = self.args[0] if self.args else ""
        return "；".join([text, *self.notes]) if self.notes else text


class SandboxViolation(ScriptError):
    """The sandbox refused a diagram's code while a case was running."""


class SandboxTaskDataEnvironment(TaskDataEnvironment):
    """TaskDataEnvironment whose eval/exec run restricted-compiled code: comparisons here, the rest in a worker.

    Hooked at the environment level because SpiffWorkflow also calls
    ``script_engine.environment.evaluate`` directly (process completion
    conditions, data objects, message correlation), bypassing the engine.
    """

    def __init__(self) -> None:
        super().__init__({})

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        code = restricted.compile_for(expression, "eval", None, "表达式")
        scope = {**external_context, **context} if external_context else context
        if not restricted.is_cheap(expression):
            return scriptpool.evaluate(expression, scope)
        # A comparison's time is bounded by the data it reads, so it costs no round trip to a worker.
        try:
            return restricted.evaluate(code, scope, scriptpool.remaining())
        except BaseException as err:  # noqa: BLE001 - whatever the expression raises is its failure
            line, text = restricted.error_line(expression, err)
            raise ScriptFailed(restricted.describe(err, scope), type(err).__name__,
                               violation=isinstance(err, SandboxError), line=line, text=text) from err

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: dict[str, Any] | None = None,
    ) -> bool:
        restricted.compile_for(script, "exec", None, "脚本")
        external = external_context or {}
        self.check_for_overwrite(context, external)
        # Task data changes only when the whole script ran and left data that can be stored.
        left = scriptpool.execute(script, context, external)
        context.clear()
        context.update(left)
        return True

    def check_for_overwrite(self, context: dict[str, Any], external_context: dict[str, Any]) -> None:
        clashes = set(external_context) & set(context)
        if clashes:
            names = "、".join(sorted(clashes))
            raise SandboxError(f"任务数据中的变量与数据对象重名，请改名：{names}")

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        raise SandboxError("系统尚未接入外部服务连接器")


def _element_id(task: Task) -> str:
    spec = task.task_spec
    return getattr(spec, "bpmn_id", None) or spec.name


def _expression_kind(task: Task) -> str:
    spec = task.task_spec
    if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
        return "定时器表达式"
    if "Gateway" in type(spec).__name__:
        return "条件表达式"
    return "表达式"


class SandboxScriptEngine(PythonScriptEngine):
    """Script engine for untrusted diagrams: restricted compilation, safe builtins, Chinese errors."""

    def __init__(self, environment: TaskDataEnvironment | None = None) -> None:
        super().__init__(environment or SandboxTaskDataEnvironment())

    def evaluate(
        self,
        task: Task,
        expression: str,
        external_context: dict[str, Any] | None = None,
    ) -> Any:
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"表达式：{expression}")
            raise
        except Exception as err:
            raise self._wrap(task, _expression_kind(task), expression, err) from err

    def execute(
        self,
        task: Task,
        script: str,
        external_context: dict[str, Any] | None = None,
    ) -> bool:
        try:
            return self.environment.execute(script, task.data, external_context or {})
        except SpiffWorkflowException:
            raise
        except Exception as err:
            raise self._wrap(task, "脚本", script, err) from err

    def call_service(self, task: Task, **kwargs: Any) -> Any:
        # The library's own handler references an undefined name in 3.2.0, so
        # a failing service task would surface as NameError.
        operation = kwargs.get("operation_name") or "未命名操作"
        raise ScriptError(
            f'环节 "{_element_id(task)}" 是服务任务（{operation}），系统尚未接入外部服务连接器，无法执行',
            task=task,
        )

    def _wrap(self, task: Task, kind: str, source: str, err: Exception) -> ScriptError:
        element = _element_id(task)
        wrapped: ScriptError
        if isinstance(err, ScriptRejected):
            wrapped = SandboxViolation(err.at(element, kind).message, task=task)
            wrapped.line_number = err.line
        elif isinstance(err, ScriptStopped):
            wrapped = SandboxViolation(f'环节 "{element}" 的{kind}{err}', task=task)
        else:
            failed = err if isinstance(err, ScriptFailed) else ScriptFailed(
                restricted.describe(err, task.data), type(err).__name__, violation=isinstance(err, SandboxError))
            line, text = failed.line, failed.text
            where = f"（第 {line} 行：{text}）" if line and "\n" in source.strip() else ""
            verdict = "被沙箱拒绝" if failed.violation else "运行出错"
            message = f'环节 "{element}" 的{kind}{verdict}{where}：{failed.description}'
            cls = SandboxViolation if failed.violation else ScriptError
            wrapped = cls(message, task=task, line_number=line, error_line=text)
            # Passing the exception to the constructor would add English notes;
            # keep its type for callers that classify failures.
            wrapped.error_type = failed.error_type
            return wrapped
        wrapped.error_type = type(err).__name__
        return wrapped
