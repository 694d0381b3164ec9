"""The window: the materials checklist on a form, a waiting case examined again, the intake list, 否定报备 and the
population database's look-up that fills the new-application form."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request
from werkzeug.datastructures import MultiDict

from engine.cases import checklist
from engine.cases import window as engine_window
from engine.cases.outcomes import Outcome, Window
from engine.errors import BianminError, Forbidden
from engine.people import access
from engine.supervision import refusals
from engine.vocabulary import CaseStatus
from engine.window import population

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("intake", __name__)

LIST_LIMIT = 200
OUTCOME_FLASH = {CaseStatus.SUPPLEMENT: "case_registered_supplement", CaseStatus.RECEIVED: "case_registered_received",
                 CaseStatus.NOT_ACCEPTED: "case_registered_refused", CaseStatus.RUNNING: "case_started",
                 CaseStatus.COMPLETED: "case_done_at_once"}


def posted_window(guide: dict[str, Any], form: MultiDict[str, str]) -> Window:
    """The clerk's ticks, notes and outcome as the checklist form posts them (rows named m<index>_…).

    A post without the checklist (a client older than it) registers as before: every material received."""
    listed = checklist.materials(guide)
    rows: list[dict[str, Any]] | None = [] if any(f"m{i}_copies" in form for i in range(len(listed))) else None
    notes = {}
    for index, material in enumerate(listed if rows is not None else []):
        copies = form.get(f"m{index}_copies", "").strip()
        rows.append({"name": material["name"], "received": form.get(f"m{index}_received") == "on",
                     "copies": int(copies) if copies.isdigit() else copies,
                     "original": form.get(f"m{index}_original") == "on"})
        notes[material["name"]] = form.get(f"m{index}_note", "")
    return Window.parse({"materials": rows, "outcome": form.get("outcome") or Outcome.ACCEPT, "notes": notes,
                         "reasons": form.get("reasons", ""), "basis": form.get("basis", ""),
                         "confirm_repeat": form.get("confirm_repeat") == "on"})


def checklist_rows(guide: dict[str, Any], stored: list[dict[str, Any]] | None = None,
                   form: MultiDict[str, str] | None = None) -> list[dict[str, Any]]:
    """The checklist as the form shows it: posted values after an error, else the stored ticks, else the guide's."""
    by_name = {row["name"]: row for row in stored or []}
    shown = []
    for index, material in enumerate(checklist.materials(guide)):
        if form is not None:
            row = {"received": form.get(f"m{index}_received") == "on", "copies": form.get(f"m{index}_copies", ""),
                   "original": form.get(f"m{index}_original") == "on", "note": form.get(f"m{index}_note", "")}
        else:
            kept = by_name.get(material["name"], {})
            row = {"received": bool(kept.get("received")), "copies": kept.get("copies") or material["copies"],
                   "original": bool(kept.get("original")), "note": ""}
        shown.append({**material, **row, "index": index})
    return shown


@bp.route("/intake")
@login_required
def waiting() -> Any:
    if not access.may_accept(g.user):
        raise Forbidden(t("only_accepting"))
    svc = helpers.services()
    with svc.db.read() as db:
        rows = engine_window.waiting_list(svc.cases, db, g.user, LIST_LIMIT)
    return render_template("intake_list.html", rows=rows, limit=LIST_LIMIT)


@bp.route("/supervision/refusals")
@login_required
def refusal_register() -> Any:
    if not access.may_read_refusals(g.user):
        raise Forbidden("只有电子监察人员和镇领导可以查看不予受理登记")
    with helpers.services().db.read() as db:
        rows = refusals.register(db, g.user, LIST_LIMIT)
    return render_template("refusals.html", rows=rows, limit=LIST_LIMIT)



@bp.route("/cases/new/population", methods=["POST"])
@login_required
def population_lookup() -> Any:
    """人口库查询 from the new-application page (JSON both ways): the household, other members' numbers masked."""
    body = request.get_json(silent=True)
    id_number = body.get("id_number") if isinstance(body, dict) else None
    svc = helpers.services()
    try:
        found = population.look_up(svc.db, svc.settings, g.user.id, id_number)
    except BianminError as exc:
        return {"error": exc.message}, exc.status, exc.headers
    return found.shown()
