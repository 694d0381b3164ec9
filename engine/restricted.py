"""RestrictedPython compilation, static checks and run-time guards of diagram code, shared by engine and workers."""

from __future__ import annotations

import ast
import difflib
import operator
import re
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import CodeType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

# Compiled code carries this file name so a traceback frame can be traced back
# to the diagram's own source line.
SCRIPT_FILENAME = "<bpmn>"

Mode = Literal["eval", "exec"]

# Kinds are shown to administrators, so English codes used by callers are
# translated; any other label is shown as given.
_KIND_LABELS = {
    "condition": "条件表达式",
    "timer": "定时器表达式",
    "expression": "表达式",
    "script": "脚本",
    "cardinality": "多实例数量表达式",
    "completion": "完成条件",
}

# Builtins that reach outside the sandbox or let code build code; refused by
# name at deploy time so the message can say exactly what is wrong.
_FORBIDDEN_NAMES = frozenset({
    "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars",
    "getattr", "setattr", "delattr", "hasattr", "breakpoint", "input", "help",
    "dir", "exit", "quit", "memoryview", "type", "super", "object", "classmethod",
    "staticmethod", "property",
})

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
_TOO_DEEP = "嵌套过深或过长，无法检查，请拆分成几个简单的表达式或语句"

# Phrases of Python's own syntax errors that administrators will meet most.
_SYNTAX_PHRASES = (
    ("was never closed", "括号没有闭合"),
    ("unmatched", "括号不匹配"),
    ("unexpected indent", "缩进不正确"),
    ("expected an indented block", "缺少缩进的代码块"),
    ("unindent does not match", "缩进不一致"),
    ("expected ':'", "缺少冒号"),
    ("unterminated string literal", "字符串缺少结束引号"),
    ("unterminated triple-quoted string", "三引号字符串没有结束"),
    ("invalid syntax", "语法无效"),
    ("too many nested parentheses", "括号嵌套过深"),
    ("too many statically nested blocks", "代码块嵌套过深"),
    ("invalid character", "含有非法字符（请检查是否使用了中文标点）"),
)


# The refusals of RestrictedPython's own compiler that our checker does not
# catch first.
_RESTRICTED_PHRASES = (
    (r"Augmented assignment of object items",
     "不支持对字典或列表的元素使用 += 等复合赋值，请写成 d[k] = d[k] + 1"),
    (r"Augmented assignment of attributes", "不支持对属性使用 += 等复合赋值"),
    (r'"(\w+)" is a reserved name', "{0} 是保留名称，请换一个变量名"),
    (r"(\w+) statements are not allowed", "不支持 {0} 语句"),
    (r"Assignment expressions are only allowed for simple targets", "海象运算符 := 只能赋值给普通变量"),
    (r"Unpacking in comprehensions", "推导式中不支持解包"),
)


class ScriptRejected(Exception):
    """A diagram's code that the sandbox refuses to compile, with the reason in Chinese."""

    def __init__(
        self,
        reason: str,
        element_id: str | None = None,
        kind: str = "脚本",
        line: int | None = None,
        syntax_error: bool = False,
    ) -> None:
        self.reason = reason
        self.element_id = element_id
        self.kind = _KIND_LABELS.get(kind, kind)
        self.line = line
        self.syntax_error = syntax_error
        self.message = self._compose()
        super().__init__(self.message)

    def _compose(self) -> str:
        where = f'环节 "{self.element_id}" 的{self.kind}' if self.element_id else self.kind
        verdict = "有语法错误" if self.syntax_error else "不安全"
        detail = f"第 {self.line} 行，{self.reason}" if self.line else self.reason
        return f"{where}{verdict}：{detail}"

    def at(self, element_id: str | None, kind: str) -> ScriptRejected:
        """The same rejection, told about a particular diagram element."""
        return ScriptRejected(self.reason, element_id, kind, self.line, self.syntax_error)


class SandboxError(Exception):
    """Raised inside running diagram code when a guard refuses an operation."""


# ---------------------------------------------------------------------------
# Static checks and restricted compilation
# ---------------------------------------------------------------------------

class _Checker(ast.NodeVisitor):
    """Finds the first construct the sandbox refuses, before RestrictedPython sees it."""

    def __init__(self) -> None:
        self._problems: list[tuple[int, int, str]] = []

    @property
    def problem(self) -> tuple[str, int] | None:
        # Report the one that comes first in the source, which is what a
        # reader of the message looks for first.
        if not self._problems:
            return None
        line, _col, reason = min(self._problems)
        return reason, line

    def _refuse(self, node: ast.AST, reason: str) -> None:
        # End positions, because chained attributes all start at column 0.
        line = getattr(node, "end_lineno", None) or getattr(node, "lineno", 1)
        self._problems.append((line, getattr(node, "end_col_offset", None) or 0, reason))

    def visit_Import(self, node: ast.Import) -> None:
        self._refuse(node, "不允许使用 import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._refuse(node, "不允许使用 import")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._refuse(node, "不允许定义类")

    def visit_Global(self, node: ast.Global) -> None:
        self._refuse(node, "不允许使用 global")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self._refuse(node, "不允许使用 nonlocal")

    def visit_Name(self, node: ast.Name) -> None:
        self._check_name(node, node.id)

    def visit_arg(self, node: ast.arg) -> None:
        self._check_name(node, node.arg)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_name(node, node.name)
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._refuse(node, "不允许使用异步函数")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = node.attr
        if name.startswith("__"):
            self._refuse(node, f"不允许访问双下划线属性 {name}")
        elif name.startswith("_"):
            self._refuse(node, f"不允许访问以下划线开头的属性 {name}")
        elif name in INSPECT_ATTRIBUTES:
            self._refuse(node, f"不允许访问解释器内部属性 {name}")
        self.generic_visit(node)

    def _check_name(self, node: ast.AST, name: str) -> None:
        if name in _FORBIDDEN_NAMES:
            self._refuse(node, f"不允许使用 {name}")
        elif name.startswith("__"):
            self._refuse(node, f"不允许使用双下划线名称 {name}")
        elif name.startswith("_") and name != "_":
            self._refuse(node, f"不允许使用以下划线开头的名称 {name}")


def _normalize(source: str, mode: Mode) -> str:
    # Diagram XML often indents the text inside <script> or
    # <conditionExpression>; valid code is unchanged by this.
    return source.strip() if mode == "eval" else textwrap.dedent(source)


def _syntax_reason(err: SyntaxError) -> str:
    msg = err.msg or "语法无效"
    for phrase, chinese in _SYNTAX_PHRASES:
        if phrase in msg:
            return f"{chinese}（{msg}）"
    return msg


def _line(line: int | None, text: str) -> int | None:
    # A line number only helps when there is more than one line.
    return line if "\n" in text else None


@lru_cache(maxsize=2048)
def _compile(source: str, mode: Mode) -> CodeType:
    """Restricted-compile one piece of diagram code; the LRU keeps engine steps cheap."""
    text = _normalize(source, mode)
    if not text.strip():
        raise ScriptRejected("内容为空", syntax_error=True)
    try:
        return _compile_text(text, mode)
    except (RecursionError, MemoryError):
        # Python's parser and compiler give up on code nested thousands deep ("1+1+…", "((((…").
        raise ScriptRejected(_TOO_DEEP) from None


def _compile_text(text: str, mode: Mode) -> CodeType:
    try:
        tree = ast.parse(text, SCRIPT_FILENAME, mode)
    except SyntaxError as err:
        raise ScriptRejected(_syntax_reason(err), line=err.lineno, syntax_error=True) from None
    checker = _Checker()
    checker.visit(tree)
    if checker.problem is not None:
        reason, line = checker.problem
        raise ScriptRejected(reason, line=_line(line, text))
    compiler = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    try:
        result = compiler(tree, filename=SCRIPT_FILENAME, policy=_BudgetedTransformer)
    except SyntaxError as err:
        # e.g. "yield" outside a function: valid to the parser, not to the compiler.
        raise ScriptRejected(_syntax_reason(err), line=err.lineno, syntax_error=True) from None
    if result.errors or result.code is None:
        reason, line = _restricted_reason(result.errors[0] if result.errors else "")
        raise ScriptRejected(reason, line=_line(line, text))
    return result.code


class _BudgetedTransformer(RestrictingNodeTransformer):
    """RestrictedPython's rewriting, plus a budget check at the top of every `while` body.

    `for` loops and comprehensions are counted by `_getiter_`, which RestrictedPython already
    wraps around every iterable.
    """

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        tick = ast.Expr(ast.Call(func=ast.Name("_tick_", ast.Load()), args=[], keywords=[]))
        node.body.insert(0, ast.fix_missing_locations(ast.copy_location(tick, node)))
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        symbol = _SIZED_OPS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(func=ast.Name("_arith_", ast.Load()), args=[ast.Constant(symbol), node.left, node.right],
                        keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))


_SIZED_OPS: dict[type[ast.operator], str] = {ast.Pow: "**", ast.Mult: "*", ast.LShift: "<<"}


def _restricted_reason(error: str) -> tuple[str, int | None]:
    """RestrictedPython's English refusal, told in Chinese where it is a common one."""
    match = re.match(r"Line (\d+): (.*)", error)
    line, detail = (int(match.group(1)), match.group(2)) if match else (None, error)
    for pattern, chinese in _RESTRICTED_PHRASES:
        found = re.search(pattern, detail)
        if found:
            return chinese.format(*found.groups()), line
    return f"不允许的写法（{detail}）", line


def compile_cache_info() -> Any:
    """Hit/miss counts of the compiled-code cache (for diagnostics and tests)."""
    return _compile.cache_info()


def compile_for(source: str, mode: Mode, element_id: str | None, kind: str) -> CodeType:
    try:
        return _compile(source, mode)
    except ScriptRejected as err:
        raise err.at(element_id, kind) from None


def check_expression(source: str, element_id: str | None, kind: str) -> None:
    """Refuse an expression (gateway condition, timer …) that the sandbox would not run; never runs it."""
    compile_for(source, "eval", element_id, kind)


def check_script(source: str, element_id: str | None) -> None:
    """Refuse a script task's script that the sandbox would not run; never runs it."""
    compile_for(source, "exec", element_id, "脚本")


def syntax_tree(source: str, mode: Mode) -> ast.AST:
    """The tree of diagram code as the sandbox reads it (check it first: this raises SyntaxError)."""
    return ast.parse(_normalize(source, mode), SCRIPT_FILENAME, mode)


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


# Expression nodes whose run time is bounded by the size of the data they read: no calls but len(),
# no arithmetic, no loops. Such an expression is evaluated in the engine's own process.
_CHEAP_NODES = (
    ast.Expression, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.Name, ast.Constant, ast.Load, ast.Tuple, ast.List,
    ast.Subscript, ast.And, ast.Or, ast.Not, ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In,
    ast.NotIn, ast.Is, ast.IsNot,
)


@lru_cache(maxsize=2048)
def is_cheap(source: str) -> bool:
    """Whether an expression only compares values (e.g. `decision == "approve"`); check it compiles first."""
    tree = ast.parse(_normalize(source, "eval"), SCRIPT_FILENAME, "eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id == "len" and len(node.args) == 1
                    and not node.keywords):
                return False
        elif isinstance(node, ast.Subscript):
            if not isinstance(node.slice, ast.Constant):
                return False
        elif not isinstance(node, _CHEAP_NODES):
            return False
    return True
