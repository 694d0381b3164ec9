"""Daily anchors: every chain's head at the end of a day, digested, written to a file and checked later."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import clock
from ..db import Database
from ..errors import BianminError
from ..models import AuditAnchor, Case, CaseEvent, SystemEvent
from . import chain, links, system

GZIP_ABOVE = 256 * 1024  # a county's file grows by one line per case; past this it is written compressed
CHECK_BATCH = 500  # cases whose histories are read back in one query when checking


class AnchorRefused(BianminError):
    status = 422


@dataclass(frozen=True)
class Head:
    """One chain's last event at or before a day's end: `case_id` None for the system chain."""

    case_id: int | None
    seq: int
    hash: str

    @property
    def line(self) -> str:
        if self.case_id is None:
            return f"system:{self.seq}:{self.hash}"
        return f"case:{self.case_id}:{self.seq}:{self.hash}"


@dataclass(frozen=True)
class Anchor:
    """What a day's anchor file holds."""

    day: date
    digest: str
    lines: list[str]
    counts: dict[str, int]
    created_at: datetime

    def document(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "digest": self.digest, "algorithm": ALGORITHM, "counts": self.counts,
                "created_at": self.created_at.astimezone(clock.SHANGHAI).isoformat(), "lines": self.lines}


ALGORITHM = "sha256 over the sorted lines joined by \\n; lines case:<case_id>:<seq>:<hash> and system:<seq>:<hash>"


def day_end(day: date) -> datetime:
    """The first moment after `day` in Beijing time: events before it belong to the day or earlier."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=clock.SHANGHAI)


def yesterday() -> date:
    return clock.now().astimezone(clock.SHANGHAI).date() - timedelta(days=1)


def heads(session: Session, day: date) -> list[Head]:
    """Each case chain's head as it stood at the day's end, and the system chain's."""
    end = day_end(day)
    last = (select(CaseEvent.case_id, func.max(CaseEvent.seq).label("seq"))
            .where(CaseEvent.at < end).group_by(CaseEvent.case_id).subquery())
    found = [Head(case_id, seq, hash_) for case_id, seq, hash_ in session.execute(
        select(last.c.case_id, last.c.seq, CaseEvent.hash)
        .join(CaseEvent, and_(CaseEvent.case_id == last.c.case_id, CaseEvent.seq == last.c.seq)))]
    system_seq = session.scalar(select(func.max(SystemEvent.seq)).where(SystemEvent.at < end))
    if system_seq is not None:
        hashes = session.scalars(select(SystemEvent.hash).where(SystemEvent.seq == system_seq))
        found += [Head(None, system_seq, hash_) for hash_ in hashes]
    return found


def digest_of(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(lines)).encode("ascii")).hexdigest()


def compute(session: Session, day: date) -> Anchor:
    found = heads(session, day)
    lines = sorted(head.line for head in found)
    cases = [head for head in found if head.case_id is not None]
    counts = {"cases": len(cases), "case_events": sum(head.seq for head in cases),
              "system_events": max((head.seq for head in found if head.case_id is None), default=0)}
    return Anchor(day, digest_of(lines), lines, counts, clock.now())


def write(db: Database, directory: Path, day: date) -> AuditAnchor | None:
    """Compute and store `day`'s anchor once; None when it exists already (another process, or an earlier run).

    The row is claimed before the file is written, in one transaction: of several processes only the one whose
    insert wins writes the file, and a file that cannot be written leaves no row behind.
    """
    if day >= clock.now().astimezone(clock.SHANGHAI).date():
        raise AnchorRefused(f"{day.isoformat()} 尚未结束（北京时间），只能为已结束的日子生成锚点")
    try:
        with db.write() as session:
            if session.scalar(select(AuditAnchor.id).where(AuditAnchor.day == day)) is not None:
                return None
            anchor = compute(session, day)
            row = AuditAnchor(day=day, digest=anchor.digest, counts=anchor.counts, path="",
                              created_at=anchor.created_at)
            session.add(row)
            session.flush()
            row.path = str(_write_file(directory, anchor))
            session.flush()
            session.expunge(row)
            return row
    except IntegrityError:
        return None  # another process stored the same day between our look and our insert


def write_yesterday(db: Database, directory: Path) -> int:
    """The scheduler's job: yesterday's anchor if no process has written it yet; 1 when this call wrote it."""
    return 0 if write(db, directory, yesterday()) is None else 1


def _write_file(directory: Path, anchor: Anchor) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(anchor.document(), ensure_ascii=False, indent=1).encode("utf-8")
    name = f"{anchor.day.isoformat()}.json"
    if len(raw) > GZIP_ABOVE:
        raw, name = gzip.compress(raw, mtime=0), name + ".gz"
    path = directory / name
    staging = directory / f".{name}.{os.getpid()}.tmp"
    staging.write_bytes(raw)
    os.replace(staging, path)  # never a half-written anchor under its real name
    return path


def read_file(path: Path) -> dict[str, Any]:
    """An anchor file as written (compressed or not); AnchorRefused when it is not one."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        document = json.loads(raw.decode("utf-8"))
        date.fromisoformat(document["date"])
        if not isinstance(document["lines"], list) or not re.fullmatch(r"[0-9a-f]{64}", document["digest"]):
            raise ValueError("lines or digest")
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise AnchorRefused(f"无法读取锚点文件 {path.name}：{exc}") from exc
    return document


@dataclass
class Checked:
    """A kept anchor checked against the database: `differences` names each chain that no longer matches."""

    day: date
    digest: str
    recomputed: str
    differences: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.differences


def check_document(session: Session, document: dict[str, Any]) -> Checked:
    """Compare a kept anchor file with the database: its lines, then each chain back from its anchored head."""
    day, lines = date.fromisoformat(document["date"]), [str(line) for line in document["lines"]]
    found = heads(session, day)
    result = Checked(day, document["digest"], digest_of(head.line for head in found))
    if digest_of(lines) != document["digest"]:
        result.differences.append("锚点文件本身被改动过：其中各行的摘要与文件记载的摘要不符")
        return result
    kept = {_chain_of(line): line for line in lines}
    now = {_chain_of(head.line): head for head in found}
    numbers = _case_numbers(session, [key for key in (*kept, *now) if key is not None])
    for key in sorted(kept.keys() | now.keys(), key=lambda k: (k is not None, k or 0)):
        result.differences += _compared(key, kept.get(key), now.get(key), numbers)
    matching = [(key, now[key]) for key in kept if key in now and now[key].line == kept[key]]
    result.differences += _broken_before(session, matching, numbers)
    return result


def check_digest(session: Session, day: date, digest: str) -> Checked:
    """Compare a kept digest alone: equal or not; when this system's own file for the day still matches the
    digest, its lines name the chains that differ."""
    result = Checked(day, digest.lower(), compute(session, day).digest)
    stored = stored_for(session, day)
    if stored is not None and Path(stored.path).is_file():
        document = read_file(Path(stored.path))
        if digest_of(document["lines"]) == result.digest:
            return check_document(session, document)
    if result.recomputed != result.digest:
        result.differences.append(f"按数据库重算的摘要 {result.recomputed} 与保存的摘要不符；本系统中该日的"
                                  "锚点文件已缺失或同样被改动，无法指出是哪条记录链：请用保存的锚点文件核对，"
                                  "或运行 bianmin audit verify")
    return result


def recheck(session: Session, row: AuditAnchor) -> Checked:
    """Recheck a stored anchor: its file when it is still here (and its digest against the one recorded), else the
    recorded digest alone."""
    path = Path(row.path)
    if not path.is_file():
        return check_digest(session, row.day, row.digest)
    checked = check_document(session, read_file(path))
    if checked.digest != row.digest:
        checked.differences.insert(0, f"锚点文件中的摘要 {checked.digest} 与生成时登记的 {row.digest} 不符")
    return checked


def _chain_of(line: str) -> int | None:
    parts = line.split(":")
    return int(parts[1]) if parts[0] == "case" else None


def _parts(line: str) -> tuple[int, str]:
    seq, hash_ = line.rsplit(":", 2)[-2:]
    return int(seq), hash_


def _name(key: int | None, numbers: dict[int, str]) -> str:
    return "系统记录" if key is None else f"办件 {numbers.get(key, f'（编号未知，内部号 {key}）')}"


def _compared(key: int | None, kept: str | None, now: Head | None, numbers: dict[int, str]) -> list[str]:
    name = _name(key, numbers)
    if kept is not None and now is not None and now.line == kept:
        return []
    if kept is None:
        assert now is not None
        return [f"{name}：锚点中没有它，数据库中却有该日之前的 {now.seq} 条记录，是事后插入的"]
    seq, hash_ = _parts(kept)
    if now is None:
        return [f"{name}：锚点记载其该日末条为第 {seq} 条，数据库中该日之前的记录已不存在"]
    if now.seq != seq:
        return [f"{name}：锚点记载其该日末条为第 {seq} 条，数据库中现为第 {now.seq} 条"]
    return [f"{name}：第 {seq} 条记录的哈希与锚点不符（锚点 {hash_[:16]}…，现为 {now.hash[:16]}…），"
            "该日之前的记录被改动过"]


def _broken_before(session: Session, matching: list[tuple[int | None, Head]],
                   numbers: dict[int, str]) -> list[str]:
    """Chains whose anchored head still matches, read back from it: an edit that kept the head's hash shows here."""
    found: list[str] = []
    for key, head in matching:
        if key is None:
            rows = [row for row in system.rows(session) if row.seq <= head.seq]
            found += [f"系统记录：{finding.message}" for finding in links.read(rows, head.seq, head.hash, links.SYSTEM)]
    cases = [(key, head) for key, head in matching if key is not None]
    for start in range(0, len(cases), CHECK_BATCH):
        batch = cases[start:start + CHECK_BATCH]
        stored = chain.stored_rows(session, [key for key, _ in batch])
        for key, head in batch:
            rows = [row for row in stored.get(key, []) if row.seq <= head.seq]
            found += [f"{_name(key, numbers)}：{finding.message}"
                      for finding in links.read(rows, head.seq, head.hash, links.CASE)]
    return found


def _case_numbers(session: Session, case_ids: list[int]) -> dict[int, str]:
    numbers: dict[int, str] = {}
    for start in range(0, len(case_ids), CHECK_BATCH):
        numbers.update(session.execute(select(Case.id, Case.case_number)
                                       .where(Case.id.in_(case_ids[start:start + CHECK_BATCH]))).all())
    return numbers


def listed(session: Session, limit: int | None = None) -> Iterator[AuditAnchor]:
    """Anchors written, newest first."""
    yield from session.scalars(select(AuditAnchor).order_by(AuditAnchor.day.desc()).limit(limit))


def stored_for(session: Session, day: date) -> AuditAnchor | None:
    return session.scalar(select(AuditAnchor).where(AuditAnchor.day == day))
