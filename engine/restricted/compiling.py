"""Diagram code checked and compiled with RestrictedPython: what a deployment refuses, and the code objects run."""

from __future__ import annotations

import ast
import re
import textwrap
from functools import lru_cache
from types import CodeType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
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
