"""Diagram code at run time: the guards RestrictedPython's compiled code calls, the step budget, the builtins
it sees, running it, and what its failures say."""

from __future__ import annotations

import difflib
import operator
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from types import CodeType
from typing import Any

from RestrictedPython import safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

from .compiling import SCRIPT_FILENAME, SandboxError

# What diagram code may call besides RestrictedPython's safe builtins (wrapped where they could run long).
_EXTRA_BUILTINS: dict[str, Any] = {
    "len": len, "min": min, "max": max, "sum": sum, "round": round, "abs": abs,
    "sorted": sorted, "reversed": reversed, "any": any, "all": all,
    "enumerate": enumerate, "zip": zip, "map": map, "filter": filter,
    "str": str, "int": int, "float": float, "bool": bool, "list": list,
    "dict": dict, "set": set, "frozenset": frozenset, "tuple": tuple,
    "isinstance": isinstance, "divmod": divmod,
}

# A diagram's code is a few lines run inside a case's locked transaction: a loop that never ends
# would hold that lock (on SQLite, the whole database's), so loop turns are counted and the clock read.
MAX_LOOP_STEPS = 1_000_000
# One `**`, `*` or `<<` can take minutes or gigabytes before any loop turns: their results are capped.
MAX_RESULT_BITS = 100_000
MAX_SEQUENCE_ITEMS = 1_000_000
_OVER_BUDGET = f"循环超过 {MAX_LOOP_STEPS:,} 次，已被停止，请检查循环条件"

# ---------------------------------------------------------------------------
# Guards that RestrictedPython's compiled code calls at run time
# ---------------------------------------------------------------------------

_MISSING = object()


def _guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    if not isinstance(name, str):
        raise SandboxError("属性名必须是字符串")
    if name.startswith("_"):
        raise SandboxError(f'不允许访问以下划线开头的属性 "{name}"')
    if name in INSPECT_ATTRIBUTES:
        raise SandboxError(f'不允许访问解释器内部属性 "{name}"')
    # str.format can walk attributes ("{0.__class__}") past this guard.
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        raise SandboxError('不允许使用 str.format，请改用 f"..." 写法')
    if default is _MISSING:
        return getattr(obj, name)
    return getattr(obj, name, default)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _guarded_write(obj: Any) -> Any:
    if isinstance(obj, (dict, list)):
        return obj
    raise SandboxError(f"不允许修改 {type(obj).__name__} 类型的对象，只能修改字典和列表")


def _guarded_apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul,
    "/=": operator.itruediv, "//=": operator.ifloordiv, "%=": operator.imod,
    "**=": operator.ipow, "<<=": operator.ilshift, ">>=": operator.irshift,
    "&=": operator.iand, "|=": operator.ior, "^=": operator.ixor,
}


def _guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    func = _INPLACE_OPS.get(op)
    if func is None:
        raise SandboxError(f"不支持的运算 {op}")
    if op in ("**=", "*=", "<<="):
        _check_size(op[:-1], target, value)
    return func(target, value)


def _check_size(op: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be too large to compute in a script's moment."""
    ints = isinstance(left, int) and isinstance(right, int)
    if op == "**" and ints and right > 0 and abs(left) > 1:
        bits = right * abs(left).bit_length()
    elif op == "<<" and ints:
        bits = left.bit_length() + max(right, 0)
    elif op == "*" and ints:
        bits = left.bit_length() + right.bit_length()
    else:
        bits = 0
    if bits > MAX_RESULT_BITS:
        raise SandboxError(f"运算 {op} 的结果过大（超过 {MAX_RESULT_BITS:,} 位二进制数），已被拒绝")
    if op == "*":
        for items, times in ((left, right), (right, left)):
            if isinstance(items, (str, bytes, list, tuple)) and isinstance(times, int) \
                    and len(items) * times > MAX_SEQUENCE_ITEMS:
                raise SandboxError(f"重复后的长度超过 {MAX_SEQUENCE_ITEMS:,}，已被拒绝")


def _arith(op: str, left: Any, right: Any) -> Any:
    _check_size(op, left, right)
    if op == "**":
        return left ** right
    return left * right if op == "*" else left << right


def _limited_pow(base: Any, exponent: Any, modulus: Any = None) -> Any:
    # With a modulus the result stays small however large the exponent.
    return pow(base, exponent, modulus) if modulus is not None else _arith("**", base, exponent)


class OverTime(SandboxError):
    """The step's time ran out while its code was looping; the caller says how long the step may run."""


class _Budget(threading.local):
    steps = 0
    deadline: float | None = None


_budget = _Budget()


@contextmanager
def _budgeted(seconds: float) -> Iterator[None]:
    """Give one evaluation or script run its loop budget and the time left to its step."""
    _budget.steps, _budget.deadline = 0, time.monotonic() + seconds
    try:
        yield
    finally:
        _budget.deadline = None


def _tick() -> None:
    _budget.steps += 1
    if _budget.steps > MAX_LOOP_STEPS:
        raise SandboxError(_OVER_BUDGET)
    # The clock is read every 1,024 steps: cheap enough for every loop turn.
    if _budget.steps & 1023 == 0 and _budget.deadline is not None and time.monotonic() > _budget.deadline:
        raise OverTime()


def _guarded_getiter(obj: Iterable[Any]) -> Iterator[Any]:
    for item in obj:
        _tick()
        yield item


def _limited_range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_LOOP_STEPS + 1
    if size > MAX_LOOP_STEPS:
        raise SandboxError(f"range 产生的数超过 {MAX_LOOP_STEPS:,} 个，已被拒绝")
    return numbers


def _build_builtins() -> dict[str, Any]:
    builtins = dict(safe_builtins)
    # Classes are refused statically; without this a class statement could
    # still be assembled by hand.
    builtins.pop("__build_class__", None)
    builtins.update(_EXTRA_BUILTINS)
    builtins["range"] = _limited_range
    builtins["pow"] = _limited_pow
    builtins["_getattr_"] = _guarded_getattr
    return builtins


_SAFE_BUILTINS: Mapping[str, Any] = _build_builtins()

# Names RestrictedPython's rewritten code looks up as globals; they are put in
# last so task data can never shadow them.
_GUARDS: dict[str, Any] = {
    "__builtins__": _SAFE_BUILTINS,
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": _guarded_getiter,
    "_tick_": _tick,
    "_arith_": _arith,
    "_write_": _guarded_write,
    "_apply_": _guarded_apply,
    "_inplacevar_": _guarded_inplacevar,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_print_": PrintCollector,
}

_HELPERS: dict[str, Any] = {"datetime": datetime, "timedelta": timedelta, "date": date}

# Every name a diagram's code can read without task data providing it.
PROVIDED_NAMES = frozenset(_SAFE_BUILTINS) | frozenset(_HELPERS)



# ---------------------------------------------------------------------------
# Running compiled code, and telling what went wrong
# ---------------------------------------------------------------------------

def evaluate(code: CodeType, data: Mapping[str, Any], seconds: float) -> Any:
    """The value of a compiled expression over `data`; anything the code raises propagates."""
    scope = dict(_HELPERS)
    scope.update(data)
    scope.update(_GUARDS)
    # Not the context manager: a condition is evaluated at every engine step, and this is cheaper.
    _budget.steps, _budget.deadline = 0, time.monotonic() + seconds
    try:
        return eval(code, scope)  # noqa: S307 - restricted-compiled, guarded globals
    finally:
        _budget.deadline = None


def execute(code: CodeType, data: dict[str, Any], external: Mapping[str, Any], seconds: float) -> None:
    """Run a compiled script with `data` as its globals, so assignments land in it; what was lent is taken back.

    Helpers only fill names the data does not use, so a form field called "date" keeps its value.
    """
    helpers = {key: value for key, value in _HELPERS.items() if key not in data}
    data.update(helpers)
    data.update(external)
    data.update(_GUARDS)
    try:
        with _budgeted(seconds):
            exec(code, data)  # noqa: S102 - restricted-compiled, guarded globals
    finally:
        for name in _GUARDS:
            data.pop(name, None)
        for name in external:
            data.pop(name, None)
        for name, value in helpers.items():
            if data.get(name) is value:
                del data[name]
        # Like the library's own environment: functions a script defined are not task data.
        for name in [key for key, value in data.items() if callable(value)]:
            del data[name]


# Long enough for any message of Python's; a longer one is a value the code put in it.
_MAX_DETAIL = 300


def error_line(source: str, err: BaseException) -> tuple[int | None, str | None]:
    """The line of diagram code an exception came from, and that line's text."""
    line: int | None = None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == SCRIPT_FILENAME:
            line = frame.lineno
    if line is None:
        return None, None
    lines = textwrap.dedent(source).splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else None
    return line, text


def describe(err: BaseException, data: Mapping[str, Any]) -> str:
    """What went wrong, in Chinese where it is a common mistake."""
    if isinstance(err, SandboxError):
        return str(err)
    if isinstance(err, NameError) and err.name:
        text = f'变量 "{err.name}" 未定义'
        close = difflib.get_close_matches(err.name, [str(k) for k in data], n=3)
        if close:
            text += "，是否应为 " + "、".join(f'"{c}"' for c in close) + "？"
        return text
    if isinstance(err, (SystemExit, KeyboardInterrupt, GeneratorExit)):
        return f"{type(err).__name__}：脚本不能退出或中断流程，请改为给变量赋值，由网关条件决定走向"
    if isinstance(err, MemoryError):
        return "MemoryError: 内存不足，脚本创建的数据过大"
    detail = str(err)
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL] + "…"
    return f"{type(err).__name__}: {detail}" if detail else type(err).__name__
