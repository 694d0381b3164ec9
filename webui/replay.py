"""The replay page: a case step by step as it stood at each event of its history, rebuilt from the events."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from sqlalchemy import select

from engine.audit import history, origin
from engine.audit.replay import Moment, markers_at, moment
from engine.models import CaseEvent, OrgUnit, ProcedureVersion, Role, Task, Timer
from engine.procedures import forms
from engine.procedures.diagram import diagram_info

from . import formrender, helpers, personal
from .auth import login_required
from .cases import VIEWER_SCRIPT, bpmn_dist, change_rows
from .i18n import t

bp = Blueprint("replay", __name__)


@bp.route("/cases/<int:case_id>/replay")
@login_required
def replay(case_id: int) -> Any:
    # Whoever may see the case may replay it: auditors and supervisors within their county, staff their own.
    with helpers.services().db.read() as db:
        case = helpers.visible_case(db, case_id)
        version = db.get(ProcedureVersion, case.version_id)
        assert version is not None
        events = list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))
        at = moment(events, request.args.get("at", default=1, type=int))
        rows = [*db.execute(select(Task.id, Task.element_id, Task.form_file).where(Task.case_id == case.id))]
        timers = db.execute(select(Timer.id, Timer.element_id).where(Timer.case_id == case.id))
        elements = {row.id: row.element_id for row in [*rows, *timers]}
        drawn = markers_at(diagram_info(version), at, elements)
        fields = history.form_fields(version.forms, version.guide.get("application_form"))
        step_form = next((forms.task_form(version.forms, row.form_file) for row in rows
                          if row.id == at.event.task_id), None)
        post = origin.post_of(at.event.post)
        wanted = {case.village_id, case.town_id, case.county_id, *(t.org_id for t in at.open_tasks if t.org_id)}
        orgs = {o.id: o.name for o in db.scalars(select(OrgUnit).where(
            OrgUnit.id.in_(wanted | ({post[1]} if post else set()))))}
        roles = {r.code: r.name for r in db.scalars(select(Role))}
        viewer = personal.viewer(db, case)
        return render_template(
            "replay.html", case=case, version=version, at=at, event=at.event, drawn=drawn,
            viewer=viewer, data=_data_rows(fields, at, viewer), who=_who(at.event, roles, orgs),
            changes=change_rows(history.changes(viewer.event(at.event, fields, step_form), step_form, fields, orgs)),
            tasks=[{"task": task, "post": origin.post_label(task.role, task.org_id, roles, orgs)}
                   for task in at.open_tasks],
            viewer_ok=(bpmn_dist() / VIEWER_SCRIPT).is_file(),
        )


def _data_rows(fields: dict[str, Any], at: Moment, viewer: personal.Viewer) -> list[dict[str, Any]]:
    """The case data then, labelled by form field; `changed` marks what this event set or altered."""
    data = viewer.data(at.data, {"properties": fields})
    return [{"key": key, "label": str((fields.get(key) or {}).get("title", key)),
             "value": formrender.shorten(formrender.display_value(fields.get(key), value), 200),
             "changed": key in at.changed}
            for key, value in data.items()]


def _who(event: CaseEvent, roles: dict[str, str], orgs: dict[int, str]) -> dict[str, str]:
    """Who acted, in which post, from which address; events written before these were kept say 未记录."""
    if event.actor_id is None:
        return {"name": event.actor_name, "post": t("system"), "address": t("system")}
    return {"name": event.actor_name,
            "post": origin.recorded_post_label(event.post, roles, orgs) or t("not_recorded"),
            "address": event.address or t("not_recorded")}
