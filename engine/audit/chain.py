"""The case history: append-only events, each hashed together with the previous one of its case."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..db import queue_update, queue_write
from ..models import Case, CaseEvent
from . import origin

GENESIS = "0" * 64


class Acting(Protocol):
    """Whoever acts on a case: a staff account (or the runtime's record of one)."""

    id: int
    display_name: str


def canonical(event: dict[str, Any], keys: tuple[str, ...] | None = None) -> str:
    """The text of an event that its hash covers (after the previous event's hash); `keys` default to a case's."""
    body = {key: event[key] for key in keys or HASHED}
    if keys is None:
        body.update({key: event[key] for key in OPTIONAL if event.get(key) is not None})
    body["at"] = event["at"].isoformat()
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _digest(prev_hash: str, event: dict[str, Any], keys: tuple[str, ...] | None = None) -> str:
    return hashlib.sha256((prev_hash + canonical(event, keys)).encode("utf-8")).hexdigest()


HASHED = ("case_id", "seq", "at", "actor_id", "actor_name", "kind", "task_id", "step", "before", "after")
# Recorded only since replay needed them (the actor's post, the client's address): hashed when present, so every
# row written before hashes exactly as it did.
OPTIONAL = ("post", "address")


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


class Break(StrEnum):
    """What is wrong with one place in a chain."""

    ALTERED = "altered"
    MISSING = "missing"
    INSERTED = "inserted"
    OUT_OF_ORDER = "out_of_order"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Finding:
    """One break in a case's chain: the event (by seq, and by row id while it exists) and what is wrong."""

    kind: Break
    seq: int
    event_id: int | None
    message: str


def verify(session: Session, case_id: int) -> list[Finding]:
    """Re-hash a case's chain and name each event that breaks it, in seq order (empty when intact).

    The case row's head (event count and last hash) anchors the end of the chain, so rows added
    after it, or a tail cut off, show as such.
    """
    events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                  .order_by(CaseEvent.seq, CaseEvent.id)))
    head = session.execute(select(Case.event_count, Case.last_event_hash).where(Case.id == case_id)).first()
    if head is None:
        count, last = (events[-1].seq, events[-1].hash) if events else (0, GENESIS)
    else:
        count, last = head
    return _Reading(events, count, last).findings()


def _sealed(event: CaseEvent, seq: int) -> bool:
    """Whether `event`, placed at `seq`, hashes to its stored hash."""
    fields = {key: getattr(event, key) for key in (*HASHED, *OPTIONAL)}
    fields["seq"] = seq
    return _digest(event.prev_hash, fields) == event.hash


class _Reading:
    """A case's rows read against each other: a row's hash tells at which seq it was written, unless it was altered."""

    def __init__(self, events: list[CaseEvent], count: int, last_hash: str) -> None:
        self.events, self.count, self.last_hash = events, count, last_hash
        self.by_hash = {event.hash: event for event in events}
        self.sealed = {event.id: _sealed(event, event.seq) for event in events}
        self.origin: dict[int, int | None] = {e.id: e.seq if self.sealed[e.id] else None for e in events}
        self.found: list[Finding] = []
        self.flagged: set[int] = set()

    def findings(self) -> list[Finding]:
        if not all(self.sealed.values()):
            self._place_from_start()
            self._place_from_head()
        kept = self._without_inserted()
        for event in kept:
            origin = self.origin[event.id]
            if origin is None:
                self._flag(event, Break.ALTERED, f"第 {event.seq} 条记录被改动过：内容与其哈希不符")
            elif origin != event.seq:
                self._flag(event, Break.OUT_OF_ORDER,
                           f"第 {event.seq} 条位置上是原第 {origin} 条记录：记录的顺序被调换过")
        self._follow_links(kept)
        return sorted(self.found, key=lambda finding: (finding.seq, finding.event_id or 0))

    def _position(self, event: CaseEvent) -> int:
        origin = self.origin[event.id]
        return event.seq if origin is None else origin

    def _flag(self, event: CaseEvent, kind: Break, message: str) -> None:
        self.flagged.add(event.id)
        self.found.append(Finding(kind, event.seq, event.id, message))

    def _place_from_start(self) -> None:
        """A row not sealed at its seq is tried one place after the row it links to: a moved row is found so."""
        resolved = {event.id for event in self.events if self.sealed[event.id]}
        for event in self.events:
            trail: list[CaseEvent] = []
            current: CaseEvent | None = event
            while current is not None and current.id not in resolved and current not in trail:
                trail.append(current)
                current = None if current.prev_hash == GENESIS else self.by_hash.get(current.prev_hash)
            if trail and trail[-1].prev_hash == GENESIS:
                before: int | None = 0
            else:
                # The row linked to is gone, or the links run in a circle: no place to count from.
                before = self.origin[current.id] if current is not None and current.id in resolved else None
            for item in reversed(trail):
                before = before + 1 if before is not None and _sealed(item, before + 1) else None
                self.origin[item.id] = before
                resolved.add(item.id)

    def _place_from_head(self) -> None:
        """Rows whose predecessor is gone are placed counting back from the head the case row recorded."""
        current, seq, seen = self.by_hash.get(self.last_hash), self.count, set()
        while current is not None and current.id not in seen and seq > 0:
            seen.add(current.id)
            if self.origin[current.id] is None and _sealed(current, seq):
                self.origin[current.id] = seq
            seq = self.origin[current.id] or seq
            current, seq = self.by_hash.get(current.prev_hash), seq - 1

    def _without_inserted(self) -> list[CaseEvent]:
        """One row per place in the chain; rows beyond the head, or not linked where another row is, were added."""
        linked_to = {event.prev_hash for event in self.events} | {self.last_hash}
        places: dict[int, list[CaseEvent]] = {}
        for event in self.events:
            place = self._position(event)
            if place > self.count:
                forged = "" if self.sealed[event.id] else "，且其哈希与内容不符"
                self._flag(event, Break.INSERTED,
                           f"第 {event.seq} 条记录在办件记录的末条（第 {self.count} 条）之后，是事后添加的{forged}")
            else:
                places.setdefault(place, []).append(event)
        kept = []
        for place in sorted(places):
            rows = places[place]
            keep = next((row for row in rows if row.hash in linked_to), rows[0])
            kept.append(keep)
            for row in rows:
                if row is not keep:
                    self._flag(row, Break.INSERTED,
                               f"第 {row.seq} 条记录与另一条记录同占第 {place} 条的位置，且不在哈希链上，是插入的")
        return kept

    def _follow_links(self, kept: list[CaseEvent]) -> None:
        """Gaps between places are missing rows; a broken link between sound rows names the row re-hashed."""
        nodes = [_Node(0, None, GENESIS, None)]
        nodes += [_Node(self._position(event), event.prev_hash, event.hash, event) for event in kept]
        nodes.append(_Node(self.count + 1, self.last_hash, None, None))
        broken = [False] * len(nodes)
        for i in range(1, len(nodes)):
            earlier, later = nodes[i - 1], nodes[i]
            for gone in range(earlier.place + 1, later.place):
                kind, message = (Break.TRUNCATED, f"末尾的第 {gone} 条记录缺失：日志被截断") if later.event is None \
                    else (Break.MISSING, f"第 {gone} 条记录缺失：已被删除")
                self.found.append(Finding(kind, gone, None, message))
            broken[i] = later.place == earlier.place + 1 and later.prev_hash != earlier.hash
        for i in range(1, len(nodes)):
            earlier, later = nodes[i - 1].event, nodes[i].event
            if not broken[i] or any(e is not None and e.id in self.flagged for e in (earlier, later)):
                continue
            # A row whose links on both sides are broken was replaced; otherwise the earlier row was re-hashed.
            if later is not None and earlier is None:
                self._flag(later, Break.ALTERED, f"第 {later.seq} 条记录被改动过：它没有链接到链的起点")
            elif later is not None and i + 1 < len(nodes) and broken[i + 1]:
                self._flag(later, Break.ALTERED, f"第 {later.seq} 条记录被改动过：与前后记录的哈希都链接不上")
            elif earlier is not None:
                after = f"第 {later.seq} 条记录" if later is not None else "办件记录的末条哈希"
                self._flag(earlier, Break.ALTERED,
                           f"第 {earlier.seq} 条记录被改动过：其哈希已被重新计算，与{after}所链接的不符")


class _Node(NamedTuple):
    """A place in the chain as links see it; the chain's start and the case row's head have no event."""

    place: int
    prev_hash: str | None
    hash: str | None
    event: CaseEvent | None
