"""异常办件: the administrators' list of cases whose timed path or submitted step failed, and their repair."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from sqlalchemy.orm import Session

from engine.audit import privacy
from engine.cases import incidents, repair
from engine.errors import BianminError, Conflict, Forbidden, StepFailed, ValidationFailed
from engine.models import Case, Incident, OutboxMessage, ProcedureVersion, Task, User
from engine.outbox import repair as outbox_repair
from engine.people import access
from engine.procedures import forms
from engine.procedures.spiff import VersionCache
from engine.vocabulary import CaseStatus, IncidentKind

from . import formrender, helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("incidents", __name__)

LIMIT = 300


@bp.route("/incidents")
@login_required
def index() -> Any:
    if not access.may_see_incidents(g.user):
        raise Forbidden("只有系统管理员可以查看异常办件")
    svc = helpers.services()
    with svc.db.read() as db:
        rows = incidents.open_incidents(db, LIMIT)
    return render_template("incidents.html", rows=rows, retry=svc.cases.retry, truncated=len(rows) >= LIMIT,
                           limit=LIMIT, step_kind=IncidentKind.STEP)


# -- the repair panel of the case page -------------------------------------------------------------


@dataclass
class RepairPanel:
    """What the case page tells about a failure, and what an administrator may do about it."""

    incident: Incident | None
    task: Task | None = None
    submitted_by: str = ""
    submitted: list[tuple[str, str]] = field(default_factory=list)
    may_repair: bool = False
    # A call or message that failed its last retry, which an administrator may send again or skip on a case in any
    # status (the applicant's SMS fails on a case waiting at the window, or completed, as well).
    failed_call: OutboxMessage | None = None
    elements: list[repair.ActiveElement] = field(default_factory=list)
    versions: list[ProcedureVersion] = field(default_factory=list)
    # Elements of the newest version a mapping may name: (id, name), offered as suggestions.
    targets: list[tuple[str, str]] = field(default_factory=list)


def repair_panel(db: Session, user: Any, case: Case, versions: VersionCache) -> RepairPanel | None:
    """None when there is nothing to say: no open incident, and the user is no administrator of a running case or
    of one with a failed call."""
    incident = repair.open_incident(db, case.id)
    may = access.may_repair(user) and case.status == CaseStatus.RUNNING
    failed_call = outbox_repair.failed_message(db, case.id) if access.may_repair(user) else None
    if incident is None and not may and failed_call is None:
        return None
    panel = RepairPanel(incident, may_repair=may, failed_call=failed_call)
    if incident is not None and incident.task_id:
        panel.task = db.get(Task, incident.task_id)
        clerk = db.get(User, incident.submitted_by_id) if incident.submitted_by_id else None
        panel.submitted_by = clerk.display_name if clerk else ""
        version = db.get(ProcedureVersion, case.version_id)
        schema = forms.task_form(version.forms, panel.task.form_file) if version and panel.task else {}
        props = schema.get("properties", {})
        kept = incident.submitted or {}
        # An administrator repairs the step without handling the case: its personal numbers stay masked.
        kept = kept if privacy.handles(db, user, case.id) else privacy.mask_data(kept, schema)
        panel.submitted = [(str(props.get(key, {}).get("title", key)),
                            formrender.display_value(props.get(key), value))
                           for key, value in kept.items()]
    if may:
        panel.elements = repair.active_elements(db, case.id)
        panel.versions = repair.newer_versions(db, case)
        if panel.versions:
            spec = versions.get(db, panel.versions[0].id).spec
            panel.targets = sorted((s.bpmn_id, s.bpmn_name or s.bpmn_id) for s in spec.task_specs.values()
                                   if s.bpmn_id and (s.manual or _is_timer(s)))
    return panel


def _is_timer(spec: Any) -> bool:
    return isinstance(getattr(spec, "event_definition", None), TimerEventDefinition)


# -- repairs ---------------------------------------------------------------------------------------


def _back(case_id: int) -> Any:
    return redirect(url_for("cases.case", case_id=case_id) + "#repair")


def _refused(exc: BianminError) -> None:
    flash("；".join([exc.message, *exc.details]), "error")


@bp.post("/cases/<int:case_id>/repair/retry")
@login_required
def retry(case_id: int) -> Any:
    try:
        helpers.services().cases.retry_step(g.user.id, case_id)
    except (StepFailed, ValidationFailed, Conflict) as exc:
        _refused(exc)
    else:
        flash(t("repair_retried"), "success")
    return _back(case_id)


@bp.post("/cases/<int:case_id>/repair/call")
@login_required
def call(case_id: int) -> Any:
    """A service call that failed its last retry: send it again, or skip it with the reason."""
    try:
        if request.form.get("action") == "skip":
            with helpers.services().db.read() as db:
                failed = outbox_repair.failed_message(db, case_id)
            helpers.services().cases.skip_call(g.user.id, case_id, request.form.get("reason", ""))
            # Nothing waits for a message to the applicant: the case is where it was.
            flash(t("repair_call_skipped" if failed is None or failed.task_id else "repair_message_skipped"),
                  "success")
        else:
            helpers.services().cases.retry_call(g.user.id, case_id)
            flash(t("repair_call_requeued"), "success")
    except (StepFailed, ValidationFailed, Conflict) as exc:
        _refused(exc)
    return _back(case_id)


@bp.post("/cases/<int:case_id>/repair/migrate")
@login_required
def migrate(case_id: int) -> Any:
    try:
        version_id = int(request.form.get("version_id", ""))
    except ValueError:
        flash(t("repair_pick_version"), "error")
        return _back(case_id)
    mapping = {key.removeprefix("map:"): value for key, value in request.form.items() if key.startswith("map:")}
    try:
        case = helpers.services().cases.migrate(g.user.id, case_id, version_id, mapping)
    except (ValidationFailed, Conflict) as exc:
        _refused(exc)
    else:
        with helpers.services().db.read() as db:
            version = db.get(ProcedureVersion, case.version_id)
        flash(t("repair_migrated", version=version.version if version else ""), "success")
    return _back(case_id)


@bp.post("/cases/<int:case_id>/repair/cancel")
@login_required
def cancel(case_id: int) -> Any:
    try:
        helpers.services().cases.cancel(g.user.id, case_id, request.form.get("reason", ""))
    except (ValidationFailed, Conflict) as exc:
        _refused(exc)
    else:
        flash(t("repair_cancelled"), "success")
    return _back(case_id)
