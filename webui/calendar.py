"""节假日日历: administrators see the entered years and the provisional ones in use, preview and enter a year."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine.deadlines import calendar, promised, statutory
from engine.errors import BianminError, Forbidden
from engine.people import access

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("calendar", __name__)

# A web request recounts this many batches itself; the scheduler recounts the rest within its next ticks.
WEB_BATCHES = 1


def _admin() -> None:
    if not access.may_manage_calendar(g.user):
        raise Forbidden("只有系统管理员可以维护节假日日历")


def _page(text: str = "", entries: list[calendar.YearEntry] | None = None, error: BianminError | None = None,
          replace: bool = False, status: int = 200) -> Any:
    with helpers.services().db.read() as session:
        years, in_use = calendar.entered(session), calendar.provisional_in_use(session)
    preview = [(entry, _runs(entry.holidays), calendar.missing_statutory(entry)) for entry in entries or []]
    return render_template("calendar.html", years=years, in_use=in_use, text=text, preview=preview, error=error,
                           replace=replace, statutory_years=(statutory.FIRST_YEAR, statutory.LAST_YEAR)), status


def _runs(days: dict[date, str]) -> list[tuple[str, date, date, int]]:
    """Days off as the notice reads them: (name, first, last, count) for each run of consecutive days, in order."""
    runs: list[tuple[str, date, date, int]] = []
    for day, name in sorted(days.items()):
        if runs and runs[-1][0] == name and runs[-1][2] + timedelta(days=1) == day:
            runs[-1] = (name, runs[-1][1], day, runs[-1][3] + 1)
        else:
            runs.append((name, day, day, 1))
    return runs


@bp.route("/calendar")
@login_required
def index() -> Any:
    _admin()
    return _page()


def _sent_text() -> tuple[str, str]:
    """The notice as uploaded (a file wins over the pasted text) and the name errors call it by."""
    upload = request.files.get("notice_file")
    if upload is not None and upload.filename:
        try:
            return upload.read().decode("utf-8"), upload.filename
        except UnicodeDecodeError as exc:
            raise calendar.CalendarRefused(f"{upload.filename}：文件应为 UTF-8 编码") from exc
    return request.form.get("notice_text", ""), t("calendar_pasted")


@bp.post("/calendar")
@login_required
def enter() -> Any:
    _admin()
    replace = request.form.get("replace") == "1"
    text = ""
    try:
        text, name = _sent_text()
        entries = calendar.parse_notice(text, name)
        if request.form.get("action") != "enter":
            return _page(text, entries, replace=replace)
        years, recounted = promised.enter_years(helpers.services().cases, entries, replace=replace,
                                                batches=WEB_BATCHES, by=g.user)
    except BianminError as exc:
        return _page(text, error=exc, replace=replace, status=exc.status)
    flash(t("calendar_entered", years="、".join(str(year) for year in years), n=recounted), "success")
    return redirect(url_for("calendar.index"))
