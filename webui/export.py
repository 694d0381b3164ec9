"""A case's history to take away: the JSON export (verifiable offline) and the printable A4 report."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, g, render_template, request, send_file
from sqlalchemy import select

from engine import clock
from engine.audit import chain, history, origin, privacy
from engine.audit import export as exporting
from engine.deadlines import shown as shown_cards
from engine.deadlines import tracking
from engine.errors import Forbidden
from engine.models import ProcedureVersion, Task
from engine.people import access
from engine.procedures import forms

from . import helpers, personal
from .auth import login_required
from .cases import change_rows
from .i18n import t

bp = Blueprint("export", __name__)

SHORT_HASH = 12


@bp.route("/cases/<int:case_id>/export.json", methods=["GET", "POST"])
@login_required
def export_json(case_id: int) -> Any:
    """The history file: handlers download it; anyone else who may see the case posts a reason, and it is logged,
    because the events carry the numbers in clear as they were hashed."""
    exported_by = exporting.exporter(g.user.display_name, g.user.username)
    with helpers.services().db.write() as db:
        case = helpers.visible_case(db, case_id)
        if not privacy.handles(db, g.user, case.id):
            if request.method != "POST":
                raise Forbidden(t("export_needs_reason"))
            privacy.reveal(db, g.user, case.id, privacy.HISTORY, request.form.get("reason", ""),
                           request.form.get("note", ""), request.remote_addr)
        document = exporting.document(db, case.id, exported_by)
    return _download(document, exporting.filename(document["case"]["case_number"]))


def _download(document: dict[str, Any], name: str) -> Any:
    raw = exporting.dumps(document).encode("utf-8")
    return send_file(io.BytesIO(raw), mimetype="application/json", as_attachment=True, download_name=name, max_age=0)


@bp.route("/audit/system-history.json")
@login_required
def system_json() -> Any:
    if not access.may_check_record(g.user):
        raise Forbidden(t("export_system_forbidden"))
    with helpers.services().db.read() as db:
        document = exporting.system_document(db, exporting.exporter(g.user.display_name, g.user.username))
    return _download(document, exporting.SYSTEM_FILENAME)


@bp.route("/cases/<int:case_id>/report")
@login_required
def report(case_id: int) -> Any:
    with helpers.services().db.read() as db:
        case = helpers.visible_case(db, case_id)
        version = db.get(ProcedureVersion, case.version_id)
        assert version is not None
        roles, orgs = exporting.names(db)
        events = exporting.case_events(db, case.id)
        findings = chain.verify(db, case.id)
        rows = db.execute(select(Task.id, Task.form_file).where(Task.case_id == case.id)).all()
        schemas = {row.id: forms.task_form(version.forms, row.form_file) for row in rows}
        fields = history.form_fields(version.forms, version.guide.get("application_form"))
        deadlines = shown_cards.case_deadlines(db, case.id)
        viewer = personal.viewer(db, case)
        return render_template(
            "report.html", case=case, version=version, head=exporting.case_head(db, case, orgs),
            findings=findings, first_break=findings[0] if findings else None,
            viewer=viewer, events=[_event_row(viewer, event, schemas, fields, roles, orgs) for event in events],
            cards=list(shown_cards.raised_cards(db, case.id)), pauses=tracking.case_pauses(db, case.id),
            case_clock=next((d for d in deadlines if d.task_id is None), None),
            command=exporting.verify_command(exporting.filename(case.case_number)),
            script=exporting.VERIFIER_PATH, script_sha256=exporting.verifier_digest(),
            filename=exporting.filename(case.case_number),
            exported_by=exporting.exporter(g.user.display_name, g.user.username),
            now_local=helpers.local_time(clock.now()),
        )


def _event_row(viewer: personal.Viewer, event: Any, schemas: dict[str, Any], fields: dict[str, Any],
               roles: dict[str, str], orgs: dict[int, str]) -> dict[str, Any]:
    """One line of the report's history: who, in which post, what changed, and the start of its hash."""
    if event.actor_id is None:
        post = t("system")
    else:
        post = origin.recorded_post_label(event.post, roles, orgs) or t("not_recorded")
    return {"event": event, "post": post, "short_hash": event.hash[:SHORT_HASH],
            "changes": change_rows(history.changes(viewer.event(event, fields, schemas.get(event.task_id or "")),
                                                   schemas.get(event.task_id or ""), fields, orgs))}
