"""Appointments (预约服务 / 上门服务): booked by a citizen or a clerk, listed by day for the place's staff, marked
done, no-show or cancelled by those who serve them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from .. import clock
from ..cases.intake import applicant_name, normal_phone, phone_problem
from ..deadlines import calendar
from ..errors import Conflict, Forbidden, NotFound, ValidationFailed
from ..models import Appointment, OrgUnit, ServiceItem
from ..people import access
from ..people.access import Staff
from ..vocabulary import AppointmentKind, AppointmentSlot, AppointmentStatus

MAX_NOTE_LENGTH = 500
# Where each kind of booking is served: at the town's service centre, or at home in a village.
PLACE_LEVEL = {AppointmentKind.WINDOW: "town", AppointmentKind.HOME: "village"}
UPCOMING_LIMIT = 50


def book(session: Session, *, kind: str, item_code: str, place_code: str, day: date | None, slot: str,
         name: str, phone: str, note: str = "", by: Staff | None = None) -> Appointment:
    """A booking on a future working day; ValidationFailed names every field that is wrong.

    `by` is the clerk who booked it at the window or on the phone; None when a citizen booked it themselves.
    """
    if by is not None and not access.may_accept(by):
        raise Forbidden("只有村代办员和便民服务中心窗口人员可以代群众预约")
    fields: dict[str, list[str]] = {}
    kind_ok = kind in set(AppointmentKind)
    if not kind_ok:
        fields["kind"] = ["请选择到窗口办理或上门服务"]
    item = session.get(ServiceItem, item_code) if item_code else None
    if item is None or item.current_version_id is None:
        fields["item"] = ["请选择办理的事项"]
    place = session.scalar(select(OrgUnit).where(OrgUnit.code == place_code)) if place_code else None
    if kind_ok and (place is None or place.level != PLACE_LEVEL[AppointmentKind(kind)]):
        wanted = "办理窗口所在的乡镇" if kind == AppointmentKind.WINDOW else "上门服务的村（社区）"
        fields["place"] = [f"请选择{wanted}"]
    if problem := _day_problem(session, day):
        fields["day"] = [problem]
    if slot not in set(AppointmentSlot):
        fields["slot"] = ["请选择上午或下午"]
    name, problem = applicant_name(name, "预约人")
    if problem:
        fields["name"] = [problem]
    phone = normal_phone(phone)
    if problem := phone_problem(phone):
        fields["phone"] = [problem]
    note = note.strip()
    if len(note) > MAX_NOTE_LENGTH:
        fields["note"] = [f"备注不能超过 {MAX_NOTE_LENGTH} 个字"]
    if fields:
        problems = [text for texts in fields.values() for text in texts]
        raise ValidationFailed("预约信息有误：" + "；".join(problems), details=problems, fields=fields)
    assert place is not None and day is not None
    town = place if place.level == "town" else place.parent
    assert town is not None and town.parent_id is not None
    booking = Appointment(kind=kind, item_code=item_code, place_id=place.id, town_id=town.id,
                          county_id=town.parent_id, day=day, slot=slot, name=name, phone=phone, note=note or None,
                          status=AppointmentStatus.BOOKED, created_at=clock.now(),
                          created_by_id=by.id if by is not None else None)
    session.add(booking)
    session.flush()
    return booking


def _day_problem(session: Session, day: date | None) -> str | None:
    if day is None:
        return "请选择预约日期"
    if day < clock.now().astimezone(clock.SHANGHAI).date():
        return "预约日期不能早于今天"
    try:
        workday = calendar.load(session).is_workday(day)
    except calendar.MissingHolidayData as exc:
        return exc.message
    return None if workday else "预约日期须为工作日（周末和法定节假日不能预约）"


def _listed(user: Staff) -> Select[tuple[Appointment]]:
    return (select(Appointment).where(access.appointments_visible_to(user))
            .options(selectinload(Appointment.item), selectinload(Appointment.place)))


def day_list(session: Session, user: Staff, day: date) -> list[Appointment]:
    """The day's bookings the user sees, morning first, in the order they were made."""
    return list(session.scalars(_listed(user).where(Appointment.day == day)
                                .order_by(Appointment.slot.desc(), Appointment.id)))


def upcoming(session: Session, user: Staff) -> list[Appointment]:
    """Bookings still to serve from today on at the user's own unit, for the inbox: a village agent's home visits,
    a town window's window bookings (the day list shows a town its villages' visits too)."""
    if not access.may_accept(user):
        return []
    today = clock.now().astimezone(clock.SHANGHAI).date()
    return list(session.scalars(_listed(user).where(Appointment.place_id == user.org_id, Appointment.day >= today,
                                                    Appointment.status == AppointmentStatus.BOOKED)
                                .order_by(Appointment.day, Appointment.slot.desc(), Appointment.id)
                                .limit(UPCOMING_LIMIT)))


def set_status(session: Session, user: Staff, booking_id: int, status: str) -> Appointment:
    """Mark a booking done, no-show or cancelled, once; a booking the user does not see is not found."""
    booking = session.get(Appointment, booking_id, with_for_update=True)
    if booking is None or not access.may_see_appointment(user, booking):
        raise NotFound("预约不存在")
    if not access.may_serve_appointment(user, booking):
        raise Forbidden("只有村代办员和便民服务中心窗口人员可以处理预约")
    if status not in set(AppointmentStatus) or status == AppointmentStatus.BOOKED:
        raise ValidationFailed("未知的预约处理结果")
    if booking.status != AppointmentStatus.BOOKED:
        raise Conflict("该预约已处理，不能再次更改")
    booking.status, booking.changed_at, booking.changed_by_id = status, clock.now(), user.id
    return booking
