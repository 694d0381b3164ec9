"""A case's whole history, or the system chain, as one JSON document with every hashed field as stored, for
verifying offline."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import clock
from ..errors import NotFound
from ..idcard import mask_id_number
from ..models import Case, CaseEvent, OrgUnit, ProcedureVersion, Role, ServiceItem, SystemChainHead, SystemEvent
from . import links, origin, system

FORMAT = "bianmin-case-history/1"
VERIFIER = Path(links.__file__)
VERIFIER_PATH = "engine/audit/links.py"
SYSTEM_FILENAME = "system-history.json"


def verify_command(filename: str) -> str:
    """What an auditor types to check an exported file with a copy of the verifier."""
    return f"python3 links.py {filename}"


def filename(case_number: str) -> str:
    """The file an export is saved as: the case number names it."""
    return f"{case_number}-history.json"


def exporter(display_name: str, username: str) -> str:
    """Who exported, as the file records it: the account's name and login."""
    return f"{display_name}（{username}）"


def case_events(session: Session, case_id: int) -> list[CaseEvent]:
    """Every stored event of a case, in the order the chain is read (seq, then row id)."""
    return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                .order_by(CaseEvent.seq, CaseEvent.id)))


def names(session: Session) -> tuple[dict[str, str], dict[int, str]]:
    """Role names by code and org unit names by id: what a recorded post (`role@org id`) is read with."""
    roles = {row.code: row.name for row in session.scalars(select(Role))}
    orgs = {row.id: row.name for row in session.scalars(select(OrgUnit))}
    return roles, orgs


def hashed_event(event: CaseEvent | SystemEvent, keys: Sequence[str] = links.CASE_KEYS,
                 optional: Sequence[str] = links.CASE_OPTIONAL) -> dict[str, Any]:
    """An event's fields exactly as its hash covers them: `at` as `links.canonical` writes it, post and address
    only when recorded (rows written before they were kept hash without them)."""
    body: dict[str, Any] = {key: getattr(event, key) for key in keys}
    body["at"] = event.at.isoformat()
    body.update({key: getattr(event, key) for key in optional if getattr(event, key) is not None})
    body["prev_hash"], body["hash"] = event.prev_hash, event.hash
    return body


def _readable(event: CaseEvent, roles: Mapping[str, str], orgs: Mapping[int, str]) -> dict[str, Any]:
    # Beside the hashed fields for people reading the file; the verifier never reads them.
    return {"at_local": event.at.astimezone(clock.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
            "post_name": origin.recorded_post_label(event.post, roles, orgs)}


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _moment(value: datetime | None) -> str | None:
    return value.astimezone(clock.SHANGHAI).isoformat() if value else None


def case_head(session: Session, case: Case, orgs: Mapping[int, str]) -> dict[str, Any]:
    """The case as it stands: number, item and version, applicant (ID number masked), place, dates, status."""
    item = session.get(ServiceItem, case.item_code)
    version = session.get(ProcedureVersion, case.version_id)
    codes = {row.id: row.code for row in session.scalars(select(OrgUnit).where(
        OrgUnit.id.in_([case.village_id, case.town_id, case.county_id])))}
    place = {level: {"code": codes.get(org_id), "name": orgs.get(org_id)}
             for level, org_id in (("county", case.county_id), ("town", case.town_id), ("village", case.village_id))}
    return {
        "case_number": case.case_number,
        "item": {"code": case.item_code, "name": item.name if item else case.item_code,
                 "version": version.version if version else None},
        "applicant": {"name": case.applicant_name, "id_number": mask_id_number(case.applicant_id_number)},
        **place,
        "accepted_at": _moment(case.accepted_at), "clock_started_at": _moment(case.clock_started_at),
        "promised_date": _day(case.promised_date), "promised_provisional": case.promised_provisional,
        "completed_at": _moment(case.completed_at), "status": case.status, "result": case.result,
    }


def verifier_digest() -> str:
    """SHA-256 of the verifier script shipped with this server: an auditor can check their copy against it."""
    return hashlib.sha256(VERIFIER.read_bytes()).hexdigest()


def document(session: Session, case_id: int, exported_by: str) -> dict[str, Any]:
    """The export of one case: its head, the chain's recorded head, every event with its hashes, and how to verify.

    Events are exported as stored, tampered or not: the file proves what the database holds, the verifier
    names what breaks.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound("办件不存在")
    roles, orgs = names(session)
    events = case_events(session, case_id)
    return {
        "format": FORMAT,
        "chain": "case",
        "case": case_head(session, case, orgs),
        "head": {"event_count": case.event_count, "last_event_hash": case.last_event_hash},
        **_taken(exported_by, filename(case.case_number)),
        "events": [hashed_event(event) | {"readable": _readable(event, roles, orgs)} for event in events],
    }


def system_document(session: Session, exported_by: str) -> dict[str, Any]:
    """The system chain's export (deployments, people and posts, sign-ins, reveals …), read back like a case's."""
    head = session.get(SystemChainHead, system.HEAD_ID)
    events = session.scalars(select(SystemEvent).order_by(SystemEvent.seq, SystemEvent.id))
    return {
        "format": FORMAT,
        "chain": "system",
        "head": {"event_count": head.event_count if head else 0,
                 "last_event_hash": head.last_event_hash if head else links.GENESIS},
        **_taken(exported_by, SYSTEM_FILENAME),
        "events": [hashed_event(event, links.SYSTEM_KEYS, ()) for event in events],
    }


def _taken(exported_by: str, name: str) -> dict[str, Any]:
    """When and by whom a file was exported, and how to verify it."""
    return {
        "exported_at": clock.local_now().isoformat(),
        "exported_by": exported_by,
        "verify": {
            "command": verify_command(name),
            "script": VERIFIER_PATH,
            "script_sha256": verifier_digest(),
            "note": (f"用便民系统源码中的 {VERIFIER_PATH}（只需 Python 3.11 及以上的标准库）核验本文件："
                     f"{verify_command(name)}。退出码 0 表示记录完好，1 表示有断裂（逐条列出断裂的记录，"
                     "按其序号及在本文件 events 中的位置），2 表示文件无法读取。"),
        },
    }


def dumps(exported: Mapping[str, Any]) -> str:
    """The export as text: UTF-8 JSON, Chinese kept readable, one field per line."""
    return json.dumps(exported, ensure_ascii=False, indent=2) + "\n"
