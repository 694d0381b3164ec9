"""A case's written documents on the web: the printable page, its PDF, and the stylesheet both share."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, send_file, url_for
from sqlalchemy.orm import Session

from engine.audit import privacy
from engine.documents import rendering
from engine.errors import NotFound
from engine.models import Case, Document

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("documents", __name__)


def visible_document(db: Session, case_id: int, document_id: int) -> tuple[Case, Document]:
    """The document, if it belongs to a case the user may see; anything else answers as not found."""
    case = helpers.visible_case(db, case_id)
    document = db.get(Document, document_id)
    if document is None or document.case_id != case.id:
        raise NotFound("文书不存在")
    return case, document


@bp.route("/cases/<int:case_id>/documents/<int:document_id>")
@login_required
def document_page(case_id: int, document_id: int) -> Any:
    """The document as printed, alone on the page (no navigation): 打印 and the PDF above the sheet."""
    with helpers.services().db.read() as db:
        case, document = visible_document(db, case_id, document_id)
        page = rendering.Page(
            css_href=url_for("documents.stylesheet"), script_src=url_for("static", filename="report.js"),
            print_label=t("document_print"), pdf_href=url_for("documents.document_pdf", case_id=case.id,
                                                               document_id=document.id),
            pdf_label=t("document_pdf"), back_href=url_for("cases.case", case_id=case.id),
            back_label=t("report_back"))
        return rendering.render_html(db, document, clear=privacy.handles(db, g.user, case.id), page=page)


@bp.route("/cases/<int:case_id>/documents/<int:document_id>.pdf")
@login_required
def document_pdf(case_id: int, document_id: int) -> Any:
    with helpers.services().db.read() as db:
        _case, document = visible_document(db, case_id, document_id)
        clear = privacy.handles(db, g.user, case_id)
    return send_pdf(document, clear)


def send_pdf(document: Document, clear: bool) -> Any:
    """The PDF of a document the caller may see: those who handle its case get the ID number in clear."""
    svc = helpers.services()
    path = rendering.pdf_file(svc.db, document.id, svc.settings.attachments_dir, clear=clear)
    return send_file(path, mimetype="application/pdf", download_name=f"{document.title}-{document.number}.pdf")


@bp.route("/documents/document.css")
def stylesheet() -> Any:
    return send_file(rendering.STYLESHEET, mimetype="text/css", max_age=3600)
