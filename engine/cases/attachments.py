"""Attachments: scans of a case's materials, checked by content, stored once by SHA-256, versioned per material."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import clock, userinput
from ..audit import chain, privacy
from ..errors import Forbidden, NotFound, ValidationFailed
from ..models import Attachment, Case
from ..people import access
from ..vocabulary import EventKind
from .context import Runtime
from .locking import actor as load_actor
from .locking import lock_case

OTHER_SLOT = "其他"
MAX_FILENAME_CHARS = 200
# What a scan may be, told by its first bytes whatever its name says (ISO 32000 %PDF-, JFIF/EXIF SOI, PNG signature).
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Store:
    """Where the bytes live (settings.attachments_dir) and the largest one scan may be (BIANMIN_ATTACHMENT_MB)."""

    folder: Path
    max_bytes: int

    def path(self, sha256: str) -> Path:
        return self.folder / sha256[:2] / sha256


def media_type(head: bytes) -> str | None:
    return next((kind for magic, kind, _ in SIGNATURES if head.startswith(magic)), None)


def slots(guide: dict[str, Any]) -> list[str]:
    """The item's materials (item.toml `[[materials]]`), then 其他 for anything else."""
    names = [str(row.get("name")) for row in guide.get("materials", []) if isinstance(row, dict) and row.get("name")]
    return [*names, OTHER_SLOT]


def _filename(name: str | None) -> str:
    # A browser may send the whole client path; only its last part names the file.
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    userinput.check_text(base, "文件名")
    return base[:MAX_FILENAME_CHARS] or "scan"


def _keep(store: Store, stream: IO[bytes]) -> tuple[str, int, str]:
    """Write the upload to a temporary file beside the store, check it, and link it under its SHA-256.

    An existing file of that name holds the same bytes, so it is kept and the new copy dropped: nothing is
    ever overwritten, and the same scan uploaded twice is one file.
    """
    store.folder.mkdir(parents=True, exist_ok=True)
    digest, size, head = hashlib.sha256(), 0, b""
    handle, temp_name = tempfile.mkstemp(dir=store.folder, prefix=".upload-")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > store.max_bytes:
                    limit = store.max_bytes / (1024 * 1024)
                    message = f"文件超过 {limit:g} MB 的上限，请压缩或分页扫描后再上传"
                    raise ValidationFailed(message, fields={"file": [message]})
                if len(head) < 16:
                    head += chunk[:16]
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        kind = media_type(head)
        if size == 0:
            raise ValidationFailed("文件是空的，请重新选择", fields={"file": ["文件是空的"]})
        if kind is None:
            message = "只能上传 PDF、JPEG 或 PNG 格式的扫描件（按文件内容判断，与扩展名无关）"
            raise ValidationFailed(message, fields={"file": [message]})
        sha = digest.hexdigest()
        final = store.path(sha)
        final.parent.mkdir(exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.link(temp, final)
        return sha, size, kind
    finally:
        temp.unlink(missing_ok=True)


def add(rt: Runtime, store: Store, actor_id: int, case_id: int, slot: str, filename: str | None,
        stream: IO[bytes]) -> Attachment:
    """A new version of the slot's scan; the bytes are kept before the row, so a row always has its file."""
    name = _filename(filename)
    with rt.db.read() as session:
        case = _check_uploader(session, load_actor(session, actor_id), session.get(Case, case_id))
        allowed = slots(rt.versions.get(session, case.version_id).guide)
    if slot not in allowed:
        message = "请选择材料名称（事项所需材料之一，或“其他”）"
        raise ValidationFailed(message, fields={"slot": [message]})
    # Checked before the bytes are written (nobody else fills the folder) and again under the case lock.
    sha, size, kind = _keep(store, stream)
    with rt.db.write() as session:
        actor = load_actor(session, actor_id)
        case = lock_case(session, case_id)
        _check_uploader(session, actor, case)
        version = (session.scalar(select(func.max(Attachment.version)).where(
            Attachment.case_id == case.id, Attachment.slot == slot)) or 0) + 1
        now = clock.now()
        row = Attachment(case_id=case.id, slot=slot, version=version, filename=name, media_type=kind, size=size,
                         sha256=sha, uploaded_by_id=actor.id, uploaded_at=now)
        session.add(row)
        session.flush()
        chain.append(session, case, EventKind.ATTACHMENT_ADDED, actor, now, after={
            "slot": slot, "attachment_version": version, "filename": name, "sha256": sha, "size": size})
        session.expunge(row)
        return row


def _check_uploader(session: Session, actor: access.Staff, case: Case | None) -> Case:
    handles = case is not None and privacy.handles(session, actor, case.id)
    if case is None or not (handles or access.may_see_case(actor, case)):
        raise NotFound("办件不存在")
    if not access.may_attach(handles, case.status):
        raise Forbidden("只有办理该办件的人员可以在办件办结前上传材料")
    return case


def of_case(session: Session, case_id: int) -> Sequence[Attachment]:
    """Every version of every slot, newest first within a slot."""
    return session.scalars(select(Attachment).where(Attachment.case_id == case_id)
                           .order_by(Attachment.slot, Attachment.version.desc())).all()


def readable(session: Session, user: access.Staff, attachment_id: int) -> Attachment:
    """The attachment if the user may see its case."""
    row = session.get(Attachment, attachment_id)
    case = session.get(Case, row.case_id) if row else None
    if row is None or case is None:
        raise NotFound("附件不存在")
    if not (access.may_see_case(user, case) or privacy.handles(session, user, case.id)):
        raise Forbidden("无权查看该办件的附件")
    return row
