"""Checks between fields that a form declares under its "x-checks" keyword: one value not above another (an approved
area not above the applied one, which may sit in an earlier form), an area within a per-person standard for the
household's size (宅基地), and the applicant's age from the birth date in their ID number against the bounds of the
item's conditions. Read here for deploying (each bad declaration named)
and for every submission."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..errors import ValidationFailed
from ..idcard import age_on, birth_date

KEYWORD = "x-checks"
NOT_ABOVE, AGE, AREA = "not_above", "age", "area_per_person"
# The keys each kind of check takes; the first ones named are required.
KEYS = {NOT_ABOVE: ({"check", "field", "limit"}, set()),
        AGE: ({"check", "basis"}, {"min", "below", "when"}),
        # A provincial standard such as 四川 §52: `per_person` m² a person, a household counted as at least
        # `counted_from` and at most `counted_to` people.
        AREA: ({"check", "field", "persons", "per_person", "basis"}, {"counted_from", "counted_to"})}
ID_TITLE = "身份证号码"


@dataclass(frozen=True)
class Context:
    """What a submission is checked against beside its own fields: the case's data so far, the applicant's ID
    number, the day, and every field title of the procedure's forms (a limit may be in an earlier form)."""

    earlier: Mapping[str, Any]
    id_number: str | None
    today: date
    titles: Mapping[str, str]


def titles(forms: Mapping[str, Any]) -> dict[str, str]:
    """Field name → title over every form of a procedure."""
    found: dict[str, str] = {}
    for schema in forms.values():
        properties = schema.get("properties") if isinstance(schema, dict) else None
        for name, prop in (properties or {}).items():
            if isinstance(prop, dict) and isinstance(prop.get("title"), str):
                found.setdefault(name, prop["title"])
    return found


def _declared(schema: Any) -> list[Any]:
    checks = schema.get(KEYWORD, []) if isinstance(schema, dict) else []
    return checks if isinstance(checks, list) else [checks]


def declaration_problems(forms: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(form name, message) for every x-checks entry a procedure's forms get wrong."""
    every_field = {name for schema in forms.values() if isinstance(schema, dict)
                   for name in (schema.get("properties") or {})}
    problems: list[tuple[str, str]] = []
    for form, schema in forms.items():
        own = set((schema.get("properties") or {}) if isinstance(schema, dict) else ())
        for index, check in enumerate(_declared(schema), start=1):
            where = f"{KEYWORD} 第 {index} 项"
            problems += [(form, f"{where}：{message}") for message in _problems(check, own, every_field)]
    return problems


def _problems(check: Any, own: set[str], every_field: set[str]) -> list[str]:
    if not isinstance(check, dict) or check.get("check") not in KEYS:
        return [f"应为对象，check 为 {NOT_ABOVE}（不大于）、{AREA}（按人口核定面积）或 {AGE}（按身份证号码核对年龄）"]
    required, optional = KEYS[check["check"]]
    problems = [f"缺少 {key}" for key in sorted(required - set(check))]
    problems += [f"不认识的键 {key}（可用：{'、'.join(sorted(required | optional))}）"
                 for key in sorted(set(check) - required - optional)]
    if "field" in required and "field" in check and check["field"] not in own:
        problems.append(f"field“{check['field']}”不是本表单的字段")
    if check["check"] == NOT_ABOVE:
        if "limit" in check and check["limit"] not in every_field:
            problems.append(f"limit“{check['limit']}”不是本流程任何表单的字段")
        return problems
    if check["check"] == AREA:
        return problems + _area_problems(check, every_field)
    bounds = [check.get(key) for key in ("min", "below") if key in check]
    if not bounds:
        problems.append("至少写明 min（年满周岁）或 below（不满周岁）之一")
    if any(not isinstance(bound, int) or isinstance(bound, bool) or not 0 <= bound <= 150 for bound in bounds):
        problems.append("min、below 应为 0 到 150 的整数（周岁）")
    if not isinstance(check.get("basis", ""), str) or not str(check.get("basis", "")).strip():
        problems.append("basis 应写明年龄要求的依据（事项的申请条件或法律条文）")
    when = check.get("when", {})
    if not isinstance(when, dict):
        problems.append("when 应为对象：字段名 → 取值")
    else:
        problems += [f"when 中的“{name}”不是本表单的字段" for name in when if name not in own]
    return problems


def _area_problems(check: Mapping[str, Any], every_field: set[str]) -> list[str]:
    problems = []
    if "persons" in check and check["persons"] not in every_field:
        problems.append(f"persons“{check['persons']}”不是本流程任何表单的字段")
    if "per_person" in check and not (_number(check["per_person"]) or 0) > 0:
        problems.append("per_person 应为正数（每人平方米数）")
    counted = [check.get(key) for key in ("counted_from", "counted_to") if key in check]
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 1 for n in counted):
        problems.append("counted_from、counted_to 应为正整数（按多少人计算）")
    elif len(counted) == 2 and counted[0] > counted[1]:
        problems.append("counted_from 不能大于 counted_to")
    if not isinstance(check.get("basis", ""), str) or not str(check.get("basis", "")).strip():
        problems.append("basis 应写明面积标准的依据（省级规定的条文）")
    return problems


def _area_problem(check: Mapping[str, Any], data: Mapping[str, Any], context: Context) -> str | None:
    """The area above the standard for the household's counted size, or None (also when a value is missing)."""
    field, persons = str(check.get("field")), str(check.get("persons"))
    value = _number(data.get(field))
    people = _number(data[persons] if persons in data else context.earlier.get(persons))
    if value is None or people is None:
        return None
    counted = max(int(people), int(check.get("counted_from", 1)))
    counted = min(counted, int(check.get("counted_to", counted)))
    limit = float(check["per_person"]) * counted
    if value <= limit:
        return None
    return (f"“{context.titles.get(field, field)}”（{value:g}）超过标准：“{context.titles.get(persons, persons)}”"
            f"{int(people)} 人，按 {counted} 人计算，每人不超过 {float(check['per_person']):g} 平方米，"
            f"合计不超过 {limit:g} 平方米（依据：{check['basis']}）")


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def findings(schema: Mapping[str, Any], data: Mapping[str, Any], context: Context) -> dict[str, list[str]]:
    """Messages keyed by the submitted field each check concerns; a check whose values are missing is skipped (the
    form's own `required` speaks for them)."""
    found: dict[str, list[str]] = {}
    properties = schema.get("properties") or {}
    for check in _declared(schema):
        if not isinstance(check, dict):
            continue
        if check.get("check") == NOT_ABOVE:
            field, limit = str(check.get("field")), str(check.get("limit"))
            value = _number(data.get(field))
            bound = _number(data[limit] if limit in data else context.earlier.get(limit))
            if value is not None and bound is not None and value > bound:
                found.setdefault(field, []).append(
                    f"“{context.titles.get(field, field)}”（{value:g}）不能大于“{context.titles.get(limit, limit)}”"
                    f"（{bound:g}）")
        elif check.get("check") == AREA:
            message = _area_problem(check, data, context)
            if message:
                found.setdefault(str(check.get("field")), []).append(message)
        elif check.get("check") == AGE and context.id_number:
            when = check.get("when") or {}
            if not all(data.get(name) == value for name, value in when.items()):
                continue
            message = _age_problem(check, when, properties, context)
            if message:
                found.setdefault(next(iter(when), "applicant_id_number"), []).append(message)
    return found


def _age_problem(check: Mapping[str, Any], when: Mapping[str, Any], properties: Mapping[str, Any],
                 context: Context) -> str | None:
    born = birth_date(str(context.id_number))
    age = age_on(born, context.today)
    lowest, below = check.get("min"), check.get("below")
    if (lowest is None or age >= lowest) and (below is None or age < below):
        return None
    wanted = f"年满 {lowest} 周岁" if lowest is not None and age < lowest else f"不满 {below} 周岁"
    chosen = "，".join(f"“{context.titles.get(name, name)}”为“{_option_title(properties.get(name), value)}”"
                      for name, value in when.items())
    return (f"{chosen + '时，' if chosen else ''}申请人须{wanted}：按“{ID_TITLE}”中的出生日期 {born.isoformat()}，"
            f"申请人在 {context.today.isoformat()} 为 {age} 周岁（依据：{check['basis']}）")


def _option_title(prop: Any, value: Any) -> str:
    options = prop.get("oneOf", []) if isinstance(prop, dict) else []
    return next((str(o.get("title", value)) for o in options if isinstance(o, dict) and o.get("const") == value),
                str(value))


def enforce(schema: Mapping[str, Any], data: Mapping[str, Any], context: Context, form_title: str) -> None:
    """Raise ValidationFailed naming both fields of every check the submission breaks."""
    found = findings(schema, data, context)
    if found:
        details = [message for texts in found.values() for message in texts]
        raise ValidationFailed(f"“{form_title}”填写有误：" + "；".join(details), details=details, fields=found)
