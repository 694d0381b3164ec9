"""Backups: the whole database (SQLite or PostgreSQL) and the attachments folder as one checked .tar.gz."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any

from sqlalchemy import Connection, ForeignKeyConstraint, MetaData, Table, Text, cast, inspect, select, text
from sqlalchemy.schema import sort_tables_and_constraints
from sqlalchemy.types import JSON, Date, DateTime, LargeBinary, Numeric, TypeEngine

from . import clock, setup
from .db import Database, without_timeouts
from .errors import BianminError
from .models import Case

FORMAT = "bianmin-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TABLES, ATTACHMENTS = "tables/", "attachments/"
VERSION_TABLE = "alembic_version"
BATCH = 1000
KINDS = ("plain", "json", "datetime", "date", "bytes", "decimal")
_CHUNK = 1 << 20


class BackupRefused(BianminError):
    """A backup that cannot be made or restored; nothing was written."""


@dataclass
class Summary:
    """What a backup holds, or what a restore wrote and found."""

    revision: str
    database: str
    rows: dict[str, int]
    attachments: int
    upgraded_to: str | None = None  # a restore of an older schema, migrated on to this code's head
    broken: dict[str, list[str]] = field(default_factory=dict)  # case number → what breaks its history chain

    @property
    def cases(self) -> int:
        return self.rows.get(Case.__tablename__, 0)


def _kind(column_type: TypeEngine[Any]) -> str:
    """How a column's values travel in JSON: as they are, or as text that names their type."""
    if isinstance(column_type, JSON):
        return "json"
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, LargeBinary):
        return "bytes"
    if isinstance(column_type, Numeric) and column_type.asdecimal:
        return "decimal"
    return "plain"


def encode(kind: str, value: Any) -> Any:
    if value is None or kind in ("plain", "json"):
        return value
    if kind == "datetime":
        # SQLite hands back the stored UTC time without its zone; PostgreSQL an aware one.
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if kind == "bytes":
        return base64.b64encode(value).decode("ascii")
    return value.isoformat() if kind == "date" else str(value)


def decode(kind: str, value: Any) -> Any:
    if value is None or kind == "plain":
        return value
    if kind == "json":
        # JSON columns travel as their stored text, so a stored JSON null stays distinct from SQL NULL.
        loaded = json.loads(value)
        return JSON.NULL if loaded is None else loaded
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    return base64.b64decode(value) if kind == "bytes" else Decimal(value)


def reflect_tables(connection: Connection) -> list[Table]:
    """The database's tables, each after the tables its foreign keys point to; a cycle is broken at a nullable link."""
    metadata = MetaData()
    metadata.reflect(connection)
    tables = [table for table in metadata.tables.values() if table.name != VERSION_TABLE]

    def must_precede(constraint: ForeignKeyConstraint) -> bool | None:
        return False if any(not column.nullable for column in constraint.columns) else None

    return [table for table, _ in sort_tables_and_constraints(tables, filter_fn=must_precede) if table is not None]


def _revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


@contextmanager
def _snapshot(db: Database) -> Iterator[Connection]:
    """One read transaction: every table as of one moment, while the service goes on writing."""
    if db.is_sqlite:
        # In WAL mode a read transaction sees the database as of its first read until it ends.
        with db.engine.connect() as connection, connection.begin():
            yield connection
    else:
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with db.engine.connect().execution_options(**options) as connection, connection.begin():
            without_timeouts(connection)
            yield connection


class _Hashing:
    """A file being written whose SHA-256 and line count are kept as it grows."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file, self.sha, self.lines = file, hashlib.sha256(), 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.sha.update(data)
        self.lines += data.count(b"\n")


def backup(db: Database, target: Path, attachments_dir: Path) -> Summary:
    """Write the database and the attachments folder to `target`, which appears only once complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".bianmin-backup-") as work:
        staged = Path(work)
        manifest = _dump_tables(db, staged)
        files = attachment_files(attachments_dir)
        for path, name in files:
            manifest["members"][name] = _file_sha(path)
        partial = staged / "backup.tar.gz"
        # The file holds password hashes and applicants' data: readable by its owner only.
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            _add_bytes(tar, MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
            for name in manifest["tables"]:
                tar.add(staged / f"{name}.jsonl", arcname=f"{TABLES}{name}.jsonl", recursive=False)
            for path, name in files:
                tar.add(path, arcname=name, recursive=False)
        os.replace(partial, target)
    rows = {name: table["rows"] for name, table in manifest["tables"].items()}
    return Summary(manifest["schema_revision"], manifest["database"], rows, len(files))


def _dump_tables(db: Database, staged: Path) -> dict[str, Any]:
    with _snapshot(db) as connection:
        revision = _revision(connection)
        if revision is None:
            raise BackupRefused("数据库尚未建立（没有数据库结构版本）：先运行 bianmin init，再备份")
        manifest: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "schema_revision": revision,
            "database": connection.dialect.name, "created_at": clock.now().astimezone(UTC).isoformat(),
            "tables": {}, "members": {},
        }
        for table in reflect_tables(connection):
            columns = [(column.name, _kind(column.type)) for column in table.columns]
            # JSON read as its stored text: the drivers would turn a stored JSON null into None.
            selected = [cast(column, Text).label(column.name) if kind == "json" else column
                        for column, (_, kind) in zip(table.columns, columns, strict=True)]
            query = select(*selected).order_by(*table.primary_key.columns)
            with (staged / f"{table.name}.jsonl").open("wb") as file:
                out = _Hashing(file)
                for row in connection.execution_options(yield_per=BATCH).execute(query):
                    values = [encode(kind, value) for (_, kind), value in zip(columns, row, strict=True)]
                    out.write(json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n")
            manifest["tables"][table.name] = {"rows": out.lines, "columns": [list(pair) for pair in columns]}
            manifest["members"][f"{TABLES}{table.name}.jsonl"] = out.sha.hexdigest()
    return manifest


def attachment_files(folder: Path) -> list[tuple[Path, str]]:
    """Regular files under the folder with their names in the archive; links are not followed."""
    if not folder.is_dir():
        return []
    found = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            if path.is_file() and not path.is_symlink():
                found.append((path, ATTACHMENTS + path.relative_to(folder).as_posix()))
    return found


def _file_sha(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(clock.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def damaged(path: Path, why: str) -> BackupRefused:
    return BackupRefused(f"备份文件 {path.name} 已损坏或不完整（{why}），未恢复任何数据：请换一份完好的备份")


@contextmanager
def reading(path: Path) -> Iterator[tarfile.TarFile]:
    """The archive opened for reading; a truncated or corrupted file is refused, naming the file."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            yield tar
            # Reading to the end makes gzip check its CRC and length over the whole file.
            while tar.fileobj is not None and tar.fileobj.read(_CHUNK):
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise damaged(path, "文件被截断或内容出错") from exc


def _members(tar: tarfile.TarFile, path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    for info in tar:
        if not info.isfile():
            raise damaged(path, f"含有不是普通文件的成员 {info.name}")
        member = tar.extractfile(info)
        assert member is not None
        yield info.name, member


def _read_manifest(path: Path, name: str, member: IO[bytes]) -> dict[str, Any]:
    if name != MANIFEST:
        raise damaged(path, "开头缺少清单 manifest.json")
    try:
        manifest = json.loads(member.read())
        if manifest["format"] != FORMAT or not isinstance(manifest["members"], dict):
            raise ValueError(manifest["format"])
        version, revision = manifest["format_version"], manifest["schema_revision"]
        tables = manifest["tables"]
        expected = {f"{TABLES}{table}.jsonl" for table in tables}
        for table in tables.values():
            if not isinstance(table["rows"], int) or any(kind not in KINDS for _, kind in table["columns"]):
                raise ValueError(table)
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupRefused(f"{path.name} 不是便民系统的备份文件或已损坏（清单无法识别），未恢复任何数据") from exc
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupRefused(f"{path.name} 由更新版本的便民系统生成（备份格式 {version}），本程序只能读取格式 "
                            f"{FORMAT_VERSION}：请先升级便民系统，再恢复")
    if not setup.knows_revision(str(revision)):
        raise BackupRefused(f"{path.name} 来自更新的数据库结构（版本 {revision}），本程序的最新结构是 "
                            f"{setup.head_revision()}：请先把便民系统升级到生成该备份的版本或更新的版本，再恢复")
    if not expected <= manifest["members"].keys():
        raise damaged(path, "清单中缺少数据表的校验值")
    return manifest


def _checked(path: Path, manifest: dict[str, Any], name: str, member: IO[bytes]) -> Iterator[bytes]:
    """The member's lines (a table) or chunks (a file), refusing the archive when its SHA-256 or row count is off."""
    expected = manifest["members"].get(name)
    if expected is None:
        raise damaged(path, f"含有清单中没有的成员 {name}")
    table = name.removeprefix(TABLES).removesuffix(".jsonl") if name.startswith(TABLES) else None
    if table is not None and table not in manifest["tables"]:
        raise damaged(path, f"{name} 不是清单中的数据表")
    sha, lines = hashlib.sha256(), 0
    for piece in member if table is not None else iter(lambda: member.read(_CHUNK), b""):
        sha.update(piece)
        lines += 1
        yield piece
    if sha.hexdigest() != expected:
        raise damaged(path, f"{name} 的校验值不符")
    if table is not None and lines != manifest["tables"][table]["rows"]:
        raise damaged(path, f"{name} 的行数与清单不符")


def check(path: Path) -> dict[str, Any]:
    """Read the whole archive and check every member against the manifest; its manifest when sound."""
    with reading(path) as tar:
        manifest = walk(path, tar, lambda name, lines: None)
    return manifest


def walk(path: Path, tar: tarfile.TarFile, take: Callable[[str, Iterator[bytes]], None]) -> dict[str, Any]:
    """Each member after the manifest, checked as `take` reads it (take reads every line)."""
    members = _members(tar, path)
    first = next(members, None)
    if first is None:
        raise damaged(path, "文件为空")
    manifest = _read_manifest(path, *first)
    seen = set()
    for name, member in members:
        if name in seen or not _safe_name(name):
            raise damaged(path, f"成员名 {name} 重复或不安全")
        seen.add(name)
        lines = _checked(path, manifest, name, member)
        take(name, lines)
        for _ in lines:  # whatever `take` left unread still counts towards the checksum
            pass
    missing = manifest["members"].keys() - seen
    if missing:
        raise damaged(path, f"缺少 {len(missing)} 个成员，例如 {sorted(missing)[0]}")
    return manifest


def _safe_name(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (name.startswith((TABLES, ATTACHMENTS)) and not PurePosixPath(name).is_absolute()
            and ".." not in parts and len(parts) >= 2)
