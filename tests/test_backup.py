"""`bianmin backup` / `restore`: a county's database and attachments restored into an empty SQLite or PostgreSQL."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import JSON, Connection, MetaData, Text, cast, event, func, insert, inspect, select

from engine import backup, clock, restore, setup
from engine.audit import chain
from engine.backup import BackupRefused, Summary
from engine.models import ApiToken, Base, CalendarYear, Case, CaseEvent, Task
from engine.procedures.deploy import deploy_folders
from engine.services import Services, open_services
from tests.conftest import TEST_START, fresh_pg_url, make_services, user_id
from tests.procedures import AID_APPLICATION, AID_ITEM, AID_SCRIPTS, applicant, dibao_with_scripts
from tests.test_engine import DONGPO, drive, form, holder, open_tasks, start
from webui.cli import main

KINDS = ["sqlite", "postgresql"]
PDF = b"%PDF-1.4\n\x00\xff\xfe binary scan of a hukou page\n" * 500


def empty_database(kind: str, tmp: Path, name: str) -> Services:
    url = f"sqlite:///{tmp / (name + '.db')}" if kind == "sqlite" else fresh_pg_url(f"{name}_{os.getpid()}")
    return open_services(url)


def county_in_every_state(svc: Services, parent: Path) -> dict[str, int]:
    """Cases approved, rejected, waiting for a post, claimed, in 公示 and with script-set values; their ids."""
    clock.set_now(TEST_START)
    approved, rejected = start(svc), start(svc, "MZ-TEKUN")
    drive(svc, approved)
    drive(svc, rejected, reject_at="village_review")
    waiting = start(svc, "ZR-ZHAIJIDI")
    claimed = start(svc)
    [task] = open_tasks(svc, claimed.id)
    svc.cases.claim(holder(svc, task), task.id)
    in_notice = start(svc)
    while tasks := open_tasks(svc, in_notice.id):  # the village's opinion, the town's investigation and 初审
        svc.cases.complete(holder(svc, tasks[0]), tasks[0].id, form(svc, tasks[0], "approve"))
    with svc.db.write() as session:
        deploy_folders(session, [dibao_with_scripts(parent, AID_ITEM, AID_SCRIPTS)], svc.settings.max_diagram_bytes)
    scripted = svc.cases.start_case(user_id(svc, "dongpo_agent"), AID_ITEM, DONGPO, applicant(), AID_APPLICATION).case
    return {"approved": approved.id, "rejected": rejected.id, "waiting": waiting.id, "claimed": claimed.id,
            "in_notice": in_notice.id, "scripted": scripted.id}


def attachments(folder: Path) -> Path:
    (folder / "2026" / "03").mkdir(parents=True)
    (folder / "2026" / "03" / "户口簿.pdf").write_bytes(PDF)
    (folder / "readme.txt").write_text("材料扫描件\n", "utf-8")
    return folder


class Source:
    def __init__(self, svc: Services, cases: dict[str, int], files: Path, archive: Path, summary: Summary) -> None:
        self.svc, self.cases, self.files, self.archive, self.summary = svc, cases, files, archive, summary


@pytest.fixture(scope="module", params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    tmp = tmp_path_factory.mktemp(f"backup_{request.param}")
    svc = make_services(request.param, tmp, "bianmin_backup_src")
    cases = county_in_every_state(svc, tmp)
    files = attachments(tmp / "attachments")
    archive = tmp / "county.tar.gz"
    summary = backup.backup(svc.db, archive, files)
    yield Source(svc, cases, files, archive, summary)
    svc.db.dispose()


def table_rows(svc: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as the application reads it; JSON as stored text (JSON null is not SQL NULL)."""
    found = {}
    with svc.db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [cast(c, Text) if isinstance(c.type, JSON) else c for c in table.columns]
            found[table.name] = [tuple(row) for row in
                                 connection.execute(select(*columns).order_by(*table.primary_key.columns))]
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_a_backup_restores_into_an_empty_database_of_either_kind_and_the_county_works_on(
    source: Source, kind: str, tmp_path: Path
) -> None:
    assert source.archive.stat().st_mode & 0o077 == 0  # password hashes and applicants' data: owner only
    target = empty_database(kind, tmp_path, "bianmin_backup_dst")
    files = tmp_path / "attachments"
    restored = restore.restore(target.db, source.archive, files)

    assert restored.broken == {} and restored.cases == 6 and restored.attachments == 2
    assert restored.rows == source.summary.rows and restored.rows["case_event"] > 25
    assert table_rows(target) == table_rows(source.svc)
    assert (files / "2026" / "03" / "户口簿.pdf").read_bytes() == PDF
    assert (files / "readme.txt").read_text("utf-8") == "材料扫描件\n"
    with target.db.read() as session:
        for case_id in source.cases.values():
            assert chain.verify(session, case_id) == []
        scripted = session.get(Case, source.cases["scripted"])
        assert scripted.variables == {"aid_amount": 300, "eligible": True, "note": "待村委会核实",
                                      "review_by": "2026-03-16T00:00:00"}

    # The restored county goes on: the claimed task is completed, the 公示 ends, new cases get new ids and numbers.
    [task] = open_tasks(target, source.cases["claimed"])
    assert task.assignee_id is not None
    target.cases.complete(task.assignee_id, task.id, form(target, task, "approve"))
    clock.travel(timedelta(days=60))  # the source's cases were accepted as its clock moved on
    assert target.cases.run_due_timers() == 1  # the 公示 of the case posted before the backup
    assert [t.element_id for t in open_tasks(target, source.cases["in_notice"])] == ["publicity_confirm"]
    newer = start(target)
    assert newer.id > max(source.cases.values())
    with target.db.read() as session:
        assert chain.verify(session, source.cases["claimed"]) == []
        numbers = session.scalars(select(Case.case_number).where(Case.item_code == "MZ-DIBAO")).all()
    assert len(set(numbers)) == len(numbers) == 4
    target.db.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_a_backup_is_one_moment_while_cases_keep_changing(kind: str, tmp_path: Path) -> None:
    svc = make_services(kind, tmp_path, "bianmin_backup_busy")
    first = start(svc)
    written: list[str] = []

    # A clerk accepts a case and completes a task just as the backup reaches the history table.
    def meanwhile(_conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM case_event" in statement and not written:
            written.append(statement)
            start(svc)
            [task] = open_tasks(svc, first.id)
            svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))

    event.listen(svc.db.engine, "before_cursor_execute", meanwhile)
    summary = backup.backup(svc.db, tmp_path / "busy.tar.gz", tmp_path / "none")
    event.remove(svc.db.engine, "before_cursor_execute", meanwhile)
    assert written and summary.cases == 1 and summary.rows["case_event"] == 2

    target = empty_database("sqlite", tmp_path, "bianmin_busy_dst")
    restored = restore.restore(target.db, tmp_path / "busy.tar.gz", tmp_path / "files")
    assert restored.broken == {} and restored.cases == 1
    assert [t.element_id for t in open_tasks(target, first.id)] == ["village_review"]
    svc.db.dispose()
    target.db.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_a_database_holding_data_is_refused_unless_forced(source: Source, kind: str, tmp_path: Path) -> None:
    initialised = empty_database("sqlite", tmp_path, "bianmin_initialised")
    setup.init(initialised.db)  # roles and the holiday calendar only: still empty
    assert restore.restore(initialised.db, source.archive, tmp_path / "a").cases == 6

    busy = make_services(kind, tmp_path, "bianmin_busy")
    start(busy)
    before = table_rows(busy)
    with pytest.raises(BackupRefused, match="目标数据库不是空的") as refused:
        restore.restore(busy.db, source.archive, tmp_path / "b")
    users = len(before["user_account"])
    assert "--force" in refused.value.message and f"user_account：{users} 行" in refused.value.details
    assert table_rows(busy) == before

    files = attachments(tmp_path / "c")
    empty = empty_database("sqlite", tmp_path, "bianmin_attachments_only")
    with pytest.raises(BackupRefused) as refused:
        restore.restore(empty.db, source.archive, files)
    assert refused.value.details == [f"附件目录 {files}：2 个文件"]
    assert inspect(empty.db.engine).get_table_names() == []

    forced = restore.restore(busy.db, source.archive, tmp_path / "b", force=True)
    assert forced.broken == {} and forced.rows == source.summary.rows
    assert table_rows(busy) == table_rows(source.svc)
    for svc in (initialised, busy, empty):
        svc.db.dispose()


def rewritten(archive: Path, out: Path, change: Any) -> Path:
    """The archive re-packed with `change(name, data)` applied to each member (a well-formed gzip and tar)."""
    with tarfile.open(archive, "r:gz") as tar:
        members = [(info.name, tar.extractfile(info).read()) for info in tar]  # type: ignore[union-attr]
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members:
            data = change(name, data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def edited_manifest(**changes: Any) -> Any:
    def change(name: str, data: bytes) -> bytes:
        if name != backup.MANIFEST:
            return data
        return json.dumps({**json.loads(data), **changes}).encode()
    return change


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_or_newer_backup_is_refused_and_nothing_is_written(source: Source, kind: str,
                                                                     tmp_path: Path) -> None:
    target = empty_database(kind, tmp_path, "bianmin_backup_refused")
    whole = source.archive.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(whole[: len(whole) * 2 // 3])
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(whole[:5000] + bytes([whole[5000] ^ 0x40]) + whole[5001:])
    not_gzip = tmp_path / "notes.tar.gz"
    not_gzip.write_text("这不是备份", "utf-8")

    def altered_event(name: str, data: bytes) -> bytes:
        return data.replace(b'"case_completed"', b'"case_rejected"', 1) if name == "tables/case_event.jsonl" else data

    altered = rewritten(source.archive, tmp_path / "altered.tar.gz", altered_event)
    cut_rows = rewritten(source.archive, tmp_path / "cut.tar.gz",
                         lambda name, data: data.split(b"\n", 1)[1] if name == "tables/task.jsonl" else data)
    newer = rewritten(source.archive, tmp_path / "newer.tar.gz", edited_manifest(schema_revision="9999"))
    later_format = rewritten(source.archive, tmp_path / "later.tar.gz", edited_manifest(format_version=2))

    expected = {
        truncated: "已损坏或不完整（文件被截断或内容出错）", flipped: "已损坏或不完整",
        not_gzip: "已损坏或不完整", altered: "tables/case_event.jsonl 的校验值不符",
        cut_rows: "tables/task.jsonl 的校验值不符",
        newer: "来自更新的数据库结构（版本 9999），本程序的最新结构是 " + setup.head_revision(),
        later_format: "由更新版本的便民系统生成（备份格式 2）",
    }
    for archive, message in expected.items():
        with pytest.raises(BackupRefused) as refused:
            restore.restore(target.db, archive, tmp_path / "files")
        assert message in refused.value.message, archive.name
        assert inspect(target.db.engine).get_table_names() == [], archive.name
        assert not (tmp_path / "files").exists() and not list(tmp_path.glob(".files.*"))
    target.db.dispose()


@pytest.mark.parametrize("kind", KINDS)
def test_a_backup_of_an_older_schema_is_restored_and_migrated_to_this_head(kind: str, tmp_path: Path) -> None:
    old = empty_database("sqlite", tmp_path, "bianmin_old")
    with old.db.engine.begin() as connection:
        setup.upgrade(connection, "0002")
        metadata = MetaData()
        metadata.reflect(connection)
        rows = {
            "role": {"code": "admin", "name": "系统管理员", "level": "county"},
            "org_unit": {"id": 1, "code": "510123", "name": "青山县", "level": "county"},
            "user_account": {"id": 1, "username": "admin", "display_name": "管理员", "password_hash": "x",
                             "role_code": "admin", "org_id": 1, "post_rank": "A", "away": False, "active": True},
            # Rebuilt by migration 0003 on SQLite while the token row points at the account row.
            "api_token": {"id": 1, "user_id": 1, "token_hash": "0" * 64, "created_at": TEST_START, "revoked": False},
            "calendar_year": {"year": 2025, "source": "国办发明电〔2024〕12号"},
        }
        for name, row in rows.items():
            connection.execute(insert(metadata.tables[name]).values(row))
    summary = backup.backup(old.db, tmp_path / "old.tar.gz", tmp_path / "none")
    assert summary.revision == "0002"

    target = empty_database(kind, tmp_path, "bianmin_old_dst")
    restored = restore.restore(target.db, tmp_path / "old.tar.gz", tmp_path / "files")
    assert (restored.revision, restored.upgraded_to) == ("0002", setup.head_revision())
    with target.db.read() as session:
        assert session.get(CalendarYear, 2025).source == "国办发明电〔2024〕12号"
        token = session.get(ApiToken, 1)
        assert token.user.username == "admin" and token.user.session_version == 1 and token.expires_at > TEST_START
    setup.init(target.db)  # the restored database is at this code's head: init has nothing to migrate
    old.db.dispose()
    target.db.dispose()


def test_values_of_every_column_kind_travel_as_json_and_back() -> None:
    moment = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=clock.SHANGHAI)
    values = {"datetime": moment, "date": date(2026, 2, 28), "bytes": b"\x00\xff\n",
              "decimal": Decimal("350.50"), "plain": "王秀兰"}
    for kind, value in values.items():
        travelled = json.loads(json.dumps(backup.encode(kind, value)))
        assert backup.decode(kind, travelled) == value, kind
    assert backup.encode("datetime", datetime(2026, 3, 2, 1, 30)) == "2026-03-02T01:30:00+00:00"  # SQLite's UTC
    assert backup.decode("json", "null") is JSON.NULL and backup.decode("json", None) is None


def test_backup_and_restore_from_the_command_line(source: Source, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"BIANMIN_DATABASE_URL": source.svc.db.url, "BIANMIN_ATTACHMENTS": str(source.files)}
    archive = tmp_path / "nightly" / "county.tar.gz"
    made = runner.invoke(main, ["backup", str(archive)], env=env)
    assert made.exit_code == 0, made.output
    assert f"已备份到 {archive}" in made.output and "办件 6 件，附件 2 个" in made.output

    target = empty_database("sqlite", tmp_path, "bianmin_cli_dst")
    env = {"BIANMIN_DATABASE_URL": target.db.url, "BIANMIN_ATTACHMENTS": str(tmp_path / "files")}
    done = runner.invoke(main, ["restore", str(archive)], env=env)
    assert done.exit_code == 0, done.output
    assert "办件 6 件，附件 2 个" in done.output and "历史记录链校验：6 个办件全部完好" in done.output

    again = runner.invoke(main, ["restore", str(archive)], env=env)
    assert again.exit_code == 1 and "错误：目标数据库不是空的" in again.output and "case_record：6 行" in again.output
    assert runner.invoke(main, ["restore", "--force", str(archive)], env=env).exit_code == 0

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[:-100])
    refused = runner.invoke(main, ["restore", "--force", str(broken)], env=env)
    assert refused.exit_code == 1 and "备份文件 broken.tar.gz 已损坏或不完整" in refused.output
    with target.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == source.summary.rows["task"]
        assert session.scalar(select(func.count()).select_from(CaseEvent)) == source.summary.rows["case_event"]
    target.db.dispose()


def test_an_archive_without_a_manifest_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar.gz"
    with gzip.open(plain, "wb") as file:
        file.write(b"\x00" * 10240)  # an empty tar, gzipped: no manifest
    with pytest.raises(BackupRefused, match="文件为空"):
        backup.check(plain)


def test_a_database_never_set_up_is_not_backed_up(tmp_path: Path) -> None:
    empty = empty_database("sqlite", tmp_path, "bianmin_never_set_up")
    with pytest.raises(BackupRefused, match="数据库尚未建立.*先运行 bianmin init"):
        backup.backup(empty.db, tmp_path / "out" / "empty.tar.gz", tmp_path / "none")
    assert list((tmp_path / "out").iterdir()) == []
    empty.db.dispose()
