"""The materials checklist at the window: the item's materials as item.toml lists them, ticked by the clerk."""

from __future__ import annotations

from typing import Any

from ..errors import ValidationFailed

MAX_COPIES = 99
MAX_NOTE = 200


def materials(guide: dict[str, Any]) -> list[dict[str, Any]]:
    """The item's materials: name, required, copies (the copies the guide asks for)."""
    return [{"name": str(m["name"]), "required": bool(m.get("required")), "copies": int(m.get("copies") or 1)}
            for m in guide.get("materials", [])]


def complete(guide: dict[str, Any]) -> list[dict[str, Any]]:
    """Every material received in the copies asked for: what an API call without a checklist stands for."""
    return [{**m, "received": True, "original": False} for m in materials(guide)]


def parse(guide: dict[str, Any], raw: Any) -> list[dict[str, Any]]:
    """The clerk's ticks, one entry per material of the item in its order; a material not mentioned is not received.

    `raw` is a list of {"name", "received", "copies", "original"}; a name the item does not list is refused.
    """
    if raw is None:
        return complete(guide)
    if not isinstance(raw, list) or not all(isinstance(entry, dict) for entry in raw):
        raise ValidationFailed("材料清单应为列表，每项含 name、received、copies、original")
    listed = materials(guide)
    names = {m["name"] for m in listed}
    ticked: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for entry in raw:
        name = str(entry.get("name") or "")
        if name not in names:
            problems.append(f"本事项的申请材料中没有“{name}”")
            continue
        copies = entry.get("copies", 1)
        if entry.get("received") and (not isinstance(copies, int) or isinstance(copies, bool)
                                      or not 1 <= copies <= MAX_COPIES):
            problems.append(f"“{name}”的份数应为 1 至 {MAX_COPIES} 的整数")
        ticked[name] = entry
    if problems:
        raise ValidationFailed("材料清单有误：" + "；".join(problems), details=problems)
    rows = []
    for m in listed:
        entry = ticked.get(m["name"], {})
        received = bool(entry.get("received"))
        rows.append({"name": m["name"], "required": m["required"], "received": received,
                     "copies": int(entry.get("copies", m["copies"])) if received else 0,
                     "original": received and bool(entry.get("original"))})
    return rows


def missing(rows: list[dict[str, Any]]) -> list[str]:
    """The required materials not received, in the item's order: what the one-time notice must list, all of them."""
    return [row["name"] for row in rows if row["required"] and not row["received"]]


def notice_items(rows: list[dict[str, Any]], notes: Any) -> list[dict[str, str]]:
    """Every missing required material with the clerk's note on it (what to bring, how it must look)."""
    notes = notes if isinstance(notes, dict) else {}
    too_long = [name for name, note in notes.items() if len(str(note or "")) > MAX_NOTE]
    if too_long:
        raise ValidationFailed(f"“{'、'.join(too_long)}”的说明不能超过 {MAX_NOTE} 字")
    return [{"name": name, "note": str(notes.get(name) or "").strip()} for name in missing(rows)]


def received(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the receipt and the notice list as taken in."""
    return [{"name": row["name"], "copies": row["copies"], "original": row["original"]}
            for row in rows if row["received"]]
