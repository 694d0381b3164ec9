"""The form editor's model of a task's form, and its conversion to and from JSON Schema plus UI schema."""

from __future__ import annotations

import json
import keyword
import math
import re
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for

from ..errors import ValidationFailed
from .forms import TYPE_NAMES, declared_fields, is_reserved

SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
# Field keys become variables in scripts and gateway conditions: plain ASCII identifiers only.
KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,49}")
# A form's file name under forms/, without the .schema.json.
FORM_NAME = re.compile(r"[a-z][a-z0-9_]{0,49}")
# 公民身份号码 (GB 11643-1999): 17 digits and a check character; the check digit itself is verified at intake.
ID_NUMBER_PATTERN = r"^\d{17}[\dXx]$"
# 手机号 (11 digits from 1) or 固定电话 with its area code (0 and 2–3 digits, then 7–8 digits).
PHONE_PATTERN = r"^(1\d{10}|0\d{2,3}-?\d{7,8})$"
# What `formrender` draws as a single-line input when the schema leaves the widget open.
SHORT_TEXT_UP_TO = 200
MAX_ROWS = 30
MAX_FIELDS = 100

FIELD_TYPES: dict[str, str] = {
    "text": "单行文字", "textarea": "多行文字", "number": "数字", "integer": "整数", "date": "日期",
    "yesno": "是/否", "choice": "从列表中选择", "id_number": "身份证号码", "phone": "电话号码",
    "confirm": "勾选确认", "raw": "高级字段（保持原样）",
}
YES_NO = [{"const": True, "title": "是"}, {"const": False, "title": "否"}]

# What the model keeps of a property, by field type, and of its UI hints; anything else is carried through unchanged.
_MODELLED = {"text": {"minLength", "maxLength", "pattern"}, "textarea": {"minLength", "maxLength", "pattern"},
             "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}, "date": {"format"},
             "integer": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}, "yesno": {"oneOf"},
             "choice": {"oneOf", "enum", "enumNames"}, "id_number": {"pattern"}, "phone": {"pattern"},
             "confirm": {"const"}}
_COMMON = {"type", "title", "description"}
_UI_KEYS = {"ui:widget", "ui:help", "ui:placeholder", "ui:options"}
_FORM_KEYS = {"$schema", "type", "title", "description", "properties", "required"}


class FormDesignRefused(ValidationFailed):
    """A form definition the editor cannot store; `fields` keys each message by the field's position ("" = form)."""


def _json(text: str | None, what: str) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise FormDesignRefused(f"{what}不是有效的 JSON（第 {getattr(exc, 'lineno', '?')} 行），表单编辑器无法打开") \
            from None
    if not isinstance(value, dict):
        raise FormDesignRefused(f"{what}应为 JSON 对象，表单编辑器无法打开")
    return value


def design_from_files(schema_text: str | None, ui_text: str | None) -> dict[str, Any]:
    """The editor's model of a form stored as `forms/NAME.schema.json` and `.uischema.json` (absent: an empty form)."""
    schema = _json(schema_text, "表单定义（schema.json）")
    ui = _json(ui_text, "界面定义（uischema.json）")
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise FormDesignRefused("表单定义的 properties 应为对象，表单编辑器无法打开")
    required = schema.get("required", [])
    required = set(required) if isinstance(required, list) else set()
    names = list(properties)
    order = ui.get("ui:order")
    if isinstance(order, list) and "*" not in order:
        names = [n for n in order if n in properties] + [n for n in names if n not in order]
    fields = [_field_design(name, properties[name], ui.get(name), name in required) for name in names]
    return {
        "title": str(schema.get("title", "")),
        "description": str(schema.get("description", "")),
        "fields": fields,
        "extra": {k: v for k, v in schema.items() if k not in _FORM_KEYS},
        "ui_extra": {k: v for k, v in ui.items() if k != "ui:order" and k not in properties},
        # A ui:order with "*" is the author's own arrangement, kept as written.
        "order": order if isinstance(order, list) and "*" in order else None,
    }


def _field_type(prop: dict[str, Any], widget: Any) -> str:
    kind = prop.get("type")
    choices = prop.get("oneOf")
    consts = isinstance(choices, list) and bool(choices) and all(
        isinstance(c, dict) and set(c) <= {"const", "title"} and "const" in c for c in choices)
    if kind == "boolean":
        if prop.get("const") is True and "oneOf" not in prop:
            return "confirm"
        if choices == YES_NO or ("oneOf" not in prop and "const" not in prop):
            return "yesno"
        return "raw"
    if kind == "string" and "const" not in prop:
        if "oneOf" in prop or "enum" in prop:
            if consts and all(isinstance(c["const"], str) for c in choices):
                return "choice"
            enum = prop.get("enum")
            names = prop.get("enumNames", [])
            if "oneOf" not in prop and isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum) \
                    and isinstance(names, list):
                return "choice"
            return "raw"
        if prop.get("format") == "date":
            return "date"
        if "format" in prop:
            return "raw"
        if prop.get("pattern") == ID_NUMBER_PATTERN:
            return "id_number"
        if prop.get("pattern") == PHONE_PATTERN:
            return "phone"
        long_text = not isinstance(prop.get("maxLength"), int) or prop["maxLength"] > SHORT_TEXT_UP_TO
        return "textarea" if widget == "textarea" or (widget is None and long_text) else "text"
    both_bounds = {"minimum", "exclusiveMinimum"} <= set(prop) or {"maximum", "exclusiveMaximum"} <= set(prop)
    if kind in ("number", "integer") and not {"oneOf", "enum", "const"} & set(prop) and not both_bounds:
        return str(kind)
    return "raw"


def _field_design(name: str, prop: Any, hints: Any, required: bool) -> dict[str, Any]:
    prop = prop if isinstance(prop, dict) else {}
    hints = hints if isinstance(hints, dict) else {}
    options = hints.get("ui:options") if isinstance(hints.get("ui:options"), dict) else {}
    widget = hints.get("ui:widget")
    kind = _field_type(prop, widget)
    design: dict[str, Any] = {
        "key": name, "title": str(prop.get("title", "")), "type": kind, "required": required,
        "description": str(prop.get("description", "")), "help": str(hints.get("ui:help", "")),
        "placeholder": str(hints.get("ui:placeholder", "")),
        "min": None, "max": None, "min_exclusive": False, "max_exclusive": False,
        "min_length": prop.get("minLength"), "max_length": prop.get("maxLength"),
        "pattern": prop.get("pattern", "") if kind in ("text", "textarea") else "",
        "options": [], "widget": "", "rows": None,
    }
    if kind == "raw":
        # Kept whole: the editor shows it and lets the key, required mark and order change, nothing else.
        design.update(min_length=None, max_length=None, raw=prop, ui_raw=hints)
        return design
    if kind in ("number", "integer"):
        for side, plain, strict in (("min", "minimum", "exclusiveMinimum"), ("max", "maximum", "exclusiveMaximum")):
            if strict in prop:
                design[side], design[f"{side}_exclusive"] = prop[strict], True
            elif plain in prop:
                design[side] = prop[plain]
    if kind == "choice":
        if "oneOf" in prop:
            design["options"] = [{"value": c["const"], "label": str(c.get("title", c["const"]))}
                                 for c in prop["oneOf"]]
        else:
            labels = prop.get("enumNames", [])
            design["options"] = [{"value": v, "label": str(labels[i]) if i < len(labels) else v}
                                 for i, v in enumerate(prop["enum"])]
    if kind in ("choice", "yesno") and widget in ("radio", "select"):
        design["widget"] = widget
    if kind == "textarea" and isinstance(options.get("rows"), int):
        design["rows"] = options["rows"]
    design["extra"] = {k: v for k, v in prop.items() if k not in _COMMON | _MODELLED[kind]}
    design["ui_extra"] = {k: v for k, v in hints.items() if k not in _UI_KEYS}
    if set(options) - {"rows"}:
        design["ui_extra"]["ui:options"] = {k: v for k, v in options.items() if k != "rows"}
    return design


# -- back to files ----------------------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, where: int | None, message: str) -> None:
        self.fields.setdefault("" if where is None else str(where), []).append(message)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _number(value: Any, integer: bool, what: str, where: int, problems: _Problems) -> int | float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        problems.add(where, f"{what}应为数字")
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip()) if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", value.strip()) else None
        except ValueError:
            value = None
        if value is None:
            problems.add(where, f"{what}应为数字")
            return None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        problems.add(where, f"{what}应为数字")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if integer and not isinstance(value, int):
        problems.add(where, f"{what}应为整数")
        return None
    return value


def files_from_design(design: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema and UI schema of the editor's model; every problem found is refused at once."""
    if not isinstance(design, dict) or not isinstance(design.get("fields"), list):
        raise FormDesignRefused("表单定义格式不正确：应为含有字段列表的对象")
    problems = _Problems()
    title = _text(design.get("title"))
    if not title:
        problems.add(None, "请填写表单名称")
    fields = design["fields"]
    if not fields:
        problems.add(None, "表单至少要有一个字段")
    if len(fields) > MAX_FIELDS:
        problems.add(None, f"一个表单最多 {MAX_FIELDS} 个字段")
    schema: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "type": "object", "title": title}
    if _text(design.get("description")):
        schema["description"] = _text(design.get("description"))
    properties: dict[str, Any] = {}
    required: list[str] = []
    ui: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for position, field in enumerate(fields[:MAX_FIELDS]):
        if not isinstance(field, dict):
            problems.add(position, "字段定义格式不正确")
            continue
        key = _text(field.get("key"))
        label = _text(field.get("title")) or key or f"第 {position + 1} 个字段"
        if not key:
            problems.add(position, f"“{label}”：请填写字段名")
        elif not KEY.fullmatch(key) or keyword.iskeyword(key):
            problems.add(position, f"“{label}”：字段名“{key[:50]}”无效，应以英文字母开头，只含英文字母、数字和下划线，"
                                   f"不超过 50 个字符")
        elif is_reserved(key):
            problems.add(position, f"“{label}”：字段名“{key}”是系统保留的名称（脚本可用的函数名和办件自带的数据名），"
                                   f"请改用其他字段名")
        elif key in seen:
            problems.add(position, f"“{label}”：字段名“{key}”与第 {seen[key] + 1} 个字段重复")
        else:
            seen[key] = position
        prop, hints = _field_files(position, label, field, problems)
        if key and key not in properties:
            properties[key] = prop
            if hints:
                ui[key] = hints
            if field.get("required") is True:
                required.append(key)
    schema["properties"] = properties
    if required:
        schema["required"] = required
    extra = design.get("extra") or {}
    if not isinstance(extra, dict) or _FORM_KEYS & set(extra):
        problems.add(None, "表单的附加规则格式不正确")
    else:
        schema.update(extra)
        _check_conditions(extra, set(properties), problems)
    ui_extra = design.get("ui_extra") or {}
    if isinstance(ui_extra, dict):
        ui.update({k: v for k, v in ui_extra.items() if k not in properties})
    order = design.get("order")
    ui["ui:order"] = order if isinstance(order, list) and "*" in order else list(properties)
    if not problems.fields:
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            problems.add(None, f"表单定义无效：{exc.message}")
    if problems.fields:
        messages = [m for texts in problems.fields.values() for m in texts]
        raise FormDesignRefused("表单定义有误，未保存：" + "；".join(messages), details=messages,
                                fields=problems.fields)
    return schema, ui


def _check_conditions(extra: dict[str, Any], keys: set[str], problems: _Problems) -> None:
    """A kept if/then rule must still name fields of the form: a renamed or removed field would silently drop it."""
    named = set()
    for part in ("if", "then", "else"):
        node = extra.get(part)
        if isinstance(node, dict):
            named |= declared_fields(node) | {str(n) for n in node.get("required", []) if isinstance(n, str)}
    missing = sorted(named - keys)
    if missing:
        problems.add(None, f"表单的条件规则引用了不存在的字段：{'、'.join(missing)}（请恢复这些字段名或删除条件规则）")


def _field_files(position: int, label: str, field: dict[str, Any],
                 problems: _Problems) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = field.get("type")
    if kind not in FIELD_TYPES:
        problems.add(position, f"“{label}”：请选择字段类型")
        return {}, {}
    if kind == "raw":
        raw, ui_raw = field.get("raw"), field.get("ui_raw")
        if not isinstance(raw, dict):
            problems.add(position, f"“{label}”：高级字段的定义格式不正确")
            return {}, {}
        return raw, ui_raw if isinstance(ui_raw, dict) else {}
    title = _text(field.get("title"))
    if not title:
        problems.add(position, f"第 {position + 1} 个字段：请填写中文名称")
    prop: dict[str, Any] = {"type": {"text": "string", "textarea": "string", "date": "string", "choice": "string",
                                     "id_number": "string", "phone": "string", "yesno": "boolean",
                                     "confirm": "boolean"}.get(kind, kind)}
    if kind == "confirm":
        prop["const"] = True
    prop["title"] = title
    if _text(field.get("description")):
        prop["description"] = _text(field.get("description"))
    hints: dict[str, Any] = {}
    if kind == "date":
        prop["format"] = "date"
    elif kind == "id_number":
        prop["pattern"] = ID_NUMBER_PATTERN
    elif kind == "phone":
        prop["pattern"] = PHONE_PATTERN
    elif kind == "yesno":
        prop["oneOf"] = [dict(c) for c in YES_NO]
    elif kind == "choice":
        prop["oneOf"] = _options(position, label, field.get("options"), problems)
    if kind in ("number", "integer"):
        _number_range(position, label, field, kind == "integer", prop, problems)
    if kind in ("text", "textarea"):
        _length_range(position, label, field, prop, problems)
        pattern = field.get("pattern")
        if isinstance(pattern, str) and pattern.strip():
            try:
                re.compile(pattern.strip())
            except re.error as exc:
                problems.add(position, f"“{label}”：格式规则（正则表达式）无法使用：{_regex_problem(exc.msg)}"
                                       f"{f'（第 {exc.pos + 1} 个字符）' if exc.pos is not None else ''}")
            prop["pattern"] = pattern.strip()
    extra = field.get("extra") or {}
    if isinstance(extra, dict):
        prop.update({k: v for k, v in extra.items() if k not in prop})
    widget = field.get("widget")
    if kind in ("yesno", "choice") and widget in ("radio", "select"):
        hints["ui:widget"] = widget
    if kind == "textarea":
        hints["ui:widget"] = "textarea"
        rows = _number(field.get("rows"), True, f"“{label}”的显示行数", position, problems)
        if rows is not None and not 1 <= rows <= MAX_ROWS:
            problems.add(position, f"“{label}”：显示行数应在 1 到 {MAX_ROWS} 之间")
        elif rows is not None:
            hints["ui:options"] = {"rows": rows}
    elif kind == "text" and not (isinstance(prop.get("maxLength"), int) and prop["maxLength"] <= SHORT_TEXT_UP_TO):
        # Without a short maxLength the renderer would choose a textarea; the author asked for one line.
        hints["ui:widget"] = "text"
    for key, ui_key in (("help", "ui:help"), ("placeholder", "ui:placeholder")):
        if _text(field.get(key)):
            hints[ui_key] = _text(field.get(key))
    ui_extra = field.get("ui_extra") or {}
    if isinstance(ui_extra, dict):
        for k, v in ui_extra.items():
            if k == "ui:options" and isinstance(v, dict):
                hints["ui:options"] = {**v, **hints.get("ui:options", {})}
            elif k not in hints:
                hints[k] = v
    return prop, hints


# Python's words for the usual slips in a regular expression, for administrators who read Chinese.
_REGEX_PROBLEMS = {
    "unterminated character set": "方括号 [ ] 没有闭合",
    "missing ), unterminated subpattern": "圆括号 ( ) 没有闭合",
    "unbalanced parenthesis": "多了一个右圆括号 )",
    "nothing to repeat": "重复符号（* + ? {}）前面没有内容",
    "multiple repeat": "重复符号连用",
    "bad character range": "字符范围的起止顺序不对",
}


def _regex_problem(message: str) -> str:
    if message.startswith("bad escape"):
        return f"无效的转义 {message.removeprefix('bad escape').strip()}"
    return _REGEX_PROBLEMS.get(message, message)


def _options(position: int, label: str, options: Any, problems: _Problems) -> list[dict[str, Any]]:
    if not isinstance(options, list) or not options:
        problems.add(position, f"“{label}”：请至少添加一个选项")
        return []
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, option in enumerate(options, start=1):
        value = _text(option.get("value")) if isinstance(option, dict) else ""
        text = _text(option.get("label")) if isinstance(option, dict) else ""
        if not value or not text:
            problems.add(position, f"“{label}”：第 {number} 个选项的取值和显示文字都要填写")
        elif value in seen:
            problems.add(position, f"“{label}”：选项取值“{value}”重复")
        else:
            seen.add(value)
            result.append({"const": value, "title": text})
    return result


def _number_range(position: int, label: str, field: dict[str, Any], integer: bool, prop: dict[str, Any],
                  problems: _Problems) -> None:
    kind = TYPE_NAMES["integer" if integer else "number"]
    low = _number(field.get("min"), integer, f"“{label}”的最小值", position, problems)
    high = _number(field.get("max"), integer, f"“{label}”的最大值", position, problems)
    if low is not None and high is not None and (low > high or (
            low == high and (field.get("min_exclusive") is True or field.get("max_exclusive") is True))):
        problems.add(position, f"“{label}”：最小值 {low} 大于最大值 {high}，没有{kind}能填")
    if low is not None:
        prop["exclusiveMinimum" if field.get("min_exclusive") is True else "minimum"] = low
    if high is not None:
        prop["exclusiveMaximum" if field.get("max_exclusive") is True else "maximum"] = high


def _length_range(position: int, label: str, field: dict[str, Any], prop: dict[str, Any],
                  problems: _Problems) -> None:
    low = _number(field.get("min_length"), True, f"“{label}”的最少字数", position, problems)
    high = _number(field.get("max_length"), True, f"“{label}”的最多字数", position, problems)
    for value, what in ((low, "最少字数"), (high, "最多字数")):
        if value is not None and value < 0:
            problems.add(position, f"“{label}”：{what}不能小于 0")
    if low is not None and high is not None and low > high:
        problems.add(position, f"“{label}”：最少字数 {low} 大于最多字数 {high}")
    if high == 0:
        problems.add(position, f"“{label}”：最多字数为 0，什么也填不了")
    if low is not None:
        prop["minLength"] = low
    if high is not None:
        prop["maxLength"] = high


def form_paths(name: str) -> tuple[str, str]:
    """Where a procedure folder (and a draft) keeps the form's JSON Schema and UI schema."""
    return f"forms/{name}.schema.json", f"forms/{name}.uischema.json"


def file_texts(name: str, schema: dict[str, Any], ui: dict[str, Any]) -> dict[str, str]:
    """The two files' texts, as the shipped forms are written."""
    schema_path, ui_path = form_paths(name)
    return {schema_path: json.dumps(schema, ensure_ascii=False, indent=2) + "\n",
            ui_path: json.dumps(ui, ensure_ascii=False, indent=2) + "\n"}
