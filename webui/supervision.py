"""电子监察 and 延期: the supervisors' desk with its charts and exports, asking for extensions and deciding them."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, send_from_directory, url_for
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.deadlines import extensions
from engine.errors import Forbidden, NotFound, ValidationFailed
from engine.models import Case, Task, User
from engine.people import access
from engine.supervision import desk
from engine.vocabulary import RatingLevel, TaskStatus
from engine.window import ratings

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("supervision", __name__)

ECHARTS_SCRIPT = "echarts.min.js"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- the desk ----------------------------------------------------------------------------------------


def _desk_user() -> User:
    if not access.may_use_desk(g.user):
        raise Forbidden("只有电子监察、审计和系统管理员可以查看电子监察台")
    return g.user


def _figures(db: Session, user: User, chosen: desk.Filters) -> dict[str, Any]:
    by = {dimension: desk.counts(db, user, chosen, dimension) for dimension in desk.DIMENSIONS}
    if chosen.town_id is None:
        by["town"] = desk.every_town(by["town"], desk.towns(db, user))
    return {"by": by, "totals": desk.totals(by["town"]), "carded": desk.carded(db, user, chosen)}


def _satisfaction(db: Session, user: User, chosen: desk.Filters) -> dict[str, Any]:
    """好差评 per accepting window and person over the desk's period."""
    lines = {by: ratings.satisfaction(db, user, chosen.period.start_at, chosen.period.end_before, by)
             for by in ratings.GROUPS}
    return {"satisfaction": lines, "satisfaction_totals": {by: ratings.totals(rows) for by, rows in lines.items()},
            "rating_levels": list(RatingLevel)}


@bp.route("/supervision")
@login_required
def index() -> Any:
    user = _desk_user()
    problem = None
    try:
        chosen = desk.filters(request.args)
    except ValidationFailed as exc:
        problem, chosen = exc.message, desk.filters({})
    with helpers.services().db.read() as db:
        figures = _figures(db, user, chosen)
        towns, items = desk.towns(db, user), desk.items(db)
        satisfaction = _satisfaction(db, user, chosen)
        chases = desk.chases(db, user, chosen)
    chart = {"towns": [{"name": line.label, **{f"{kind}_{name}": line.counts[kind][name] for kind in desk.KINDS
                                               for name in desk.MEASURES}} for line in figures["by"]["town"]],
             "items": [{"name": line.label, "overdue": line.overdue,
                        "yellow": sum(line.counts[k]["yellow"] for k in desk.KINDS)} for line in figures["by"]["item"]],
             "labels": {key: t(f"desk_{key}") for key in ("open", "yellow", "red", "late", "case", "step",
                                                          "overdue_total")}}
    return render_template("supervision.html", chosen=chosen, problem=problem, towns=towns, items=items,
                           chart=chart, today=clock.local_now().date(), limit=desk.LIST_LIMIT,
                           chases=chases, **figures, **satisfaction), 422 if problem else 200


def _carded_rows(carded: list[desk.Carded]) -> list[list[Any]]:
    rows = []
    for entry in carded:
        row = entry.row
        rows.append([t("desk_card_" + row.card), t("desk_" + row.kind), row.case_number, row.item_name, row.town_name,
                     row.name, "；".join(h.name or t("unclaimed") for h in entry.holders),
                     "；".join(h.post for h in entry.holders), row.due_date.isoformat() if row.due_date else "",
                     entry.days_overdue])
    return rows


CARDED_HEADER = ("desk_col_card", "desk_col_kind", "col_case_number", "col_item", "desk_col_town", "desk_col_deadline",
                 "holder", "post", "desk_col_due", "desk_col_days_overdue")


def _period_text(chosen: desk.Filters) -> str:
    return f"{chosen.period.start.isoformat()} — {chosen.period.end.isoformat()}"


def _export_name(chosen: desk.Filters, suffix: str) -> str:
    return f"supervision-{chosen.period.start:%Y%m%d}-{chosen.period.end:%Y%m%d}.{suffix}"


@bp.route("/supervision/export.csv")
@login_required
def export_csv() -> Any:
    user, chosen = _desk_user(), desk.filters(request.args)
    with helpers.services().db.read() as db:
        carded = desk.carded(db, user, chosen)
    out = io.StringIO()
    # The byte-order mark lets Excel open the Chinese text as UTF-8.
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([t("desk_period"), _period_text(chosen)])
    writer.writerow([t(key) for key in CARDED_HEADER])
    writer.writerows(_carded_rows(carded))
    return Response(out.getvalue().encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={_export_name(chosen, 'csv')}"})


@bp.route("/supervision/export.xlsx")
@login_required
def export_xlsx() -> Any:
    user, chosen = _desk_user(), desk.filters(request.args)
    with helpers.services().db.read() as db:
        figures = _figures(db, user, chosen)
    book = Workbook()
    sheet = book.active
    sheet.title = t("desk_sheet_carded")
    sheet.append([t("desk_period"), _period_text(chosen)])
    sheet.append([t(key) for key in CARDED_HEADER])
    for row in _carded_rows(figures["carded"]):
        sheet.append(row)
    for dimension in desk.DIMENSIONS:
        counts = book.create_sheet(t(f"desk_by_{dimension}"))
        counts.append([t(f"desk_dim_{dimension}")] + [f"{t('desk_' + kind)}·{t('desk_' + name)}"
                                                      for kind in desk.KINDS for name in desk.MEASURES])
        for line in figures["by"][dimension]:
            counts.append([line.label or t("unclaimed")] + [line.counts[kind][name] for kind in desk.KINDS
                                                            for name in desk.MEASURES])
    for each in book.worksheets:
        for cell in each[2 if each.title == t("desk_sheet_carded") else 1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype=XLSX,
                    headers={"Content-Disposition": f"attachment; filename={_export_name(chosen, 'xlsx')}"})


def _echarts_dist() -> Path:
    return Path(helpers.services().settings.node_modules) / "echarts" / "dist"


@bp.route("/vendor/echarts/<path:filename>")
def vendor(filename: str) -> Any:
    """ECharts from the project's node_modules (installed by `npm ci`, never copied into the repo)."""
    if filename != ECHARTS_SCRIPT:
        raise NotFound("文件不存在")
    if not (_echarts_dist() / ECHARTS_SCRIPT).is_file():
        return Response("echarts 未安装：请在项目根目录运行 npm ci（缺少 node_modules/echarts/dist）\n",
                        status=503, mimetype="text/plain")
    return send_from_directory(_echarts_dist(), filename, max_age=86400)


# -- 延期 ---------------------------------------------------------------------------------------------


def extension_panel(db: Session, user: User, case: Case) -> dict[str, Any]:
    """What the case and task pages show of extensions: every one asked, and whether this user may ask."""
    open_posts = [(row.role_code, row.org_id) for row in db.execute(
        select(Task.role_code, Task.org_id).where(Task.case_id == case.id, Task.status == TaskStatus.OPEN))]
    starter = db.get(User, case.started_by_id)
    may_ask = starter is not None and access.may_request_extension(user, open_posts,
                                                                   (starter.role_code, starter.org_id))
    return {"rows": extensions.of_case(db, case.id), "deadlines": extensions.open_deadlines(db, case.id),
            "may_ask": may_ask, "cap": extensions.max_extension_days(helpers.services().cases.versions.get(
                db, case.version_id).guide)}


@bp.route("/cases/<int:case_id>/extensions", methods=["POST"])
@login_required
def ask(case_id: int) -> Any:
    back = request.form.get("next") or url_for("cases.case", case_id=case_id)
    deadline = request.form.get("deadline", "").strip()
    if deadline and not deadline.isdigit():
        raise NotFound("该办件没有这一期限")
    try:
        asked = extensions.request(helpers.services().cases, g.user.id, case_id, int(deadline) if deadline else None,
                                   request.form.get("days", ""), request.form.get("reason", ""))
    except ValidationFailed as exc:
        flash(t("extension_refused", reason=exc.message), "error")
    else:
        flash(t("extension_asked", days=asked.days), "success")
    return redirect(back if back.startswith("/") and not back.startswith("//") else url_for("inbox.index"))


def pending_extensions() -> int | None:
    """The number waiting for this user's decision, for the nav; None when the user never decides extensions."""
    user = g.get("user")
    if user is None or not access.may_ever_decide_extensions(user, user.role.level):
        return None
    with helpers.services().db.read() as db:
        return extensions.pending_count(db, user)


@bp.route("/extensions")
@login_required
def approvals() -> Any:
    if pending_extensions() is None:
        raise Forbidden("只有乡镇分管领导和县级部门审批延期申请")
    with helpers.services().db.read() as db:
        rows = extensions.pending_for(db, g.user)
    return render_template("extensions.html", rows=rows)


@bp.route("/extensions/<int:extension_id>", methods=["POST"])
@login_required
def decide(extension_id: int) -> Any:
    approve = request.form.get("decision") == "approve"
    try:
        decided = extensions.decide(helpers.services().cases, g.user.id, extension_id, approve,
                                    request.form.get("note", ""))
    except ValidationFailed as exc:
        flash(t("extension_refused", reason=exc.message), "error")
    else:
        flash(t("extension_approved" if approve else "extension_declined", days=decided.days), "success")
    return redirect(url_for("supervision.approvals"))


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    return {"pending_extensions": pending_extensions, "may_use_desk": access.may_use_desk}

