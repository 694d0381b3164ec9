"""Test and benchmark helpers: fill a task's JSON Schema form the way a clerk would."""

from __future__ import annotations

from datetime import date
from typing import Any

from engine.idcard import generate_id_number

_serial = iter(range(1, 10**6))


def applicant(village_code: str = "510123101201", born: date = date(1962, 4, 9)) -> dict[str, str]:
    return {"name": "王秀兰", "id_number": generate_id_number(village_code[:6], born, next(_serial) % 999 + 1),
            "phone": "13912345678"}


def fill(schema: dict[str, Any], decision: str = "approve") -> dict[str, Any]:
    """Valid data for every field of `schema`; `*_decision` fields get `decision`."""
    data: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        data[name] = _value(name, prop, decision)
    return data


def _value(name: str, prop: dict[str, Any], decision: str) -> Any:
    if name.endswith("decision"):
        options = [o.get("const") for o in prop.get("oneOf", [])] or prop.get("enum", [])
        wanted = {"approve": ("approve", "accept", "agree"), "reject": ("reject", "refuse", "disagree")}
        for option in options:
            if option in wanted.get(decision, ()):
                return option
        return options[0]
    if "const" in prop:
        return prop["const"]
    if prop.get("oneOf"):
        return prop["oneOf"][0]["const"]
    if prop.get("enum"):
        return prop["enum"][0]
    kind = prop.get("type")
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        low = prop.get("minimum", 0)
        high = prop.get("maximum", low + 100)
        return max(low, min(high, 1 if kind == "integer" else 1.0)) if low <= 1 else low
    if kind == "string":
        if prop.get("format") == "date":
            return "2026-03-02"
        text = "经核查，情况属实，材料齐全"
        return (text * 10)[: max(prop.get("minLength", 0), min(len(text), prop.get("maxLength", len(text))))]
    if kind == "array":
        return []
    return None
