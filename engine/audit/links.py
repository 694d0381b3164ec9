"""How a history's rows are hashed and read back against each other; standard library only, and a script too.

Run as `python3 links.py EXPORT.json` on any machine with Python 3.11 to verify an exported case history (or system
chain) without Bianmin: it prints each event that breaks the chain and exits 1, or says the history is intact and
exits 0 (2 when the file cannot be read).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

GENESIS = "0" * 64

CASE_KEYS = ("case_id", "seq", "at", "actor_id", "actor_name", "kind", "task_id", "step", "before", "after")
# Recorded only since replay needed them (the actor's post, the client's address): hashed when present, so every
# row written before hashes exactly as it did.
CASE_OPTIONAL = ("post", "address")
SYSTEM_KEYS = ("seq", "at", "actor_id", "actor_name", "kind", "subject", "before", "after")


def canonical(event: Mapping[str, Any], keys: Sequence[str], optional: Sequence[str] = ()) -> str:
    """The text of an event that its hash covers (after the previous event's hash)."""
    body = {key: event[key] for key in keys}
    body.update({key: event[key] for key in optional if event.get(key) is not None})
    at = event["at"]
    body["at"] = at.isoformat() if isinstance(at, datetime) else at
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def digest(prev_hash: str, event: Mapping[str, Any], keys: Sequence[str], optional: Sequence[str] = ()) -> str:
    """An event's hash: SHA-256 of the previous event's hash followed by the event's canonical text."""
    return hashlib.sha256((prev_hash + canonical(event, keys, optional)).encode("utf-8")).hexdigest()


class Break(StrEnum):
    """What is wrong with one place in a chain."""

    ALTERED = "altered"
    MISSING = "missing"
    INSERTED = "inserted"
    OUT_OF_ORDER = "out_of_order"
    TRUNCATED = "truncated"


@dataclass(frozen=True)
class Finding:
    """One break in a chain: the event (by seq, and by row id while it exists) and what is wrong."""

    kind: Break
    seq: int
    event_id: int | None
    message: str


@dataclass(frozen=True)
class Row:
    """One stored event as read back: its row id, the seq it claims, its links and the fields its hash covers."""

    id: int
    seq: int
    prev_hash: str
    hash: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class Scheme:
    """Which fields a chain's hash covers, and how its messages name the chain's recorded head."""

    keys: Sequence[str]
    optional: Sequence[str]
    head_name: str


CASE = Scheme(CASE_KEYS, CASE_OPTIONAL, "办件记录的末条")
SYSTEM = Scheme(SYSTEM_KEYS, (), "系统记录的末条")


def read(rows: Sequence[Row], count: int, last_hash: str, scheme: Scheme) -> list[Finding]:
    """Name each row that breaks the chain, in seq order (empty when intact).

    The recorded head (event count and last hash) anchors the end of the chain, so rows added after it, or a tail
    cut off, show as such.
    """
    return _Reading(rows, count, last_hash, scheme).findings()


class _Reading:
    """Rows read against each other: a row's hash tells at which seq it was written, unless it was altered."""

    def __init__(self, rows: Sequence[Row], count: int, last_hash: str, scheme: Scheme) -> None:
        self.rows = sorted(rows, key=lambda r: (r.seq, r.id))
        self.count, self.last_hash, self.scheme = count, last_hash, scheme
        self.by_hash = {row.hash: row for row in self.rows}
        self.sealed = {row.id: self._sealed(row, row.seq) for row in self.rows}
        self.origin: dict[int, int | None] = {r.id: r.seq if self.sealed[r.id] else None for r in self.rows}
        self.found: list[Finding] = []
        self.flagged: set[int] = set()

    def _sealed(self, row: Row, seq: int) -> bool:
        """Whether `row`, placed at `seq`, hashes to its stored hash."""
        fields = {**row.fields, "seq": seq}
        return digest(row.prev_hash, fields, self.scheme.keys, self.scheme.optional) == row.hash

    def findings(self) -> list[Finding]:
        if not all(self.sealed.values()):
            self._place_from_start()
            self._place_from_head()
        kept = self._without_inserted()
        for row in kept:
            origin = self.origin[row.id]
            if origin is None:
                self._flag(row, Break.ALTERED, f"第 {row.seq} 条记录被改动过：内容与其哈希不符")
            elif origin != row.seq:
                self._flag(row, Break.OUT_OF_ORDER,
                           f"第 {row.seq} 条位置上是原第 {origin} 条记录：记录的顺序被调换过")
        self._follow_links(kept)
        return sorted(self.found, key=lambda finding: (finding.seq, finding.event_id or 0))

    def _position(self, row: Row) -> int:
        origin = self.origin[row.id]
        return row.seq if origin is None else origin

    def _flag(self, row: Row, kind: Break, message: str) -> None:
        self.flagged.add(row.id)
        self.found.append(Finding(kind, row.seq, row.id, message))

    def _place_from_start(self) -> None:
        """A row not sealed at its seq is tried one place after the row it links to: a moved row is found so."""
        resolved = {row.id for row in self.rows if self.sealed[row.id]}
        for row in self.rows:
            trail: list[Row] = []
            current: Row | None = row
            while current is not None and current.id not in resolved and current not in trail:
                trail.append(current)
                current = None if current.prev_hash == GENESIS else self.by_hash.get(current.prev_hash)
            if trail and trail[-1].prev_hash == GENESIS:
                before: int | None = 0
            else:
                # The row linked to is gone, or the links run in a circle: no place to count from.
                before = self.origin[current.id] if current is not None and current.id in resolved else None
            for item in reversed(trail):
                before = before + 1 if before is not None and self._sealed(item, before + 1) else None
                self.origin[item.id] = before
                resolved.add(item.id)

    def _place_from_head(self) -> None:
        """Rows whose predecessor is gone are placed counting back from the recorded head."""
        current, seq, seen = self.by_hash.get(self.last_hash), self.count, set()
        while current is not None and current.id not in seen and seq > 0:
            seen.add(current.id)
            if self.origin[current.id] is None and self._sealed(current, seq):
                self.origin[current.id] = seq
            seq = self.origin[current.id] or seq
            current, seq = self.by_hash.get(current.prev_hash), seq - 1

    def _without_inserted(self) -> list[Row]:
        """One row per place in the chain; rows beyond the head, or not linked where another row is, were added."""
        linked_to = {row.prev_hash for row in self.rows} | {self.last_hash}
        places: dict[int, list[Row]] = {}
        for row in self.rows:
            place = self._position(row)
            if place > self.count:
                forged = "" if self.sealed[row.id] else "，且其哈希与内容不符"
                self._flag(row, Break.INSERTED, f"第 {row.seq} 条记录在{self.scheme.head_name}（第 {self.count} 条）"
                                                f"之后，是事后添加的{forged}")
            else:
                places.setdefault(place, []).append(row)
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

    def _follow_links(self, kept: list[Row]) -> None:
        """Gaps between places are missing rows; a broken link between sound rows names the row re-hashed."""
        nodes = [_Node(0, None, GENESIS, None)]
        nodes += [_Node(self._position(row), row.prev_hash, row.hash, row) for row in kept]
        nodes.append(_Node(self.count + 1, self.last_hash, None, None))
        broken = [False] * len(nodes)
        for i in range(1, len(nodes)):
            earlier, later = nodes[i - 1], nodes[i]
            for gone in range(earlier.place + 1, later.place):
                kind, message = (Break.TRUNCATED, f"末尾的第 {gone} 条记录缺失：日志被截断") if later.row is None \
                    else (Break.MISSING, f"第 {gone} 条记录缺失：已被删除")
                self.found.append(Finding(kind, gone, None, message))
            broken[i] = later.place == earlier.place + 1 and later.prev_hash != earlier.hash
        for i in range(1, len(nodes)):
            before, after = nodes[i - 1].row, nodes[i].row
            if not broken[i] or any(r is not None and r.id in self.flagged for r in (before, after)):
                continue
            # A row whose links on both sides are broken was replaced; otherwise the earlier row was re-hashed.
            if after is not None and before is None:
                self._flag(after, Break.ALTERED, f"第 {after.seq} 条记录被改动过：它没有链接到链的起点")
            elif after is not None and i + 1 < len(nodes) and broken[i + 1]:
                self._flag(after, Break.ALTERED, f"第 {after.seq} 条记录被改动过：与前后记录的哈希都链接不上")
            elif before is not None:
                name = f"第 {after.seq} 条记录" if after is not None else self.scheme.head_name + "哈希"
                self._flag(before, Break.ALTERED,
                           f"第 {before.seq} 条记录被改动过：其哈希已被重新计算，与{name}所链接的不符")


class _Node(NamedTuple):
    """A place in the chain as links see it; the chain's start and the recorded head have no row."""

    place: int
    prev_hash: str | None
    hash: str | None
    row: Row | None


def read_export(document: Mapping[str, Any]) -> list[Finding]:
    """Read an exported history: `{"chain": "case"|"system", "head": {...}, "events": [...]}` as Bianmin writes it.

    A row is named by its place in the file's `events` list (1 = first), since row ids mean nothing offline.
    """
    scheme = SYSTEM if document.get("chain") == "system" else CASE
    rows = [Row(position, int(event["seq"]), str(event["prev_hash"]), str(event["hash"]), event)
            for position, event in enumerate(document["events"], start=1)]
    head = document["head"]
    return read(rows, int(head["event_count"]), str(head["last_event_hash"]), scheme)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("用法：python3 links.py 导出文件.json", file=sys.stderr)
        return 2
    try:
        with open(argv[0], encoding="utf-8") as file:
            document = json.load(file)
        findings = read_export(document)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"无法读取导出文件：{exc}", file=sys.stderr)
        return 2
    name = document.get("case", {}).get("case_number") or ("系统记录" if document.get("chain") == "system" else "")
    head = document["head"]
    if not findings:
        print(f"{name} 记录完好：共 {head['event_count']} 条，末条哈希 {head['last_event_hash']}")
        return 0
    print(f"{name} 记录有 {len(findings)} 处断裂：")
    for finding in findings:
        where = f"（文件中第 {finding.event_id} 项）" if finding.event_id is not None else ""
        print(f"  第 {finding.seq} 条{where} [{finding.kind}] {finding.message}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
