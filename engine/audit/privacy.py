"""Personal data in case data: which values are ID or phone numbers, masking them, and the logged reveal of one.

个人信息保护法 §6 (minimum necessary: processing limited to the smallest scope the purpose needs) and §51 (access
control and security measures for personal information): ID and phone numbers are shown in clear only to those who
handle the case (`access.handles_case`); anyone else sees them masked and must reveal one on purpose, with a reason,
which is written to `data_reveal` and to the system chain in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..errors import Forbidden, NotFound, ValidationFailed
from ..idcard import mask_id_number
from ..models import Case, CaseEvent, DataReveal, Task
from ..people import access
from ..vocabulary import EventKind, SystemEventKind
from . import origin, system

ID_NUMBER, PHONE = "id_number", "phone"
# The form editor's patterns for its 身份证号码 and 电话号码 field types (engine/procedures/formdesign.py).
_ID_PATTERNS = {r"^\d{17}[\dXx]$"}
_PHONE_PATTERNS = {r"^(1\d{10}|0\d{2,3}-?\d{7,8})$"}
_ID_NAMES = re.compile(r"(id_?(number|no|card)|idcard|身份证|证件号)", re.IGNORECASE)
_PHONE_NAMES = re.compile(r"(phone|mobile|(^|_)tel(ephone)?($|_)|电话|手机)", re.IGNORECASE)
# Numbers inside free text (a 申请理由 that quotes a relative's number): not part of a longer run of digits.
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")

# Why a reveal is made (the user picks one; 其他 needs words of its own).
REASONS = ("核实身份", "办理需要", "审计核查", "信访/投诉处理", "其他")
OTHER = "其他"
MAX_NOTE_CHARS = 200
# The case's own columns a reveal may name, beside paths into the application form ("application.<key>[.<i>…]").
APPLICANT_FIELDS = {"applicant_id_number": ID_NUMBER, "applicant_phone": PHONE}
APPLICATION_PREFIX = "application."
# The export file carries every event as hashed, numbers in clear (masking would break the hashes): taking it away
# is a reveal of the whole history.
HISTORY = "history"


def mask_phone(value: str) -> str:
    """138****5678 for a mobile; a landline keeps its area code and last four digits (0831-****5678)."""
    text = "".join(str(value).split())
    landline = _LANDLINE.match(text)
    if landline:
        area, dash, number = text.partition("-")
        if not dash:
            # 010 and 02x are the three-digit area codes; every other one has four digits.
            cut = 3 if text[1] in "12" else 4
            area, number = text[:cut], text[cut:]
        return f"{area}-{'*' * (len(number) - 4)}{number[-4:]}"
    if len(text) > 7:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return "*" * len(text)


def _kind_by_schema(field_name: str, prop: Mapping[str, Any] | None) -> str | None:
    prop = prop or {}
    shape = str(prop.get("format", "")).lower()
    if prop.get("pattern") in _ID_PATTERNS or shape in ("id-number", "id_number", "idcard"):
        return ID_NUMBER
    if prop.get("pattern") in _PHONE_PATTERNS or shape in ("phone", "tel", "mobile"):
        return PHONE
    for text in (field_name, str(prop.get("title", ""))):
        if _ID_NAMES.search(text):
            return ID_NUMBER
        if _PHONE_NAMES.search(text):
            return PHONE
    return None


def kind_of(field_name: str, value: Any, schema: Mapping[str, Any] | None = None) -> str | None:
    """ID_NUMBER, PHONE or None: by the field's schema (pattern, format, title), its name, then the value's shape."""
    found = _kind_by_schema(field_name, schema)
    if found or not isinstance(value, str):
        return found
    text = "".join(value.split())
    if _ID_IN_TEXT.fullmatch(text):
        return ID_NUMBER
    if _MOBILE_IN_TEXT.fullmatch(text) or _LANDLINE.match(text):
        return PHONE
    return None


def mask_text(text: str) -> str:
    """Free text with every ID or mobile number in it masked."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)


def mask_value(field_name: str, value: Any, schema: Mapping[str, Any] | None = None) -> Any:
    """The value as someone who does not handle the case sees it; `schema` is the field's JSON schema."""
    if isinstance(value, list):
        items = (schema or {}).get("items")
        return [mask_value(field_name, item, items if isinstance(items, Mapping) else None) for item in value]
    if isinstance(value, Mapping):
        return mask_data(value, schema)
    if not isinstance(value, str) or not value:
        return value
    kind = kind_of(field_name, value, schema)
    if kind == ID_NUMBER:
        return mask_id_number(value)
    if kind == PHONE:
        return mask_phone(value)
    return mask_text(value)


def mask_data(data: Mapping[str, Any] | None, schema: Mapping[str, Any] | None = None) -> Any:
    """Case data (a form's answers, household members …) with personal numbers masked; `schema` an object schema."""
    if not isinstance(data, Mapping):
        return data
    props = (schema or {}).get("properties")
    props = props if isinstance(props, Mapping) else {}
    return {key: mask_value(key, value, props.get(key) if isinstance(props.get(key), Mapping) else None)
            for key, value in data.items()}


def handles(session: Session, user: access.Staff, case_id: int) -> bool:
    """`access.handles_case` for one case, reading who accepted it and the posts and people of its steps."""
    return case_id in handled_among(session, user, [case_id])


def handled_among(session: Session, user: access.Staff, case_ids: Collection[int]) -> set[int]:
    """Which of the cases the user handles (`access.handles_case`), read for all of them in two queries."""
    accepted_by = {row.id: row.started_by_id
                   for row in session.execute(select(Case.id, Case.started_by_id).where(Case.id.in_(case_ids)))}
    posts: dict[int, list[tuple[str, int]]] = {case_id: [] for case_id in accepted_by}
    people: dict[int, set[int]] = {case_id: set() for case_id in accepted_by}
    for row in session.execute(select(Task.case_id, Task.role_code, Task.org_id, Task.assignee_id,
                                      Task.completed_by_id).where(Task.case_id.in_(case_ids))):
        posts[row.case_id].append((row.role_code, row.org_id))
        people[row.case_id] |= {person for person in (row.assignee_id, row.completed_by_id) if person is not None}
    return {case_id for case_id, started_by in accepted_by.items()
            if access.handles_case(user, started_by, posts[case_id], people[case_id])}


class Revealer(access.Staff, Protocol):
    display_name: str


@dataclass(frozen=True)
class Revealed:
    field: str
    value: Any
    kind: str | None


def reveal(session: Session, user: Revealer, case_id: int, field: str, reason: str, note: str = "",
           address: str | None = None) -> Revealed:
    """Show one personal value of a case in clear, logged with who, post, why, when and from where."""
    reason, note = (reason or "").strip(), (note or "").strip()
    if reason not in REASONS:
        raise ValidationFailed("请选择查看理由：" + "、".join(REASONS), fields={"reason": ["请选择查看理由"]})
    if reason == OTHER and not note:
        raise ValidationFailed("选择“其他”时须填写具体理由", fields={"note": ["请填写具体理由"]})
    if len(note) > MAX_NOTE_CHARS:
        raise ValidationFailed(f"具体理由不能超过 {MAX_NOTE_CHARS} 字", fields={"note": ["理由过长"]})
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("办件不存在")
    if not access.may_see_case(user, case):
        raise Forbidden("该办件不在您的辖区内，不能查看其个人信息")
    value, kind = _value(session, case, field)
    now: datetime = clock.now()
    post = f"{user.role_code}@{user.org_id}"
    address = address if address is not None else origin.of(user)["address"]
    session.add(DataReveal(user_id=user.id, post=post, case_id=case.id, field=field, reason=reason,
                           note=note or None, at=now, address=address))
    system.append(session, SystemEventKind.DATA_REVEALED, user, now, case.case_number,
                  after={"field": field, "reason": reason, **({"note": note} if note else {}), "post": post,
                         "address": address})
    return Revealed(field, value, kind)


def _value(session: Session, case: Case, field: str) -> tuple[Any, str | None]:
    if field == HISTORY:
        return None, None
    if field in APPLICANT_FIELDS:
        return getattr(case, field), APPLICANT_FIELDS[field]
    if field.startswith(APPLICATION_PREFIX):
        after = session.scalar(select(CaseEvent.after).where(CaseEvent.case_id == case.id,
                                                             CaseEvent.kind == EventKind.CASE_STARTED))
        value: Any = (after or {}).get("data") or {}
        path = field[len(APPLICATION_PREFIX):].split(".")
        for part in path:
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                break
        else:
            kind = kind_of(path[-1], value)
            if kind is not None:
                return value, kind
    raise NotFound(f"办件中没有可查看的个人信息“{field}”")
