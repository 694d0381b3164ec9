"""A task's form: which diagram property names it, the comment box of a step drawn without one, the fields it
declares and validation (only declared, unreserved fields are ever stored)."""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for

from ..errors import UndeclaredFields, ValidationFailed
from ..sandbox import PROVIDED_NAMES
from .spiff import CASE_DATA_NAMES

# spiff-arena's user task properties naming the JSON Schema and UI schema files of the task's form.
FORM_PROPERTY = "formJsonSchemaFilename"
UI_FORM_PROPERTY = "formUiSchemaFilename"
COMMENT_FIELD = "comment"
COMMENT_MAX_LENGTH = 500
# A step drawn without a form (spiff-arena allows it) shows its instructions, and the clerk may note an opinion.
COMMENT_FORM: dict[str, Any] = {
    "type": "object",
    "properties": {COMMENT_FIELD: {"type": "string", "title": "办理意见", "maxLength": COMMENT_MAX_LENGTH}},
    "additionalProperties": False,
}

# What an application of a procedure without an application form may carry: nothing.
NO_FIELDS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}
# Subschemas that describe the same object as the form itself, so the properties they list are its fields too.
_SAME_OBJECT = ("allOf", "anyOf", "oneOf", "if", "then", "else")
# How many refused names a message lists, and how much of each: the names come from the request.
_LISTED_NAMES, _NAME_CHARS = 10, 40

TYPE_NAMES = {
    "string": "文字", "integer": "整数", "number": "数字", "boolean": "是/否",
    "object": "对象", "array": "列表", "null": "空值",
}


def task_form(forms: dict[str, Any], form_file: str | None) -> dict[str, Any]:
    """The JSON Schema a task's data answers to: the form its diagram names, or the comment box."""
    return forms[form_file] if form_file else COMMENT_FORM


def is_reserved(name: str) -> bool:
    """A name no form may declare or submit: private to Python, given to scripts by the sandbox, or the case's own."""
    return name.startswith("_") or name in PROVIDED_NAMES or name in CASE_DATA_NAMES


def declared_fields(schema: Any) -> set[str]:
    """The top-level fields a form declares, also those its conditions and dependencies add (rjsf draws them)."""
    if not isinstance(schema, dict):
        return set()
    properties = schema.get("properties")
    found = {str(name) for name in properties} if isinstance(properties, dict) else set()
    for key in _SAME_OBJECT:
        parts = schema.get(key)
        for part in parts if isinstance(parts, list) else [parts]:
            found |= declared_fields(part)
    dependencies = schema.get("dependencies")
    if isinstance(dependencies, dict):
        found |= set().union(*(declared_fields(part) for part in dependencies.values()))
    return found


def validate(schema: dict[str, Any], data: Any, form_title: str | None = None) -> dict[str, Any]:
    """Return `data` if valid; otherwise raise ValidationFailed listing every problem.

    Fields the form does not declare and reserved names are refused first (UndeclaredFields, 400), so only
    declared data is ever stored. `fields` keys each problem by the top-level property it concerns (for a
    missing one, its name); problems of the form as a whole are in `details` only.
    """
    if not isinstance(data, dict):
        raise ValidationFailed("提交的表单数据格式不正确，应为键值对象")
    title = form_title or schema.get("title") or "表单"
    _refuse_undeclared(schema, data, title)
    validator = validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        details: list[str] = []
        fields: dict[str, list[str]] = {}
        for error in errors:
            path = _path(error)
            message = _message(schema, error, path)
            details.append(message)
            if path and isinstance(path[0], str):
                fields.setdefault(path[0], []).append(message)
        raise ValidationFailed(f"“{title}”填写有误：" + "；".join(details), details=details, fields=fields)
    return data


def _refuse_undeclared(schema: dict[str, Any], data: dict[str, Any], title: str) -> None:
    declared = declared_fields(schema)
    reserved = [name for name in data if is_reserved(name)]
    undeclared = [name for name in data if name not in declared and not is_reserved(name)]
    if not reserved and not undeclared:
        return
    details: list[str] = []
    fields: dict[str, list[str]] = {}
    for names, message in ((reserved, "是系统保留的名称，不能由表单提交"),
                           (undeclared, f"不是“{title}”中的字段，不能提交")):
        if names:
            listed = "、".join(f"“{_shown(name)}”" for name in names[:_LISTED_NAMES])
            more = f"等 {len(names)} 个字段" if len(names) > _LISTED_NAMES else ""
            details.append(f"{listed}{more}{message}")
            fields.update({_shown(name): [message] for name in names[:_LISTED_NAMES]})
    raise UndeclaredFields(f"提交的数据含有表单未定义的字段，未作任何保存：{'；'.join(details)}。"
                           "请只提交表单中的字段", details=details, fields=fields)


def _shown(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[:_NAME_CHARS] + "…"


def _path(error: ValidationError) -> list[Any]:
    """Where the error is; a `required` error is placed at the property that is missing."""
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.validator_value, list):
        # jsonschema names the missing property only in its message, which starts with the name's repr.
        missing = next((name for name in error.validator_value if error.message.startswith(repr(name))), None)
        if missing is not None:
            path.append(missing)
    return path


def _field_title(schema: dict[str, Any], path: list[Any]) -> str:
    node: Any = schema
    title = ""
    for part in path:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get("properties", {}).get(part, {})
            title = node.get("title", part) if isinstance(node, dict) else part
        elif isinstance(node, dict):
            node = node.get("items", {})
    return title or "表单"


def _message(schema: dict[str, Any], error: ValidationError, path: list[Any]) -> str:
    field = _field_title(schema, path)
    kind, value = error.validator, error.validator_value
    if kind == "required":
        return f"“{field}”为必填项"
    if kind == "type":
        expected = value if isinstance(value, list) else [value]
        return f"“{field}”应填写{'或'.join(TYPE_NAMES.get(t, t) for t in expected)}"
    if kind == "minLength":
        return f"“{field}”至少填写 {value} 个字"
    if kind == "maxLength":
        return f"“{field}”最多填写 {value} 个字"
    if kind in ("minimum", "exclusiveMinimum"):
        return f"“{field}”不能小于{'或等于' if kind == 'exclusiveMinimum' else ''} {value}"
    if kind in ("maximum", "exclusiveMaximum"):
        return f"“{field}”不能大于{'或等于' if kind == 'exclusiveMaximum' else ''} {value}"
    if kind in ("enum", "const", "oneOf", "anyOf"):
        return f"“{field}”的取值不在可选范围内"
    if kind == "pattern":
        return f"“{field}”的格式不正确"
    if kind == "format":
        return f"“{field}”不是有效的{value}格式"
    if kind == "additionalProperties":
        return "表单中含有未定义的字段"
    return f"“{field}”填写有误"
