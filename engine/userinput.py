"""What may come in from outside (forms, query strings, API bodies, procedure files): storable text, bounded JSON."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .errors import BianminError

# Deeper than any form or API body needs; far below where Python's recursion would give out.
MAX_JSON_DEPTH = 32
# NUL cannot be stored in PostgreSQL text; a lone surrogate cannot be encoded as UTF-8 at all.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class BadInput(BianminError):
    """The request carries something no field may hold; nothing was read from it."""

    status = 400


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, in words for the person who sent it; None when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "含有空字符（U+0000）"
    return f"含有无法识别的字符（孤立的代理码位 U+{ord(found.group()):04X}，不是有效的 Unicode 文字）"


def check_text(text: str, where: str) -> None:
    problem = text_problem(text)
    if problem:
        raise BadInput(f"{where}{problem}，请删除后重新提交", details=[f"{where}{problem}"])


def check_value(value: Any, where: str) -> None:
    """Every key and text in a JSON value storable, numbers finite, nesting at most MAX_JSON_DEPTH deep."""
    pending: list[tuple[Any, str, int]] = [(value, "", 0)]
    while pending:
        item, path, depth = pending.pop()
        place = (f"{where}中的 {path} " if where else f"{path} ") if path else where
        if isinstance(item, str):
            check_text(item, place)
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadInput(f"{place}不是有限的数（NaN、Infinity 不能保存）")
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise BadInput(f"{where}嵌套过深：对象和数组最多嵌套 {MAX_JSON_DEPTH} 层")
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in entries:
                if isinstance(key, str):
                    check_text(key, f"{place}的字段名")
                name = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
                pending.append((inner, name.lstrip("."), depth + 1))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} 不是 JSON 中允许的数")


def loads(raw: bytes | str, where: str) -> Any:
    """Parse JSON that `check_value` accepts; BadInput says what is wrong (syntax, depth, NaN, characters)."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadInput(f"{where}嵌套过深：对象和数组最多嵌套 {MAX_JSON_DEPTH} 层") from None
    except UnicodeDecodeError:
        raise BadInput(f"{where}不是 UTF-8 编码的 JSON") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where}不是合法的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）") from None
    except ValueError as exc:
        raise BadInput(f"{where}不是合法的 JSON：{exc}") from None
    check_value(value, where)
    return value
