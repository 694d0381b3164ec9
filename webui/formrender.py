"""JSON Schema (draft-07) forms as server-rendered HTML, and posted strings back into typed JSON.

The engine validates what is submitted; this module only turns a schema into fields (titles, help,
required marks, widgets from the uischema) and turns the browser's strings into the JSON types the
schema asks for, reporting what cannot be read in Chinese, field by field.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import render_template
from markupsafe import Markup

from engine import userinput

from .i18n import t

PREFIX = "f-"
TEXTAREA_OVER = 200  # strings allowed to be longer than this get a textarea
RADIO_UP_TO = 4  # more options than this become a select
MAX_NUMBER_CHARS = 30

_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
# Thousands separators as a clerk types them (1,234.5; the full-width ， too): groups of three, dropped when read.
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Option:
    key: str  # the string the browser posts
    value: Any  # the JSON value it stands for
    label: str


@dataclass
class Field:
    name: str
    input_name: str
    title: str
    kind: str  # text, textarea, integer, number, date, radio, select, checkbox, json
    description: str = ""
    help: str = ""
    required: bool = False
    conditional: bool = False
    options: list[Option] = field(default_factory=list)
    value: str = ""
    rows: int = 4
    placeholder: str = ""
    max_length: int | None = None
    range_hint: str = ""
    errors: list[str] = field(default_factory=list)


def _type_of(prop: dict[str, Any]) -> str:
    kind = prop.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind)


def _key(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def options_of(prop: dict[str, Any]) -> list[Option]:
    """Choices from oneOf/anyOf consts with titles, or enum; booleans get 是/否 by default."""
    choices = prop.get("oneOf") or prop.get("anyOf")
    if isinstance(choices, list) and choices and all(isinstance(c, dict) and "const" in c for c in choices):
        return [Option(_key(c["const"]), c["const"], str(c.get("title", c["const"]))) for c in choices]
    if isinstance(prop.get("enum"), list):
        names = prop.get("enumNames") or []
        return [Option(_key(v), v, str(names[i]) if i < len(names) else str(v)) for i, v in enumerate(prop["enum"])]
    if _type_of(prop) == "boolean" and "const" not in prop:
        return [Option("true", True, t("yes")), Option("false", False, t("no"))]
    return []


def conditionally_required(schema: dict[str, Any]) -> set[str]:
    """Fields required only under an if/then/else (top level or inside allOf)."""
    names: set[str] = set()
    for node in [schema, *[n for n in schema.get("allOf", []) if isinstance(n, dict)]]:
        for branch in ("then", "else"):
            part = node.get(branch)
            if isinstance(part, dict):
                names.update(str(n) for n in part.get("required", []))
    return names


def _ordered(schema: dict[str, Any], ui: dict[str, Any]) -> list[str]:
    names = list(schema.get("properties", {}))
    order = ui.get("ui:order")
    if not isinstance(order, list):
        return names
    explicit = [n for n in order if n in names]
    rest = [n for n in names if n not in explicit]
    if "*" in order:
        star = order.index("*")
        before = [n for n in order[:star] if n in names]
        after = [n for n in order[star + 1:] if n in names]
        return before + rest + after
    return explicit + rest


def _range(prop: dict[str, Any]) -> str:
    parts = []
    if "exclusiveMinimum" in prop:
        parts.append(t("range_gt", v=prop["exclusiveMinimum"]))
    elif "minimum" in prop:
        parts.append(t("range_ge", v=prop["minimum"]))
    if "exclusiveMaximum" in prop:
        parts.append(t("range_lt", v=prop["exclusiveMaximum"]))
    elif "maximum" in prop:
        parts.append(t("range_le", v=prop["maximum"]))
    return t("range_hint", range=t("list_sep").join(parts)) if parts else ""


def fields(schema: dict[str, Any], ui: dict[str, Any] | None = None, raw: dict[str, str] | None = None,
           data: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
           prefix: str = PREFIX) -> list[Field]:
    """The form's fields in display order; `raw` (posted strings) wins over `data` (typed values)."""
    ui = ui or {}
    required = set(schema.get("required", []))
    conditional = conditionally_required(schema) - required
    result = []
    for name in _ordered(schema, ui):
        prop = schema["properties"][name]
        if not isinstance(prop, dict):
            continue
        hints = ui.get(name, {}) if isinstance(ui.get(name), dict) else {}
        ui_options = hints.get("ui:options", {}) if isinstance(hints.get("ui:options"), dict) else {}
        widget = hints.get("ui:widget")
        kind_of_value = _type_of(prop)
        opts = options_of(prop)
        if kind_of_value == "boolean" and prop.get("const") is True:
            kind = "checkbox"
        elif opts:
            kind = widget if widget in ("radio", "select") else ("radio" if len(opts) <= RADIO_UP_TO else "select")
        elif kind_of_value in ("integer", "number"):
            kind = kind_of_value
        elif kind_of_value == "string" and prop.get("format") == "date":
            kind = "date"
        elif kind_of_value == "string":
            long_text = prop.get("maxLength", 10**9) > TEXTAREA_OVER
            kind = "textarea" if widget == "textarea" or (widget is None and long_text) else "text"
        else:
            kind = "json"
        if raw is not None:
            value = raw.get(prefix + name, "")
        elif data is not None and name in data and data[name] is not None:
            current = data[name]
            value = json.dumps(current, ensure_ascii=False) if kind == "json" else _key(current)
        elif "default" in prop:
            value = _key(prop["default"])
        else:
            value = ""
        result.append(Field(
            name=name, input_name=prefix + name, title=str(prop.get("title", name)), kind=kind,
            description=str(prop.get("description", "")), help=str(hints.get("ui:help", "")),
            required=name in required, conditional=name in conditional, options=opts, value=value,
            rows=int(ui_options.get("rows", 4)) if str(ui_options.get("rows", "4")).isdigit() else 4,
            placeholder=str(hints.get("ui:placeholder", "")),
            max_length=prop.get("maxLength") if isinstance(prop.get("maxLength"), int) else None,
            range_hint=_range(prop) if kind in ("integer", "number") else "",
            errors=list((errors or {}).get(name, [])),
        ))
    return result


def render(schema: dict[str, Any], ui: dict[str, Any] | None = None, raw: dict[str, str] | None = None,
           data: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
           prefix: str = PREFIX) -> Markup:
    """The form's fields as HTML (without the <form> element, so a page can add its own fields)."""
    return Markup(render_template("_form_fields.html",
                                  fields=fields(schema, ui, raw, data, errors, prefix)))


# -- parsing ----------------------------------------------------------------------------------------


def _clean_number(text: str) -> str:
    # Chinese input methods produce full-width digits and signs; NFKC folds them to ASCII.
    number = "".join(unicodedata.normalize("NFKC", text).split()).replace("，", ",")
    return number.replace(",", "") if _GROUPED.fullmatch(number) else number


def parse(schema: dict[str, Any], form: Any, prefix: str = PREFIX) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed data from posted strings, and per-field messages for what could not be read.

    Empty inputs are left out, so the engine's validation reports a missing required field as such.
    Only the schema's own properties are read; anything else posted is ignored.
    """
    data: dict[str, Any] = {}
    problems: dict[str, list[str]] = {}
    for name, prop in schema.get("properties", {}).items():
        if not isinstance(prop, dict):
            continue
        raw = form.get(prefix + name)
        if raw is None:
            continue
        text = str(raw).replace("\r\n", "\n").strip()
        if text == "":
            continue
        title = str(prop.get("title", name))
        try:
            data[name] = _parse_value(prop, text, title)
        except ValueError as exc:
            problems[name] = [str(exc)]
    return data, problems


def _parse_value(prop: dict[str, Any], text: str, title: str) -> Any:
    kind = _type_of(prop)
    opts = options_of(prop)
    if kind == "boolean" and prop.get("const") is True:
        if text in ("true", "on", "1"):
            return True
        raise ValueError(t("err_choice", title=title))
    if opts:
        for option in opts:
            if option.key == text:
                return option.value
        raise ValueError(t("err_choice", title=title))
    if kind in ("integer", "number"):
        number = _clean_number(text)
        if len(number) > MAX_NUMBER_CHARS:
            raise ValueError(t("err_too_long", title=title))
        pattern = _INTEGER if kind == "integer" else _NUMBER
        if not pattern.fullmatch(number):
            raise ValueError(t(f"err_{kind}", title=title, text=shorten(text, 20)))
        return float(number) if "." in number else int(number)
    if kind == "boolean":
        raise ValueError(t("err_boolean", title=title))
    if kind == "string" and prop.get("format") == "date":
        if not _DATE.fullmatch(text):
            raise ValueError(t("err_date_format", title=title))
        try:
            date.fromisoformat(text)
        except ValueError:
            raise ValueError(t("err_date_invalid", title=title)) from None
        return text
    if kind in ("object", "array"):
        try:
            return userinput.loads(text, f"“{title}”")
        except userinput.BadInput as exc:
            raise ValueError(exc.message) from None
    return text


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# -- display ----------------------------------------------------------------------------------------


def display_value(prop: dict[str, Any] | None, value: Any) -> str:
    """A stored value as a clerk reads it: option titles, 是/否, plain numbers."""
    if value is None or value == "":
        return "—"
    if prop:
        for option in options_of(prop):
            if option.value == value and type(option.value) is type(value):
                return option.label
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "、".join(display_value(None, v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def labelled(schema: dict[str, Any] | None, data: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(title, display value) pairs in the schema's order, then any keys the schema does not know."""
    if not data:
        return []
    props = (schema or {}).get("properties", {})
    rows = [(str(props[name].get("title", name)), display_value(props[name], data[name]))
            for name in props if name in data and isinstance(props[name], dict)]
    rows += [(name, display_value(None, value)) for name, value in data.items() if name not in props]
    return rows


def attach(errors: dict[str, list[str]], fields: dict[str, list[str]]) -> None:
    """Put the engine's messages next to the fields they are keyed by; the page's summary lists them all."""
    for name, texts in fields.items():
        errors.setdefault(name, []).extend(texts)
