"""预约服务 for staff: a place's bookings by day, marked done, no-show or cancelled."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine import clock
from engine.people import access
from engine.vocabulary import AppointmentStatus
from engine.window import appointments

from . import helpers
from .auth import login_required
from .i18n import t

bp = Blueprint("appointments", __name__, url_prefix="/appointments")

# What a clerk may mark a booking as: every state but the one it starts in.
MARKS = [status for status in AppointmentStatus if status != AppointmentStatus.BOOKED]


def _day(text: str | None) -> date:
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return clock.now().astimezone(clock.SHANGHAI).date()


@bp.route("")
@login_required
def day_list() -> Any:
    day = _day(request.args.get("day"))
    with helpers.services().db.read() as db:
        bookings = appointments.day_list(db, g.user, day)
    return render_template("appointments.html", day=day, bookings=bookings, marks=MARKS,
                           previous=day - timedelta(days=1), following=day + timedelta(days=1),
                           may_serve=access.may_accept(g.user))


@bp.post("/<int:booking_id>/status")
@login_required
def mark(booking_id: int) -> Any:
    status = request.form.get("status", "")
    with helpers.services().db.write() as db:
        booking = appointments.set_status(db, g.user, booking_id, status)
        day = booking.day
    flash(t("appointment_marked", status=t("appointment_status_" + status)), "success")
    if request.form.get("back") == "inbox":
        return redirect(url_for("inbox.index"))
    return redirect(url_for("appointments.day_list", day=day.isoformat()))
