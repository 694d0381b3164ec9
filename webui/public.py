"""Pages a citizen opens without signing in: the service guide (办事指南), the case query and booking a time."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engine.errors import BianminError, NotFound, ValidationFailed
from engine.models import OrgUnit, ServiceItem
from engine.throttle import TooManyAttempts
from engine.vocabulary import AppointmentKind, AppointmentSlot
from engine.window import appointments, guide, query

from . import helpers
from .auth import load_user
from .cases import VIEWER_SCRIPT, bpmn_dist, readable_diagram

bp = Blueprint("public", __name__)


@bp.route("/guide")
def guide_index() -> Any:
    with helpers.services().db.read() as db:
        groups = guide.by_category(db)
    return render_template("public_guide.html", groups=groups)


@bp.route("/guide/<code>")
def guide_item(code: str) -> Any:
    with helpers.services().db.read() as db:
        item, _version = guide.item(db, code)
        windows = guide.windows(db)
    return render_template("public_item.html", item=item, guide=item.guide, windows=windows,
                           viewer_ok=(bpmn_dist() / VIEWER_SCRIPT).is_file())


@bp.route("/guide/<code>/diagram.bpmn")
def guide_diagram(code: str) -> Any:
    """The current version's diagram: public like the guide it illustrates, no case data in it."""
    with helpers.services().db.read() as db:
        _item, version = guide.item(db, code)
        xml = readable_diagram(db, version)
    return Response(xml, mimetype="application/xml", headers={"Cache-Control": "public, max-age=600"})


@bp.route("/query", methods=["GET", "POST"])
def case_query() -> Any:
    """POST, so the ID digits stay out of addresses, logs and the browser's history."""
    if request.method == "GET":
        return render_template("public_query.html", form={}, progress=None, error=None)
    form = {"case_number": request.form.get("case_number", ""), "id_tail": request.form.get("id_tail", "")}
    try:
        progress = query.find(helpers.services().db, form["case_number"], form["id_tail"], request.remote_addr)
    except TooManyAttempts as exc:
        return render_template("public_query.html", form=form, progress=None, error=exc), exc.status, exc.headers
    except (NotFound, ValidationFailed) as exc:
        return render_template("public_query.html", form=form, progress=None, error=exc), exc.status
    return render_template("public_query.html", form={}, progress=progress, error=None)


def _booking_choices() -> dict[str, Any]:
    with helpers.services().db.read() as db:
        items = list(db.scalars(select(ServiceItem).where(ServiceItem.current_version_id.is_not(None))
                                .order_by(ServiceItem.code)))
        towns = list(db.scalars(select(OrgUnit).where(OrgUnit.level == "town").order_by(OrgUnit.code)))
        villages = list(db.scalars(select(OrgUnit).where(OrgUnit.level == "village").order_by(OrgUnit.code)
                                   .options(selectinload(OrgUnit.parent))))
    return {"items": items, "towns": towns, "villages": villages, "kinds": list(AppointmentKind),
            "slots": list(AppointmentSlot)}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@bp.route("/appointments/new", methods=["GET", "POST"])
def book() -> Any:
    """A citizen books for themselves; a signed-in clerk books for a caller, and the booking says who did."""
    if request.method == "GET":
        return render_template("public_booking.html", form={"kind": request.args.get("kind", "window")},
                               error=None, booked=None, **_booking_choices())
    form = request.form.to_dict()
    kind = form.get("kind", "")
    place = form.get("town" if kind == AppointmentKind.WINDOW else "village", "")
    try:
        with helpers.services().db.write() as db:
            booking = appointments.book(
                db, kind=kind, item_code=form.get("item", ""), place_code=place, day=_day(form.get("day", "")),
                slot=form.get("slot", ""), name=form.get("name", ""), phone=form.get("phone", ""),
                note=form.get("note", ""), by=load_user())
            # Only what the booker needs to come on time: the page never shows a name or phone back.
            unit = booking.place
            where = f"{unit.parent.name} · {unit.name}" if unit.level == "village" and unit.parent else unit.name
            booked = {"item": booking.item.name, "place": where, "day": booking.day,
                      "slot": booking.slot, "kind": booking.kind, "address": unit.address,
                      # A home visit is arranged through its town's window.
                      "phone": unit.phone or (unit.parent.phone if unit.parent else None)}
    except BianminError as exc:
        return render_template("public_booking.html", form=form, error=exc, booked=None,
                               **_booking_choices()), exc.status
    return render_template("public_booking.html", form={}, error=None, booked=booked, **_booking_choices())
