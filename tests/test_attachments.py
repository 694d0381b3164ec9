"""Attachments: scans checked by content and size, stored once by SHA-256, versioned per material, never overwritten."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from engine import backup, restore
from engine.cases import attachments
from engine.cases.locking import actor
from engine.cases.outcomes import Outcome, Window
from engine.errors import Forbidden, NotFound, ValidationFailed
from engine.models import Attachment, CaseEvent
from engine.services import Services
from tests.conftest import make_services, user_id
from tests.test_backup import empty_database
from tests.test_engine import drive, start
from tests.test_intake import register, ticks

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + b"0" * 4000
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x11" * 3000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x22" * 2000
SLOT = "户口簿及家庭成员身份证复印件"


def store(tmp: Path, mb: float = 1) -> attachments.Store:
    return attachments.Store(tmp / "attachments", int(mb * 1024 * 1024))


def upload(svc: Services, where: attachments.Store, case_id: int, data: bytes, name: str = "户口簿.pdf",
           who: str = "dongpo_agent", slot: str = SLOT) -> Attachment:
    return attachments.add(svc.cases, where, user_id(svc, who), case_id, slot, name, io.BytesIO(data))


def test_a_scan_is_kept_by_its_sha256_with_a_history_event(services: Services, tmp_path: Path) -> None:
    where = store(tmp_path)
    case = start(services)
    row = upload(services, where, case.id, PDF, "C:\\扫描\\户口簿第1页.pdf")
    assert (row.slot, row.version, row.media_type, row.size, row.filename) == (
        SLOT, 1, "application/pdf", len(PDF), "户口簿第1页.pdf")
    assert where.path(row.sha256).read_bytes() == PDF
    with services.db.read() as session:
        event = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                .order_by(CaseEvent.seq.desc())).first()
    assert event.kind == "attachment_added" and event.after["sha256"] == row.sha256
    assert event.actor_id == user_id(services, "dongpo_agent") and event.after["slot"] == SLOT


@pytest.mark.parametrize(("data", "name"), [
    (b"GIF89a" + b"\x00" * 100, "照片.png"),            # a GIF renamed .png
    (b"MZ\x90\x00" + b"\x00" * 100, "申请书.pdf"),      # a program renamed .pdf
    (b"<html><script>alert(1)</script>", "scan.jpg"),
])
def test_the_type_is_told_by_content_not_by_the_name(services: Services, tmp_path: Path, data: bytes,
                                                    name: str) -> None:
    where = store(tmp_path)
    case = start(services)
    with pytest.raises(ValidationFailed, match="PDF、JPEG 或 PNG"):
        upload(services, where, case.id, data, name)
    # Nothing is left behind: no row, and no file beside the store (temporary files are removed).
    with services.db.read() as session:
        assert session.scalars(select(Attachment).where(Attachment.case_id == case.id)).all() == []
    assert [p for p in where.folder.rglob("*") if p.is_file()] == []


def test_jpeg_and_png_are_accepted_whatever_their_names(services: Services, tmp_path: Path) -> None:
    where = store(tmp_path)
    case = start(services)
    assert upload(services, where, case.id, JPEG, "scan.pdf").media_type == "image/jpeg"
    assert upload(services, where, case.id, PNG, "no-extension").media_type == "image/png"


def test_a_scan_over_the_size_limit_is_refused_with_the_limit(services: Services, tmp_path: Path) -> None:
    case = start(services)
    with pytest.raises(ValidationFailed, match="超过 0.5 MB 的上限"):
        upload(services, store(tmp_path, 0.5), case.id, PDF + b"0" * (600 * 1024))
    assert upload(services, store(tmp_path, 1), case.id, PDF + b"0" * (600 * 1024)).version >= 1


def test_a_new_upload_is_a_new_version_and_the_old_one_stays(services: Services, tmp_path: Path) -> None:
    where = store(tmp_path)
    case = start(services)
    first = upload(services, where, case.id, PDF)
    second = upload(services, where, case.id, PDF.replace(b"Catalog", b"Catalo2"), "户口簿-重扫.pdf")
    other = upload(services, where, case.id, JPEG, "现场照片.jpg", slot=attachments.OTHER_SLOT)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    with services.db.read() as session:
        listed = [(row.slot, row.version) for row in attachments.of_case(session, case.id)]
    # Each slot lists its newest version first.
    assert [row for row in listed if row[0] == SLOT] == [(SLOT, 2), (SLOT, 1)]
    assert (attachments.OTHER_SLOT, 1) in listed and len(listed) == 3
    assert where.path(first.sha256).read_bytes() == PDF
    assert first.sha256 != second.sha256


def test_the_same_bytes_twice_are_one_file_never_overwritten(services: Services, tmp_path: Path) -> None:
    where = store(tmp_path)
    case = start(services)
    first = upload(services, where, case.id, PDF)
    stored = where.path(first.sha256)
    inode = stored.stat().st_ino
    again = upload(services, where, case.id, PDF, "again.pdf")
    assert again.sha256 == first.sha256 and again.version == 2
    assert stored.stat().st_ino == inode
    assert len([p for p in where.folder.rglob("*") if p.is_file()]) == 1


def test_only_a_listed_material_or_other_is_a_slot(services: Services, tmp_path: Path) -> None:
    case = start(services)
    with pytest.raises(ValidationFailed, match="材料名称"):
        upload(services, store(tmp_path), case.id, PDF, slot="营业执照")


def test_who_may_upload_and_read(services: Services, tmp_path: Path) -> None:
    where = store(tmp_path)
    case = start(services)
    # Another village's agent does not see the case; the supervisor sees it but does not handle it.
    with pytest.raises(NotFound):
        upload(services, where, case.id, PDF, who="liulin_agent")
    with pytest.raises(Forbidden, match="办理该办件的人员"):
        upload(services, where, case.id, PDF, who="supervisor")
    row = upload(services, where, case.id, PDF)
    with services.db.read() as session:
        assert attachments.readable(session, actor(session, user_id(services, "supervisor")), row.id).id == row.id
        with pytest.raises(Forbidden):
            attachments.readable(session, actor(session, user_id(services, "liulin_agent")), row.id)
    final, _ = drive(services, case)
    assert final.status == "completed"
    with pytest.raises(Forbidden, match="办结前"):
        upload(services, where, case.id, PNG)


def test_a_case_waiting_at_the_window_takes_the_scan_it_waits_for(services: Services, tmp_path: Path) -> None:
    case = register(services, Window(ticks("家庭收入证明"), Outcome.SUPPLEMENT))
    assert case.status == "supplement"
    row = upload(services, store(tmp_path), case.id, PDF, "收入证明.pdf", slot="家庭收入证明")
    assert (row.slot, row.version) == ("家庭收入证明", 1)


def test_backup_and_restore_keep_the_scans(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "bianmin_attach_src")
    where = store(tmp_path)
    case = start(svc)
    row = upload(svc, where, case.id, PDF)
    archive = tmp_path / "county.tar.gz"
    backup.backup(svc.db, archive, where.folder)
    target = empty_database("sqlite", tmp_path, "bianmin_attach_dst")
    restored_folder = tmp_path / "restored"
    summary = restore.restore(target.db, archive, restored_folder)
    assert summary.broken == {} and summary.attachments == 1
    with target.db.read() as session:
        again = session.get(Attachment, row.id)
    assert again is not None and again.sha256 == row.sha256
    assert attachments.Store(restored_folder, 1).path(row.sha256).read_bytes() == PDF
    svc.db.dispose()
    target.db.dispose()
