"""Starting a case, handling a task through its form, the case page with its diagram and history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit import desk as audit_desk
from engine.audit import history
from engine.cases import immediate
from engine.cases import incidents as engine_incidents
from engine.cases import window as engine_window
from engine.cases.intake import Applicant
from engine.deadlines import shown as shown_cards
from engine.deadlines import tracking
from engine.deadlines.promised import due_state
from engine.documents import issuing
from engine.errors import BianminError, Conflict, Forbidden, NotFound, StepHeld, ValidationFailed
from engine.models import Case, CaseEvent, OrgUnit, ProcedureVersion, Role, ServiceItem, Task, Timer, User
from engine.people import access
from engine.people.access import Standing
from engine.procedures import forms
from engine.procedures.diagram import NS as BPMN_NS
from engine.procedures.diagram import diagram_info, markers
from engine.procedures.spiff import parse_xml
from engine.vocabulary import AT_WINDOW, CaseStatus, DeadlineStatus, TaskStatus, TimerStatus

from . import formrender, helpers, incidents, intake, personal, supervision
from .auth import login_required
from .i18n import CARD_COLORS, CASE_RESULTS, EVENT_FIELDS, EXTENSION_DECISIONS, SIGN_POSITIONS, label, t

bp = Blueprint("cases", __name__)

VIEWER_SCRIPT = "bpmn-navigated-viewer.production.min.js"
# The engine keys applicant errors by the applicant's fields; the form names its inputs after them.
APPLICANT_FIELDS = {"name": "applicant_name", "id_number": "applicant_id_number", "phone": "applicant_phone",
                    "email": "applicant_email", "notify": "applicant_notify"}
# Every task action withheld: the case page as opened from 抄送我的.
READ_ONLY = access.TaskAccess(Standing.NOT_YOUR_POST, may_claim=False, may_complete=False)


# -- access ----------------------------------------------------------------------------------------


def _version(db: Session, case: Case) -> ProcedureVersion:
    version = db.get(ProcedureVersion, case.version_id)
    assert version is not None
    return version


# -- starting a case -------------------------------------------------------------------------------


def _items(db: Session) -> list[ServiceItem]:
    return list(db.scalars(select(ServiceItem).where(ServiceItem.current_version_id.is_not(None))
                           .order_by(ServiceItem.code)))


def _application_schema(version: ProcedureVersion) -> tuple[dict[str, Any], dict[str, Any]]:
    name = version.guide.get("application_form")
    if not name or name not in version.forms:
        return {"type": "object", "properties": {}}, {}
    # Bianmin names the pair x.schema.json / x.uischema.json, spiff-arena x-schema.json / x-uischema.json.
    ui_name = re.sub(r"([.-])schema\.json$", r"\1uischema.json", name)
    return version.forms[name], version.forms.get(ui_name, {}) if ui_name != name else {}


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new_case() -> Any:
    if not access.may_accept(g.user):
        raise Forbidden(t("only_accepting"))
    svc = helpers.services()
    source = request.form if request.method == "POST" else request.args
    item_code = source.get("item") or ""
    with svc.db.read() as db:
        items = _items(db)
        item = next((i for i in items if i.code == item_code), None)
        version = db.get(ProcedureVersion, item.current_version_id) if item else None
        villages = _intake_villages(db, g.user)
        decision = _decision_schema(db, version) if version else None
    # A village agent accepts for their own village; window staff choose among their town's villages.
    village_code = villages[0].code if len(villages) == 1 else source.get("village") or ""
    summary: list[str] = []
    errors: dict[str, list[str]] = {}
    raw = request.form if request.method == "POST" else None
    if request.method == "POST" and version is None:
        summary.append(t("choose_item_placeholder"))
    elif request.method == "POST" and version is not None:
        if not any(v.code == village_code for v in villages):
            summary.append(t("choose_village_placeholder"))
            errors["village"] = [t("choose_village_placeholder")]
        schema, _ui = _application_schema(version)
        applicant = {"name": request.form.get("applicant_name", "").strip(),
                     "id_number": request.form.get("applicant_id_number", "").strip(),
                     "phone": request.form.get("applicant_phone", "").strip(),
                     "email": request.form.get("applicant_email", "").strip(),
                     # A form without the 通知方式 choice (a client older than it) leaves the default.
                     "notify": request.form.getlist("applicant_notify") if "notify_asked" in request.form else None}
        try:
            Applicant.parse(applicant)
        except ValidationFailed as exc:
            summary += exc.details or [exc.message]
            formrender.attach(errors, {APPLICANT_FIELDS[key]: texts for key, texts in exc.fields.items()})
        data, messages = check_form(schema, request.form, errors)
        summary += messages
        decided, messages = check_form(decision[0], request.form, errors) if decision else ({}, [])
        summary += messages
        try:
            window = intake.posted_window(version.guide, request.form)
        except ValidationFailed as exc:
            summary.append(exc.message)
        if not summary:
            try:
                # 即办件: accepted and decided here at once; the other outcomes register it as any case.
                case = (svc.cases.handle_immediate(g.user.id, version.item_code, village_code, applicant, data, window,
                                                   decided) if decision else
                        svc.cases.start_case(g.user.id, version.item_code, village_code, applicant, data, window)).case
            except (ValidationFailed, Conflict) as exc:
                summary = exc.details or [exc.message]
                formrender.attach(errors, exc.fields)
            else:
                flash(t(intake.OUTCOME_FLASH[CaseStatus(case.status)], number=case.case_number), "success")
                return redirect(url_for("cases.case", case_id=case.id))
    form_html = None
    if version is not None:
        schema, ui = _application_schema(version)
        form_html = formrender.render(schema, ui, raw=raw, errors=errors)
    status = 422 if summary else 200
    materials = intake.checklist_rows(version.guide, form=raw) if version is not None else []
    decision_html = formrender.render(*decision, raw=raw, errors=errors) if decision else None
    return render_template("new_case.html", items=items, item=item, version=version, form_html=form_html,
                           summary=summary, errors=errors, raw=raw or {}, villages=villages,
                           village_code=village_code, materials=materials, decision_html=decision_html,
                           population_offered=bool(svc.settings.population_url)), status


def _decision_schema(db: Session, version: ProcedureVersion) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """即办件: the form of the diagram's one step, filled on the intake screen; None for any other item."""
    if not immediate.is_immediate(version.guide):
        return None
    form, ui = immediate.decision_forms(helpers.services().cases.versions.get(db, version.id))
    return forms.task_form(version.forms, form), version.forms.get(ui or "", {})


def _intake_villages(db: Session, user: User) -> list[OrgUnit]:
    if user.org_level == "village":
        return [user.org]
    return list(db.scalars(select(OrgUnit).where(OrgUnit.parent_id == user.org_id, OrgUnit.level == "village")
                           .order_by(OrgUnit.code)))


def check_form(schema: dict[str, Any], posted: Any, errors: dict[str, list[str]]) -> tuple[dict[str, Any], list[str]]:
    """Parse the posted form and check it with the engine's validation, collecting every message at once.

    Returns the typed data and the messages to show (empty when the data may go to the engine).
    """
    data, problems = formrender.parse(schema, posted)
    for name, texts in problems.items():
        errors.setdefault(name, []).extend(texts)
    messages = [text for texts in problems.values() for text in texts]
    try:
        forms.validate(schema, data)
    except ValidationFailed as exc:
        # A field that could not be read was left out of `data`: do not also call it missing.
        kept = {name: texts for name, texts in exc.fields.items() if name not in problems}
        left_out = [text for name in problems for text in exc.fields.get(name, [])]
        formrender.attach(errors, kept)
        messages += [text for text in exc.details or [exc.message] if text not in left_out]
    return data, messages


# -- handling a task -------------------------------------------------------------------------------


def _task_notice(user: User, task: Task) -> tuple[str | None, access.TaskAccess]:
    """A note for the task page and what this user may do with the task, as the engine's rule decides."""
    decided = access.task_access(user, task)
    holder = task.assignee.display_name if task.assignee else ""
    notes = {
        Standing.COMPLETED: lambda: t("task_completed_by", who=task.completed_by.display_name if task.completed_by
                                      else t("system"), when=helpers.local_time(task.completed_at)),
        Standing.NOT_OPEN: lambda: t("task_held_for_signers" if task.status == TaskStatus.HELD else "task_not_open"),
        Standing.NOT_YOUR_POST: lambda: t("task_not_your_post"),
        Standing.AWAY: lambda: t("task_you_are_away"),
        Standing.DELEGATED: lambda: t("task_delegated_to", who=holder),
        Standing.CLAIMED_BY_OTHER: lambda: t("task_claimed_by_other", who=holder),
        Standing.UNCLAIMED: lambda: t("task_unclaimed_note"),
        Standing.COVERING: lambda: t("covering_for", name=holder),
        Standing.YOURS: lambda: None,
    }
    return notes[decided.standing](), decided


def render_task(task_id: str, raw: Any = None, summary: list[str] | None = None,
                errors: dict[str, list[str]] | None = None, conflict: str | None = None, status: int = 200,
                revealed: dict[str, Any] | None = None, operation: dict[str, Any] | None = None) -> Any:
    """The task page; `operation` brings back a refused task operation's form (its name, message, what was typed)."""
    with helpers.services().db.read() as db:
        task = helpers.visible_task(db, task_id)
        case = task.case
        viewer = personal.viewer(db, case, revealed)
        version = _version(db, case)
        schema = forms.task_form(version.forms, task.form_file)
        ui = version.forms.get(task.ui_form_file or "", {})
        notice, decided = _task_notice(g.user, task)
        held = engine_incidents.open_step_incident(db, case.id)
        # A step sent back, withdrawn or answered by another (委派, 加签) opens with the answer it came with.
        kept = task.answer if task.status == TaskStatus.OPEN else None
        if held is not None and held.task_id == task.id and task.status == TaskStatus.OPEN:
            # Shown above the form, which stays filled with what was kept: the clerk may wait for the repair or
            # send other answers.
            notice, kept = t("task_held", where=held.step), held.submitted
        application, steps, application_reveals = _submitted(
            version, list(db.scalars(select(Task).where(Task.case_id == case.id))),
            list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                    CaseEvent.kind.in_(history.SUBMITTING)).order_by(CaseEvent.seq))),
            viewer)
        form_html = formrender.render(schema, ui, raw=raw, data=kept, errors=errors) if decided.may_complete else None
        return render_template(
            "task.html", task=task, case=case, version=version, schema=schema, form_html=form_html,
            may_claim=decided.may_claim, notice=notice, conflict=conflict, summary=summary or [],
            application=application, steps=steps, instructions=diagram_info(version).instructions.get(task.element_id),
            computed=_computed(version, case, viewer), due_state=due_state(case.promised_date, case.status),
            step_deadline=tracking.step_deadlines(db, [task.id]).get(task.id), today=clock.local_now().date(),
            ext=supervision.extension_panel(db, g.user, case), viewer=viewer,
            application_reveals=application_reveals, operation=operation or {},
        ), status


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str) -> Any:
    if request.method == "GET":
        return render_task(task_id)
    svc = helpers.services()
    with svc.db.read() as db:
        found = helpers.visible_task(db, task_id)
        version = _version(db, found.case)
        schema = forms.task_form(version.forms, found.form_file)
        case_number, step = found.case.case_number, found.name
        may_complete = access.task_access(g.user, found).may_complete
        # 委派: the delegate's submission goes back to the one who delegated it (engine/tasks/delegate.py).
        done = "delegate_answer_done" if found.delegated_by_id is not None else "task_done"
    errors: dict[str, list[str]] = {}
    data, summary = check_form(schema, request.form, errors)
    # Someone who may not work the task gets the engine's own refusal, not a form to correct.
    if summary and may_complete:
        return render_task(task_id, raw=request.form, summary=summary, errors=errors, status=422)
    try:
        svc.cases.complete(g.user.id, task_id, data)
    except ValidationFailed as exc:
        summary = exc.details or [exc.message]
        formrender.attach(errors, exc.fields)
        return render_task(task_id, raw=request.form, summary=summary, errors=errors, status=422)
    except StepHeld as exc:
        flash(exc.message, "error")
        return redirect(url_for("cases.task", task_id=task_id))
    except Conflict as exc:
        return render_task(task_id, raw=request.form, conflict=exc.message, status=409)
    flash(t(done, case=case_number, step=step), "success")
    return redirect(url_for("inbox.index", tab="mine"))


# -- the case page ---------------------------------------------------------------------------------


def _submitted(version: ProcedureVersion, tasks: list[Task], events: list[CaseEvent], viewer: personal.Viewer
               ) -> tuple[list[tuple[str, str]], list[dict[str, Any]], dict[str, str]]:
    """The application and what each completed step submitted, labelled from their forms' titles, and the
    application's masked numbers this viewer may reveal (by title)."""
    forms_of = {row.id: row.form_file for row in tasks}
    application, submitted = history.submissions(events)
    steps = []
    for step in submitted:
        schema = forms.task_form(version.forms, forms_of.get(step.task_id or ""))
        steps.append({"step": step.step, "actor": step.actor_name, "at": step.at,
                      "rows": formrender.labelled(schema, viewer.data(step.data, schema))})
    schema = _application_schema(version)[0]
    shown, reveals = viewer.application(application, schema)
    return formrender.labelled(schema, shown), steps, reveals


def _computed(version: ProcedureVersion, case: Case, viewer: personal.Viewer,
              fields: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """What the diagram's scripts set, labelled by the form field of the same name where there is one."""
    if not case.variables:
        return []
    fields = fields if fields is not None else history.form_fields(version.forms, version.guide.get("application_form"))
    return formrender.labelled({"properties": fields}, viewer.data(case.variables, {"properties": fields}))


def change_rows(changes: list[history.Change]) -> list[tuple[str, str, str]]:
    """(label, before, after) for the history: data by its form field's title, bookkeeping by the event's words."""
    rows = []
    for change in changes:
        if change.is_data:
            name = str(change.field.get("title", change.key)) if change.field else change.key
            old, new = (formrender.display_value(change.field, change.before),
                        formrender.display_value(change.field, change.after))
        else:
            name = label(EVENT_FIELDS, change.key)
            old, new = _plain(change.key, change.before), _plain(change.key, change.after)
        rows.append((name, formrender.shorten(old, 80) if change.before is not None else "",
                     formrender.shorten(new, 80)))
    return rows


def _plain(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in ("due_at", "accepted_at", "next_try_at"):
        return helpers.local_time(str(value))
    if key == "result":
        return label(CASE_RESULTS, str(value))
    if key == "decision":
        return label(EXTENSION_DECISIONS, str(value))
    if key == "position":
        return label(SIGN_POSITIONS, str(value))
    if key == "version":
        return f"v{value}"
    if key == "mapping" and isinstance(value, dict):
        return "，".join(f"{old} → {new}" for old, new in value.items())
    if key == "card":
        return label(CARD_COLORS, str(value))
    if key in ("materials", "received", "missing") and isinstance(value, list):
        # The checklist shows what was taken in (with copies), the notice what is missing.
        return "、".join(str(row.get("name")) + (f"（{row['copies']}份）" if row.get("copies") else "")
                        for row in value if isinstance(row, dict) and row.get("received", True))
    return formrender.display_value(None, value)


@bp.route("/cases/<int:case_id>")
@login_required
def case(case_id: int) -> Any:
    return render_case(case_id)


@bp.route("/cases/<int:case_id>/window", methods=["POST"])
@login_required
def examine(case_id: int) -> Any:
    """The applicant is back with the missing materials, or the clerk examines what was taken in."""
    svc = helpers.services()
    with svc.db.read() as db:
        guide = _version(db, helpers.visible_case(db, case_id)).guide
    try:
        step = svc.cases.examine(g.user.id, case_id, intake.posted_window(guide, request.form))
    except (ValidationFailed, Conflict) as exc:
        return render_case(case_id, window_error=exc, window_form=request.form), exc.status
    flash(t(intake.OUTCOME_FLASH[CaseStatus(step.case.status)], number=step.case.case_number), "success")
    return redirect(url_for("cases.case", case_id=case_id))


def render_case(case_id: int, revealed: dict[str, Any] | None = None, window_error: BianminError | None = None,
                window_form: Any = None, operation: dict[str, Any] | None = None, copied: Any = None) -> Any:
    """The case page; `revealed` holds the personal values this user just revealed, shown in clear this once.

    A window case examined again with a problem comes back with the clerk's ticks and the message. Opened from
    抄送我的 (`copied`, whose reader the caller checked), it is read-only: no task action is offered."""
    with helpers.services().db.read() as db:
        found = helpers.visible_case(db, case_id) if copied is None else db.get(Case, case_id)
        at_window = engine_window.waiting_case(helpers.services().cases, db, found)
        viewer = personal.viewer(db, found, revealed)
        version = _version(db, found)
        events = list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == found.id).order_by(CaseEvent.seq)))
        tasks = list(db.scalars(select(Task).where(Task.case_id == found.id).order_by(Task.created_at)))
        timers = list(db.scalars(select(Timer).where(Timer.case_id == found.id).order_by(Timer.due_at)))
        orgs = {o.id: o.name for o in db.scalars(select(OrgUnit).where(
            OrgUnit.id.in_([found.village_id, found.town_id, found.county_id])))}
        roles = {r.code: r.name for r in db.scalars(select(Role))}
        schemas = {row.id: forms.task_form(version.forms, row.form_file) for row in tasks}
        fields = history.form_fields(version.forms, version.guide.get("application_form"))
        application, steps, application_reveals = _submitted(version, tasks, events, viewer)
        shown = [{"event": e, "changes": change_rows(history.changes(
            viewer.event(e, fields, schemas.get(e.task_id or "")), schemas.get(e.task_id or ""), fields, orgs))}
            for e in events]
        deadlines = shown_cards.case_deadlines(db, found.id)
        raised = shown_cards.raised_cards(db, found.id)
        open_tasks = [{
            "task": row, "post": f"{orgs.get(row.org_id, '')} {roles.get(row.role_code, row.role_code)}",
            "access": access.task_access(g.user, row) if copied is None else READ_ONLY,
            "deadline": next((d for d in deadlines if d.task_id == row.id and d.status == DeadlineStatus.OPEN), None),
        } for row in tasks if row.status == TaskStatus.OPEN]
        done, active = markers(diagram_info(version), tasks, timers, events)
        pauses = tracking.case_pauses(db, found.id)
        starter = db.get(User, found.started_by_id)
        return render_template(
            "case.html", case=found, version=version, guide=version.guide, application=application,
            computed=_computed(version, found, viewer, fields), steps=steps, viewer=viewer,
            application_reveals=application_reveals,
            open_tasks=open_tasks, timers=[row for row in timers if row.status == TimerStatus.WAITING],
            history=shown, done=done, active=active, starter=starter.display_name if starter else "",
            viewer_ok=(bpmn_dist() / VIEWER_SCRIPT).is_file(), due_state=due_state(found.promised_date, found.status),
            pauses=pauses, paused=any(row.ended_at is None for row in pauses),
            case_clock=next((d for d in deadlines if d.task_id is None), None), raised=raised,
            ext=supervision.extension_panel(db, g.user, found),
            repair=incidents.repair_panel(db, g.user, found, helpers.services().cases.versions),
            # Re-hashing one case's history costs about a millisecond for 20 events: every page view checks it.
            chain=audit_desk.verify_case(db, found), may_audit_case=access.may_audit(g.user),
            at_window=at_window, window_error=window_error,
            window_rows=intake.checklist_rows(version.guide, at_window.intake.materials if at_window else None,
                                              window_form),
            may_examine=found.status in AT_WINDOW and access.may_accept(g.user),
            documents=issuing.of_case(db, found.id), operation=operation or {}, copied=copied,
        )


@bp.route("/cases/<int:case_id>/diagram.bpmn")
@login_required
def diagram(case_id: int) -> Any:
    """The case's diagram, with lanes (named by role code) relabelled with the roles' names for reading."""
    with helpers.services().db.read() as db:
        version = _version(db, helpers.visible_case(db, case_id))
        xml = readable_diagram(db, version)
    return Response(xml, mimetype="application/xml", headers={"Cache-Control": "private, max-age=3600"})


def readable_diagram(db: Session, version: ProcedureVersion) -> bytes:
    """A version's diagram with its lanes (named by role code) relabelled with the roles' names."""
    roles = {r.code: r.name for r in db.scalars(select(Role))}
    try:
        root = parse_xml(version.bpmn_xml, f"{version.item_code} v{version.version}")
    except BianminError:
        return version.bpmn_xml.encode("utf-8")
    for lane in root.xpath("//bpmn:lane[@name]", namespaces=BPMN_NS):
        if lane.get("name") in roles:
            lane.set("name", roles[lane.get("name")])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# -- bpmn-js from the project's node_modules (installed by `npm ci`, never copied into the repo) --------


def bpmn_dist() -> Path:
    return Path(helpers.services().settings.node_modules) / "bpmn-js" / "dist"


@bp.route("/vendor/bpmn-js/<path:filename>")
def vendor(filename: str) -> Any:
    if filename != VIEWER_SCRIPT and not filename.startswith("assets/"):
        raise NotFound("文件不存在")
    dist = bpmn_dist()
    if not (dist / VIEWER_SCRIPT).is_file():
        return Response("bpmn-js 未安装：请在项目根目录运行 npm ci（缺少 node_modules/bpmn-js/dist）\n",
                        status=503, mimetype="text/plain")
    return send_from_directory(dist, filename, max_age=86400)
