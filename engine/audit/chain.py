"""The case history: append-only events, each hashed together with the previous one of its case."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db import queue_update, queue_write
from ..models import Case, CaseEvent
from . import links, origin
from .links import GENESIS, Finding
from .links import Break as Break  # what callers compare findings with

HASHED, OPTIONAL = links.CASE_KEYS, links.CASE_OPTIONAL


class Acting(Protocol):
    """Whoever acts on a case: a staff account (or the runtime's record of one)."""

    id: int
    display_name: str


def canonical(event: dict[str, Any]) -> str:
    """The text of a case event that its hash covers (after the previous event's hash)."""
    return links.canonical(event, HASHED, OPTIONAL)


def _digest(prev_hash: str, event: dict[str, Any]) -> str:
    return links.digest(prev_hash, event, HASHED, OPTIONAL)


def append(
    session: Session, case: Case, kind: str, actor: Acting | None, at: datetime, *,
    task_id: str | None = None, step: str | None = None,
    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> None:
    """Append one event; the caller holds the case lock, so the chain cannot fork."""
    seq, prev_hash = case.event_count + 1, case.last_event_hash
    event: dict[str, Any] = {
        "case_id": case.id, "seq": seq, "at": at, "actor_id": actor.id if actor else None,
        "actor_name": actor.display_name if actor else "系统", "kind": kind, "task_id": task_id, "step": step,
        "before": before, "after": after, "prev_hash": prev_hash, **origin.of(actor),
    }
    event["hash"] = _digest(prev_hash, event)
    queue_write(session, _INSERT, event, last=True)
    # The case row keeps the head of its chain, so the next append needs no read of the log.
    queue_update(session, Case.__table__, case.id, event_count=seq, last_event_hash=event["hash"])
    set_committed_value(case, "event_count", seq)
    set_committed_value(case, "last_event_hash", event["hash"])


_INSERT = insert(CaseEvent.__table__).inline()  # queued writes never read back a generated id


def verify(session: Session, case_id: int) -> list[Finding]:
    """Re-hash a case's chain and name each event that breaks it, in seq order (empty when intact).

    The case row's head (event count and last hash) anchors the end of the chain, so rows added
    after it, or a tail cut off, show as such.
    """
    head = session.execute(select(Case.event_count, Case.last_event_hash).where(Case.id == case_id)).first()
    rows = stored_rows(session, [case_id]).get(case_id, [])
    if head is None:
        last = max(rows, key=lambda row: row.seq, default=None)
        head = (last.seq, last.hash) if last else (0, GENESIS)
    return links.read(rows, *head, links.CASE)


@dataclass(frozen=True)
class Checked:
    """A case whose chain was verified: its number and what breaks it (nothing when intact)."""

    case_id: int
    case_number: str
    findings: list[Finding]


def verify_cases(session: Session, case_ids: Sequence[int]) -> list[Checked]:
    """The chains of these cases (those that exist), verified against their heads, in the order of `case_ids`.

    One query for the heads and one for every event of them: callers pass a batch, not a county.
    """
    heads = {head.id: head for head in session.execute(
        select(Case.id, Case.case_number, Case.event_count, Case.last_event_hash).where(Case.id.in_(case_ids)))}
    rows = stored_rows(session, list(heads))
    return [Checked(head.id, head.case_number,
                    links.read(rows.get(head.id, []), head.event_count, head.last_event_hash, links.CASE))
            for head in (heads[case_id] for case_id in case_ids if case_id in heads)]


def verify_all(session: Session, batch: int = 500, within: ColumnElement[bool] | None = None) -> Iterator[Checked]:
    """Every case's chain (of those `within` names), verified in batches of cases so that a large county reads its
    history in few queries."""
    after = 0
    while True:
        chosen = select(Case.id).where(Case.id > after)
        ids = list(session.scalars((chosen if within is None else chosen.where(within)).order_by(Case.id).limit(batch)))
        if not ids:
            return
        yield from verify_cases(session, ids)
        after = ids[-1]


def stored_rows(session: Session, case_ids: list[int]) -> dict[int, list[links.Row]]:
    """The stored events of these cases, by case, as `links.read` takes them."""
    found: dict[int, list[links.Row]] = {}
    for row in session.execute(select(CaseEvent.id, CaseEvent.prev_hash, CaseEvent.hash, *_COLUMNS)
                               .where(CaseEvent.case_id.in_(case_ids))).mappings():
        stored = links.Row(row["id"], row["seq"], row["prev_hash"], row["hash"], row)
        found.setdefault(row["case_id"], []).append(stored)
    return found


_COLUMNS = [getattr(CaseEvent, key) for key in (*HASHED, *OPTIONAL)]
