"""Restore: a backup checked whole, then written into an empty database of either kind in one transaction."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import DropTable
from sqlalchemy.types import JSON

from . import setup
from .audit import chain
from .backup import (
    ATTACHMENTS,
    BATCH,
    TABLES,
    VERSION_TABLE,
    BackupRefused,
    Summary,
    attachment_files,
    check,
    damaged,
    decode,
    reading,
    reflect_tables,
    walk,
)
from .db import Database, without_timeouts
from .models import CalendarDay, CalendarYear, Role, SystemChainHead, SystemEvent
from .vocabulary import SystemEventKind

# What `bianmin init` puts in a new database: a database holding only these counts as empty.
INIT_TABLES = {Role.__tablename__, CalendarYear.__tablename__, CalendarDay.__tablename__}


def restore(db: Database, source: Path, attachments_dir: Path, *, force: bool = False) -> Summary:
    """Rebuild an empty database (and attachments folder) from a backup, then re-verify every case's history.

    The archive is checked whole before anything is written; the database is written in one
    transaction (schema at the backup's revision, rows, then migrations on to this code's head).
    """
    manifest = check(source)
    _refuse_unless_empty(db, attachments_dir, force)
    revision, head = manifest["schema_revision"], setup.head_revision()
    staging = attachments_dir.parent / f".{attachments_dir.name}.restoring"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with db.engine.connect() as connection, connection.begin():
            without_timeouts(connection)
            rows = _load(connection, source, manifest, staging)
            if revision != head:
                setup.upgrade(connection, head)
        _replace_folder(staging, attachments_dir)
    except SQLAlchemyError as exc:
        raise BackupRefused(f"恢复时数据库报错，已全部撤销：{getattr(exc, 'orig', None) or exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    attachments = sum(1 for name in manifest["members"] if name.startswith(ATTACHMENTS))
    return Summary(revision, manifest["database"], rows, attachments, head if revision != head else None,
                   _verify_chains(db))


def _refuse_unless_empty(db: Database, attachments_dir: Path, force: bool) -> None:
    with db.engine.connect() as connection:
        held = {table.name: count for table in reflect_tables(connection)
                if table.name not in INIT_TABLES and (count := _held(connection, table))}
    files = len(attachment_files(attachments_dir))
    if (held or files) and not force:
        details = [f"{name}：{count} 行" for name, count in held.items()]
        details += [f"附件目录 {attachments_dir}：{files} 个文件"] if files else []
        raise BackupRefused("目标数据库不是空的，恢复会替换其中的全部数据，未做任何改动：请恢复到一个新建的空数据库，"
                            "或确认这些数据可以丢弃后加 --force", details=details)


def _load(connection: Connection, source: Path, manifest: dict[str, Any], staging: Path) -> dict[str, int]:
    if connection.dialect.name == "sqlite":
        # Checked at commit instead: tables are dropped and rows arrive table by table.
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    for table in reversed(reflect_tables(connection)):
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"DROP TABLE {connection.dialect.identifier_preparer.format_table(table)} "
                                       "CASCADE")
        else:
            connection.execute(DropTable(table))
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")
    setup.upgrade(connection, manifest["schema_revision"])
    tables = {table.name: table for table in reflect_tables(connection)}
    loader = _Loader(connection, tables, manifest, source, staging)
    with reading(source) as tar:
        walk(source, tar, loader.take)
    loader.finish()
    return {name: _count(connection, table) for name, table in tables.items()}


def _count(connection: Connection, table: Table) -> int:
    return connection.scalar(select(func.count()).select_from(table)) or 0


def _held(connection: Connection, table: Table) -> int:
    """Rows that make a database not empty: `bianmin init` records its schema upgrade, and a system chain of
    nothing else is still a new database."""
    if table.name == SystemEvent.__tablename__:
        return connection.scalar(select(func.count()).select_from(table).where(
            table.c.kind != SystemEventKind.MIGRATION_APPLIED)) or 0
    if table.name == SystemChainHead.__tablename__:
        return _held(connection, SystemEvent.__table__)  # type: ignore[arg-type]
    return _count(connection, table)


class _Loader:
    """Rows inserted table by table in the archive's order; links to rows not yet inserted are set afterwards."""

    def __init__(self, connection: Connection, tables: dict[str, Table], manifest: dict[str, Any],
                 source: Path, staging: Path) -> None:
        self.connection, self.tables, self.source, self.staging = connection, tables, source, staging
        self.columns = {name: table["columns"] for name, table in manifest["tables"].items()}
        # Matched by name: SQLite's batch migrations and PostgreSQL's ALTER may leave columns in different orders.
        mismatched = sorted(name for name in tables.keys() | self.columns.keys()
                            if name not in tables or name not in self.columns
                            or set(tables[name].columns.keys()) != {column for column, _ in self.columns[name]})
        if mismatched:
            raise BackupRefused(f"备份中的数据表与数据库结构 {manifest['schema_revision']} 不符"
                                f"（{'、'.join(mismatched)}），未恢复任何数据：备份文件可能被改动过")
        for table in tables.values():
            for column in table.columns:
                if isinstance(column.type, JSON):
                    # SQL NULL stays NULL; a stored JSON null arrives as JSON.NULL.
                    column.type = type(column.type)(none_as_null=True)
        self.loaded: set[str] = set()
        self.later: list[tuple[Table, str, list[dict[str, Any]]]] = []

    def take(self, name: str, pieces: Iterator[bytes]) -> None:
        if name.startswith(ATTACHMENTS):
            path = self.staging / name.removeprefix(ATTACHMENTS)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as file:
                for chunk in pieces:
                    file.write(chunk)
            return
        table = self.tables[name.removeprefix(TABLES).removesuffix(".jsonl")]
        # A link to a row of a table not yet inserted (its own, or one in a cycle) is set once all rows are in.
        deferred = {fk.parent.name for fk in table.foreign_keys
                    if fk.parent.nullable and fk.column.table.name not in self.loaded}
        keys = [column.name for column in table.primary_key.columns]
        links: dict[str, list[dict[str, Any]]] = {column: [] for column in deferred}
        batch: list[dict[str, Any]] = []
        for number, line in enumerate(pieces, 1):
            try:
                row = {name: decode(kind, value)
                       for (name, kind), value in zip(self.columns[table.name], json.loads(line), strict=True)}
            except (ValueError, TypeError) as exc:
                raise damaged(self.source, f"{name} 第 {number} 行无法读取") from exc
            for column in deferred:
                if row[column] is not None:
                    links[column].append({**{f"key_{key}": row[key] for key in keys}, "link": row[column]})
                    row[column] = None
            batch.append(row)
            if len(batch) == BATCH:
                self.connection.execute(table.insert(), batch)
                batch = []
        if batch:
            self.connection.execute(table.insert(), batch)
        self.loaded.add(table.name)
        self.later += [(table, column, rows) for column, rows in links.items() if rows]

    def finish(self) -> None:
        for table, column, rows in self.later:
            where = [table.c[key[4:]] == bindparam(key) for key in rows[0] if key.startswith("key_")]
            self.connection.execute(update(table).where(*where).values({column: bindparam("link")}), rows)
        if self.connection.dialect.name == "postgresql":
            self._reset_sequences()

    def _reset_sequences(self) -> None:
        """Ids were inserted as they were: each serial's next value follows the highest id restored."""
        for table in self.tables.values():
            for column in table.primary_key.columns:
                sequence = self.connection.scalar(text("SELECT pg_get_serial_sequence(:table, :column)"),
                                                  {"table": table.name, "column": column.name})
                if sequence is None:
                    continue
                top = self.connection.scalar(select(func.max(column)))
                self.connection.execute(text("SELECT setval(:sequence, :value, :called)"),
                                        {"sequence": sequence, "value": top or 1, "called": top is not None})


def _replace_folder(staging: Path, folder: Path) -> None:
    """The restored attachments take the folder's place (what was there is removed: the target was empty or forced)."""
    old = folder.parent / f".{folder.name}.replaced"
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    if staging.exists():
        os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def _verify_chains(db: Database) -> dict[str, list[str]]:
    with db.read() as session:
        return {checked.case_number: [finding.message for finding in checked.findings]
                for checked in chain.verify_all(session) if checked.findings}
