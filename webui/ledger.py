"""台账: the jurisdiction's cases, searched, filtered and paged, and exported to Excel or CSV with the same filters."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from engine import clock
from engine.audit import desk
from engine.cases import ledger
from engine.errors import ValidationFailed
from engine.people.access import Staff

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("ledger", __name__)

# The export's columns, in order.
COLUMNS = ("col_case_number", "col_applicant", "col_id_number", "ledger_col_phone", "col_item", "col_village",
           "ledger_col_handler", "col_accepted", "ledger_col_promised", "ledger_col_completed", "ledger_col_result",
           "ledger_col_timeliness", "ledger_col_rating")
# Column widths in the workbook, in characters: long item names and 18-digit numbers stay readable when opened.
WIDTHS = (20, 10, 21, 15, 24, 14, 10, 17, 14, 17, 12, 10, 10)
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv; charset=utf-8"}


def result_text(line: ledger.Line) -> str:
    """The status and result as the auditor's desk words them (办理中, 办结 · 准予 …)."""
    code = (line.result or "completed") if line.status == "completed" else line.status
    return t(f"audit_result_{code}")


def timeliness_text(line: ledger.Line) -> str:
    return t(f"ledger_{line.timeliness}") if line.timeliness else ""


def promised_text(line: ledger.Line) -> str:
    if line.promised_date is None:
        return line.promised_note or ""
    return line.promised_date.isoformat() + (t("ledger_provisional") if line.promised_provisional else "")


def _local(moment: datetime | None) -> datetime | None:
    """Shanghai wall time without a zone: what a spreadsheet cell can hold."""
    return moment.astimezone(clock.SHANGHAI).replace(tzinfo=None, microsecond=0) if moment else None


def cells(line: ledger.Line) -> list[str | datetime | date | None]:
    return [line.case_number, line.applicant, line.id_number, line.phone, line.item_name, line.village,
            line.handler, _local(line.accepted_at), promised_text(line), _local(line.completed_at),
            result_text(line), timeliness_text(line), line.rating or ""]


def xlsx(lines: Iterable[ledger.Line]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(t("ledger_title"))
    for index, width in enumerate(WIDTHS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.append([t(key) for key in COLUMNS])
    for line in lines:
        sheet.append(cells(line))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_text(lines: Iterable[ledger.Line]) -> str:
    out = io.StringIO()
    # The byte-order mark makes Excel read the file as UTF-8 rather than as GBK.
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([t(key) for key in COLUMNS])
    for line in lines:
        writer.writerow(["" if cell is None else cell.isoformat(sep=" ") if isinstance(cell, datetime) else cell
                         for cell in cells(line)])
    return out.getvalue()


def export(user: Staff, wanted: desk.Search, kind: str) -> Response:
    """Every line the search finds (all pages) as an .xlsx or .csv download."""
    with helpers.services().db.read() as db:
        lines = list(ledger.every_line(db, user, wanted))
    body: bytes | str = xlsx(lines) if kind == "xlsx" else csv_text(lines)
    name = f"{t('ledger_title')}-{clock.local_now():%Y%m%d-%H%M}.{kind}"
    return Response(body, mimetype=MEDIA[kind], headers={
        "Content-Disposition": f"attachment; filename=ledger.{kind}; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


def _wanted() -> tuple[desk.Search, list[str] | None]:
    try:
        return desk.search_from(request.args), None
    except ValidationFailed as exc:
        return desk.Search(), exc.details


@bp.route("/ledger")
@login_required
def index() -> Any:
    wanted, problem = _wanted()
    with helpers.services().db.read() as db:
        found = ledger.page(db, g.user, wanted)
        choices = desk.choices(db, g.user)
    return render_template("ledger.html", wanted=wanted, found=found, choices=choices, problem=problem,
                           results=desk.RESULTS, result_text=result_text,
                           timeliness_text=timeliness_text), 422 if problem else 200


@bp.route("/ledger.<any(xlsx, csv):kind>")
@login_required
def download(kind: str) -> Any:
    return export(g.user, desk.search_from(request.args), kind)


@bp.route("/cases")
@login_required
def case_list() -> Any:
    """The former case list is the ledger now; its links (status, card, q) keep working."""
    return redirect(url_for("ledger.index", **request.args))
