"""Daily anchors: every chain's head at a day's end, written once to a file, and an edit before it found later."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, select, update

from engine import clock, scheduler
from engine.audit import anchors, system
from engine.models import AuditAnchor, Case, CaseEvent, SystemEvent, User
from engine.services import Services
from engine.vocabulary import SystemEventKind
from tests.tampering import SYSTEM, system_chain  # noqa: F401  (fixture)
from tests.test_chain import EVENTS, at, case, tamper  # noqa: F401  (fixture)
from webui.cli import main

DAY = date(2026, 3, 2)  # the pinned clock's day: the fixtures' events happen on it
NEXT_MORNING = datetime(2026, 3, 3, 8, 30, tzinfo=clock.SHANGHAI)


@pytest.fixture
def kept(services: Services, tmp_path: Path) -> Iterator[Path]:
    """Where this test's anchors go; the day's row is removed afterwards, so the next test may write it again."""
    yield tmp_path / "anchors"
    with services.db.write() as session:
        session.execute(delete(AuditAnchor))


def audit(svc: Services, directory: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, ["audit", *args],
                                env={"BIANMIN_DATABASE_URL": svc.db.url, "BIANMIN_ANCHORS": str(directory)})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def anchored(svc: Services, directory: Path) -> tuple[AuditAnchor, dict]:
    clock.set_now(NEXT_MORNING)
    row = anchors.write(svc.db, directory, DAY)
    assert row is not None
    return row, anchors.read_file(Path(row.path))


def test_an_anchor_digests_every_head_at_the_days_end(services: Services, case: Case,  # noqa: F811
                                                      kept: Path) -> None:
    with services.db.write() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        system.append(session, SystemEventKind.POST_BACK, admin, clock.now(), "qingshui_civil")
    row, document = anchored(services, kept)
    assert Path(row.path) == kept / "2026-03-02.json"
    with services.db.read() as session:
        head = session.execute(select(Case.event_count, Case.last_event_hash).where(Case.id == case.id)).one()
        system_head = session.scalar(select(SystemEvent).order_by(SystemEvent.seq.desc()).limit(1))
    assert f"case:{case.id}:{head.event_count}:{head.last_event_hash}" in document["lines"]
    assert system_head is not None and f"system:{system_head.seq}:{system_head.hash}" in document["lines"]
    assert document["lines"] == sorted(document["lines"])
    assert document["digest"] == row.digest == hashlib.sha256("\n".join(document["lines"]).encode()).hexdigest()
    cases = [line for line in document["lines"] if line.startswith("case:")]
    assert row.counts == document["counts"] == {
        "cases": len(cases), "case_events": sum(int(line.split(":")[2]) for line in cases),
        "system_events": system_head.seq}

    # What happens after the day's end does not touch its anchor.
    with services.db.write() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        system.append(session, SystemEventKind.POST_AWAY, admin, clock.now(), "qingshui_civil")
    result = audit(services, kept, "check-anchor", row.path)
    assert result.exit_code == 0 and "一致：2026-03-02 的锚点与数据库相符" in result.output, result.output
    by_digest = audit(services, kept, "check-anchor", "--digest", row.digest, "--date", "2026-03-02")
    assert by_digest.exit_code == 0 and "一致" in by_digest.output


def test_an_anchor_is_written_once_and_not_for_a_day_not_over(services: Services, kept: Path) -> None:
    clock.set_now(NEXT_MORNING)
    first = audit(services, kept, "anchor")
    assert first.exit_code == 0 and "已生成 2026-03-02 的锚点" in first.output, first.output
    again = audit(services, kept, "anchor", "--date", "2026-03-02")
    assert again.exit_code == 0 and "已存在 2026-03-02 的锚点" in again.output
    today = audit(services, kept, "anchor", "--date", "2026-03-03")
    assert today.exit_code == 2 and "2026-03-03 尚未结束" in today.output
    assert [path.name for path in kept.iterdir()] == ["2026-03-02.json"]


def test_a_rehashed_case_event_before_the_anchor_names_the_case(services: Services, case: Case,  # noqa: F811
                                                                kept: Path) -> None:
    row, _ = anchored(services, kept)
    tamper(services, update(EVENTS).where(at(case, 7)).values(hash="f" * 64))
    result = audit(services, kept, "check-anchor", row.path)
    assert result.exit_code == 1, result.output
    assert f"办件 {case.case_number}：第 7 条记录的哈希与锚点不符" in result.output
    by_digest = audit(services, kept, "check-anchor", "--digest", row.digest, "--date", "2026-03-02")
    assert by_digest.exit_code == 1 and f"办件 {case.case_number}：第 7 条" in by_digest.output


def test_an_edit_that_keeps_the_head_is_found_reading_back_from_it(services: Services, case: Case,  # noqa: F811
                                                                   kept: Path) -> None:
    row, document = anchored(services, kept)
    tamper(services, update(EVENTS).where(at(case, 3)).values(actor_name="县民政局"))
    with services.db.read() as session:
        checked = anchors.check_document(session, document)
    assert checked.differences == [f"办件 {case.case_number}：第 3 条记录被改动过：内容与其哈希不符"]


def test_an_altered_system_event_names_the_system_chain(services: Services, system_chain: list,  # noqa: F811
                                                        kept: Path) -> None:
    row, _ = anchored(services, kept)
    seq = system_chain[-2]["seq"]
    tamper(services, update(SYSTEM).where(SYSTEM.c.seq == seq).values(subject="wang_wu"))
    result = audit(services, kept, "check-anchor", row.path)
    assert result.exit_code == 1 and f"系统记录：第 {seq} 条记录被改动过" in result.output, result.output
    last = system_chain[-1]["seq"]
    tamper(services, update(SYSTEM).where(SYSTEM.c.seq == last).values(hash="e" * 64))
    result = audit(services, kept, "check-anchor", row.path)
    assert f"系统记录：第 {last} 条记录的哈希与锚点不符" in result.output, result.output


def test_an_edited_anchor_file_or_a_wrong_digest_is_told_apart(services: Services, kept: Path) -> None:
    row, document = anchored(services, kept)
    forged = kept / "forged.json"
    forged.write_text(json.dumps(document | {"lines": document["lines"][1:]}), "utf-8")
    result = audit(services, kept, "check-anchor", str(forged))
    assert result.exit_code == 1 and "锚点文件本身被改动过" in result.output
    Path(row.path).unlink()
    result = audit(services, kept, "check-anchor", "--digest", "0" * 64, "--date", "2026-03-02")
    assert result.exit_code == 1 and "无法指出是哪条记录链" in result.output
    assert audit(services, kept, "check-anchor").exit_code == 2
    assert audit(services, kept, "check-anchor", str(kept / "absent.json")).exit_code == 2


def test_the_scheduler_writes_yesterdays_anchor_once_across_processes(services: Services, kept: Path) -> None:
    clock.set_now(NEXT_MORNING)
    results: list[int] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            results.append(scheduler.write_anchor(services.db, kept))
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and sorted(results) == [0, 0, 0, 1]
    assert scheduler.write_anchor(services.db, kept) == 0
    with services.db.read() as session:
        assert [row.day for row in session.scalars(select(AuditAnchor))] == [DAY]
    assert [path.name for path in kept.iterdir()] == ["2026-03-02.json"]


def test_a_large_anchor_is_written_compressed_and_still_checks(services: Services, kept: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(anchors, "GZIP_ABOVE", 200)  # a county's size in a test's few cases
    row, document = anchored(services, kept)
    path = Path(row.path)
    assert path.name == "2026-03-02.json.gz" and path.read_bytes()[:2] == b"\x1f\x8b"
    assert document["digest"] == row.digest
    result = audit(services, kept, "check-anchor", str(path))
    assert result.exit_code == 0 and "一致" in result.output, result.output


def test_case_events_after_the_day_are_left_out(services: Services, case: Case, kept: Path) -> None:  # noqa: F811
    later = NEXT_MORNING + timedelta(hours=2)
    tamper(services, update(EVENTS).where(at(case, 7)).values(at=later))  # as if the last event came next day
    with services.db.read() as session:
        heads = {head.case_id: head for head in anchors.heads(session, DAY)}
        sixth = session.scalar(select(CaseEvent.hash).where(at(case, 6)))
    assert heads[case.id].seq == 6 and heads[case.id].hash == sixth
