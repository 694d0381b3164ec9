"""Diagram code under RestrictedPython, shared by the engine and the script workers: checking and compiling it
(`compiling`), and running it under guards and a budget (`running`)."""

from __future__ import annotations

from .compiling import (
    SCRIPT_FILENAME,
    Mode,
    SandboxError,
    ScriptRejected,
    check_expression,
    check_script,
    compile_cache_info,
    compile_for,
    is_cheap,
    syntax_tree,
)
from .running import PROVIDED_NAMES, OverTime, describe, error_line, evaluate, execute

__all__ = [
    "PROVIDED_NAMES",
    "SCRIPT_FILENAME",
    "Mode",
    "OverTime",
    "SandboxError",
    "ScriptRejected",
    "check_expression",
    "check_script",
    "compile_cache_info",
    "compile_for",
    "describe",
    "error_line",
    "evaluate",
    "execute",
    "is_cheap",
    "syntax_tree",
]
