"""The script workers that run diagram code under operating-system limits, and the time budget one step's code shares.

A few long-lived `engine.scriptworker` processes are started when first needed, in each process that runs cases
(also in each forked web-server worker). A worker whose code outlives the step's budget is killed and a new one
takes its place when next needed.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import scriptdata
from .config import ROOT

# How long past the step's deadline a worker gets to answer for itself before it is killed: its own
# clock stops loops with a clearer message, and a killed worker costs a new process.
_GRACE_SECONDS = 0.25
# Everything the worker inherits: no secrets, no database address, no proxy settings.
_ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8"}


@dataclass(frozen=True)
class Limits:
    seconds: float = 2.0  # BIANMIN_SCRIPT_SECONDS: all diagram code one step runs
    memory_mb: int = 512  # BIANMIN_SCRIPT_MEMORY_MB: one worker's address space
    workers: int = 2  # BIANMIN_SCRIPT_WORKERS: per process that runs cases


_limits = Limits()


def configure(limits: Limits) -> None:
    """Set the limits; workers started with another memory limit are replaced as they come back idle."""
    global _limits
    _limits = limits


def current_limits() -> Limits:
    return _limits


class ScriptStopped(Exception):
    """Diagram code was stopped by a limit; the reason, in Chinese, reads on after the element's name."""


class ScriptFailed(Exception):
    """Diagram code raised or left data the case cannot store; told as the worker saw it."""

    def __init__(self, description: str, error_type: str, *, violation: bool = False, line: int | None = None,
                 text: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.error_type = error_type
        self.violation = violation
        self.line = line
        self.text = text


def over_time(limits: Limits | None = None) -> ScriptStopped:
    return ScriptStopped(f"运行超过 {(limits or _limits).seconds:g} 秒，已停止：请检查其中的循环或大量计算")


# ---------------------------------------------------------------------------
# The step's budget
# ---------------------------------------------------------------------------

class _Step(threading.local):
    deadline: float | None = None


_step = _Step()


@contextmanager
def step_budget() -> Iterator[None]:
    """All diagram code run inside the block shares one time budget; a nested block shares the outer one."""
    if _step.deadline is not None:
        yield
        return
    _step.deadline = time.monotonic() + _limits.seconds
    try:
        yield
    finally:
        _step.deadline = None


def _deadline() -> float:
    return _step.deadline if _step.deadline is not None else time.monotonic() + _limits.seconds


def remaining() -> float:
    """Seconds the code run now may still take (the whole budget outside a step)."""
    return _deadline() - time.monotonic()


def _pause_clock(seconds: float) -> None:
    # Waiting for a free worker is not the step's own doing.
    if _step.deadline is not None:
        _step.deadline += seconds


# ---------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------

class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        self.process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-s", "-m", "engine.scriptworker", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=str(ROOT), env=_ENV,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.requests, self.answers = self.process.stdin.fileno(), self.process.stdout.fileno()

    def call(self, payload: bytes, deadline: float) -> bytes:
        """The answer to one request; TimeoutError past `deadline`, EOFError or OSError when the worker died."""
        scriptdata.write_all(self.requests, payload)
        length = scriptdata.frame_length(self._read(4, deadline))
        if length > scriptdata.MAX_FRAME_BYTES:
            raise EOFError("answer too large")
        return self._read(length, deadline)

    def _read(self, size: int, deadline: float) -> bytes:
        chunks, missing = [], size
        poller = select.poll()
        poller.register(self.answers, select.POLLIN)
        while missing:
            left = deadline - time.monotonic()
            if left <= 0 or not poller.poll(left * 1000):
                raise TimeoutError
            chunk = os.read(self.answers, min(missing, 1 << 20))
            if not chunk:
                raise EOFError("worker ended")
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> int | None:
        """Stop the worker for good; its exit status (negative: the signal that ended it)."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait()
        self.close()
        return code

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


class _Pool:
    """At most `Limits.workers` workers, each used by one thread at a time."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._idle: list[_Worker] = []
        self._started = 0

    def _take(self, limits: Limits) -> _Worker:
        give_up = time.monotonic() + 3 * limits.seconds
        with self._ready:
            while True:
                if self._idle:
                    worker = self._idle.pop()
                    if worker.memory_mb == limits.memory_mb and worker.process.poll() is None:
                        return worker
                    worker.kill()
                    self._started -= 1
                    continue
                if self._started < limits.workers:
                    self._started += 1
                    break
                left = give_up - time.monotonic()
                if left <= 0:
                    raise ScriptStopped("未能运行：同时运行的脚本过多，请稍后重试")
                self._ready.wait(left)
        try:
            return _Worker(limits.memory_mb)
        except BaseException:
            self._drop()
            raise

    def _give_back(self, worker: _Worker) -> None:
        with self._ready:
            self._idle.append(worker)
            self._ready.notify()

    def _drop(self) -> None:
        with self._ready:
            self._started -= 1
            self._ready.notify()

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        limits = _limits
        if remaining() <= 0:
            raise over_time(limits)
        waited = time.monotonic()
        worker = self._take(limits)
        _pause_clock(time.monotonic() - waited)
        deadline = _deadline()
        payload = scriptdata.pack({**request, "seconds": deadline - time.monotonic()})
        try:
            answer = worker.call(payload, deadline + _GRACE_SECONDS)
        except TimeoutError:
            worker.kill()
            self._drop()
            raise over_time(limits) from None
        except (EOFError, OSError):
            code = worker.kill()
            self._drop()
            if code == -signal.SIGXCPU:
                raise over_time(limits) from None
            raise ScriptStopped(f"占用内存超过 {limits.memory_mb} MB 或运行中断，已停止") from None
        except BaseException:
            # The engine's own thread was interrupted mid-request: the worker's state is unknown.
            worker.kill()
            self._drop()
            raise
        self._give_back(worker)
        return _checked(scriptdata.unpack(answer), limits)

    def after_fork(self) -> None:
        """In a forked child: the parent's workers stay the parent's; start afresh."""
        for worker in self._idle:
            worker.close()
        self.__init__()  # type: ignore[misc]

    def pids(self) -> list[int]:
        """Process ids of the idle workers (for tests and diagnostics)."""
        with self._ready:
            return [worker.process.pid for worker in self._idle]


_POOL = _Pool()
os.register_at_fork(after_in_child=_POOL.after_fork)


def worker_pids() -> list[int]:
    return _POOL.pids()


# ---------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------

def evaluate(source: str, data: Mapping[str, Any]) -> Any:
    """The value of an expression, computed in a worker."""
    answer = _POOL.run({"mode": "eval", "source": source, "data": _encoded(data)})
    return scriptdata.decode(answer["value"])


def execute(source: str, data: Mapping[str, Any], external: Mapping[str, Any]) -> dict[str, Any]:
    """The task data a script leaves, run in a worker; `data` itself is not touched."""
    answer = _POOL.run({"mode": "exec", "source": source, "data": _encoded(data), "external": _encoded(external)})
    return dict(scriptdata.decode(answer["data"]))


def _checked(answer: dict[str, Any], limits: Limits) -> dict[str, Any]:
    error = answer.get("error")
    if error is None:
        return answer
    kind = error["kind"]
    if kind == "overtime":
        raise over_time(limits)
    if kind == "unstorable":
        raise ScriptFailed(_unstorable(error["name"], error["message"]), "Unstorable")
    if kind == "toolarge":
        raise ScriptFailed(f"留下的数据超过 {scriptdata.MAX_FRAME_BYTES // 2**20} MB，无法保存", "Unstorable")
    raise ScriptFailed(error["message"], error["type"], violation=kind == "violation", line=error["line"],
                       text=error["text"])


def _encoded(data: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return scriptdata.encode_data(data)
    except scriptdata.Unstorable as err:
        raise ScriptFailed(_unstorable(err.name, err.type_name), "Unstorable") from None


def _unstorable(name: str, type_name: str) -> str:
    if not name:
        return f"结果是 {type_name} 类型，无法使用：请写成得出文本、数字、日期或列表的表达式"
    return (f'变量 "{name}" 的值是 {type_name} 类型，无法保存到办件数据：请转换成列表、文本或数字'
            f"（例如 list(...)），或在脚本结束前用 del {name} 删除")
