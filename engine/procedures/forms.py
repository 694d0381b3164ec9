"""A task's form: which diagram property names it, the comment box of a step drawn without one, and validation."""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for

from ..errors import ValidationFailed

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

TYPE_NAMES = {
    "string": "文字", "integer": "整数", "number": "数字", "boolean": "是/否",
    "object": "对象", "array": "列表", "null": "空值",
}


def task_form(forms: dict[str, Any], form_file: str | None) -> dict[str, Any]:
    """The JSON Schema a task's data answers to: the form its diagram names, or the comment box."""
    return forms[form_file] if form_file else COMMENT_FORM


def validate(schema: dict[str, Any], data: Any, form_title: str | None = None) -> dict[str, Any]:
    """Return `data` if valid; otherwise raise ValidationFailed listing every problem.

    `fields` keys each problem by the top-level property it concerns (for a missing one, its name);
    problems of the form as a whole are in `details` only.
    """
    if not isinstance(data, dict):
        raise ValidationFailed("提交的表单数据格式不正确，应为键值对象")
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
        title = form_title or schema.get("title") or "表单"
        raise ValidationFailed(f"“{title}”填写有误：" + "；".join(details), details=details, fields=fields)
    return data


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
