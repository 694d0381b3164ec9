"""A script worker: a long-lived process that runs diagram code under operating-system limits, one request at a time.

Started by engine.scriptpool as `python -m engine.scriptworker MEMORY_MB`; it reads framed requests on stdin and
answers on stdout until stdin closes.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Any

from . import restricted, scriptdata

# Descriptors beyond the two pipes and stderr are never needed.
_MAX_FILES = 8


def _limit(memory_mb: int) -> None:
    """Limits that hold for the worker's whole life; the CPU limit is set per request."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Nothing it runs may write a file or start a process.
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (_MAX_FILES, _MAX_FILES))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _limit_cpu(seconds: float) -> None:
    # The kernel sends SIGXCPU, which ends the process, once the soft limit is passed; the engine's wall-clock
    # deadline is the first line, this one holds when the machine is so loaded that the engine is late.
    soft = int(_cpu_seconds() + seconds) + 2
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def _failure(err: BaseException, source: str, data: dict[str, Any]) -> dict[str, Any]:
    line, text = restricted.error_line(source, err)
    kind = "overtime" if isinstance(err, restricted.OverTime) else (
        "violation" if isinstance(err, restricted.SandboxError) else "error")
    return {"kind": kind, "type": type(err).__name__, "message": restricted.describe(err, data), "line": line,
            "text": text}


def _unstorable(err: scriptdata.Unstorable) -> dict[str, Any]:
    return {"kind": "unstorable", "type": "Unstorable", "name": err.name, "message": err.type_name}


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request; every exception the diagram's code raises, BaseException included, becomes the answer."""
    source = request["source"]
    data = scriptdata.decode(request["data"])
    _limit_cpu(request["seconds"])
    try:
        code = restricted.compile_for(source, request["mode"], None, "")
        if request["mode"] == "eval":
            value = restricted.evaluate(code, data, request["seconds"])
        else:
            restricted.execute(code, data, scriptdata.decode(request["external"]), request["seconds"])
    except BaseException as err:  # noqa: BLE001 - SystemExit, KeyboardInterrupt … from the code are its failure
        return {"error": _failure(err, source, data)}
    try:
        if request["mode"] == "eval":
            return {"value": scriptdata.encode_data({"": value})[""]}
        return {"data": scriptdata.encode_data(data)}
    except scriptdata.Unstorable as err:
        return {"error": _unstorable(err)}


def _answer(response: dict[str, Any]) -> bytes:
    try:
        packed = scriptdata.pack(response)
    except (ValueError, RecursionError, MemoryError):
        packed = b""
    if not packed or len(packed) > scriptdata.MAX_FRAME_BYTES:
        packed = scriptdata.pack({"error": {"kind": "toolarge", "type": "Unstorable"}})
    return packed


def main() -> None:
    requests, answers = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    # print() is collected by the sandbox; anything else written to stdout must not corrupt the frames.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    _limit(int(sys.argv[1]))
    while True:
        header = scriptdata.read_exactly(requests, 4)
        if header is None:
            return
        body = scriptdata.read_exactly(requests, scriptdata.frame_length(header))
        if body is None:
            return
        try:
            response = handle(scriptdata.unpack(body))
        except MemoryError:
            response = {"error": {"kind": "error", "type": "MemoryError", "message": "MemoryError: 内存不足",
                                  "line": None, "text": None}}
        scriptdata.write_all(answers, _answer(response))


if __name__ == "__main__":
    main()
