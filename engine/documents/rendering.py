"""A document as the applicant gets it: HTML from its kind's Jinja2 template, and the PDF cached on disk."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import update
from sqlalchemy.orm import Session

from .. import clock
from ..db import Database
from ..errors import NotFound
from ..idcard import mask_id_number
from ..models import Case, Document, OrgUnit, ServiceItem
from ..vocabulary import DocumentKind

TEMPLATES = Path(__file__).resolve().parent / "templates"
STYLESHEET = TEMPLATES / "document.css"
# Under the attachments folder, so backups carry the PDFs as issued.
PDF_FOLDER = "documents"


@dataclass(frozen=True)
class Page:
    """What a screen page adds around the sheet (the PDF has none of it): stylesheet, print button, links."""

    css_href: str | None = None
    script_src: str | None = None
    print_label: str | None = None
    pdf_href: str | None = None
    pdf_label: str | None = None
    back_href: str | None = None
    back_label: str | None = None


def chinese_date(value: date | datetime | str) -> str:
    """2026年3月2日, the way a Chinese document is dated (a datetime in Beijing time)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(clock.SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def chinese_datetime(value: datetime | str) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(clock.SHANGHAI)
    return f"{chinese_date(local)} {local:%H:%M}"


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(chinese_date=chinese_date, chinese_datetime=chinese_datetime)
    return env


def render_html(session: Session, document: Document, *, clear: bool, page: Page | None = None) -> str:
    """The document's HTML; `clear` shows the applicant's ID number in full (for those who handle the case)."""
    case = session.get(Case, document.case_id)
    item = session.get(ServiceItem, case.item_code) if case else None
    office = session.get(OrgUnit, document.office_id)
    if case is None or office is None:
        raise ValueError(f"document {document.id} lost its case or office")
    return _environment().get_template(f"{DocumentKind(document.kind)}.html").render(
        doc=document, case=case, facts=document.facts, page=page or Page(),
        id_number=case.applicant_id_number if clear else mask_id_number(case.applicant_id_number),
        item_name=item.name if item else case.item_code, issued_on=chinese_date(document.issued_at),
        accepted_on=chinese_date(case.accepted_at),
        office_word="站" if office.level == "village" else "中心",
    )


def pdf_bytes(html: str) -> bytes:
    """The PDF of a document's HTML (no page furniture), laid out by WeasyPrint with the document stylesheet."""
    from weasyprint import CSS, HTML  # loads pango: only processes that print pay for it

    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf(stylesheets=[CSS(filename=str(STYLESHEET))])


def pdf_path(attachments_dir: Path, document: Document, *, clear: bool) -> Path:
    """Where a document's PDF is cached: the issued copy, and the masked one for staff who do not handle the case.

    The name carries the start of the facts' digest too, so a database rebuilt beside an old folder never serves
    another document's file under a reused id.
    """
    stem = f"{document.id}-{document.facts_sha256[:12]}"
    return attachments_dir / PDF_FOLDER / (f"{stem}.pdf" if clear else f"{stem}-masked.pdf")


def pdf_file(db: Database, document_id: int, attachments_dir: Path, *, clear: bool) -> Path:
    """The document's PDF, rendered and cached on first use; the caller has checked who may see it.

    The clear copy is the document as issued: its SHA-256 is kept on the row when first rendered.
    """
    with db.read() as session:
        document = session.get(Document, document_id)
        if document is None:
            raise NotFound("文书不存在")
        path = pdf_path(attachments_dir, document, clear=clear)
        if path.exists():
            return path
        html = render_html(session, document, clear=clear)
    data = pdf_bytes(html)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{time.monotonic_ns()}.part")
    partial.write_bytes(data)
    # Two requests racing for one document each write a whole file; the rename makes either one the copy.
    partial.replace(path)
    if clear:
        with db.write() as session:
            session.execute(update(Document).where(Document.id == document_id, Document.pdf_sha256.is_(None))
                            .values(pdf_sha256=hashlib.sha256(data).hexdigest()))
    return path
