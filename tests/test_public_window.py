"""The public window in the engine, on both databases: the case query shows progress and nothing personal, answers
a wrong pair as an unknown number and makes a guessing address wait; appointments are validated, seen by the staff
of their place only and marked once."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from engine import clock
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import Case, User
from engine.people.signin import ADDRESS
from engine.services import Services
from engine.throttle import TooManyAttempts
from engine.vocabulary import AppointmentStatus
from engine.window import appointments, query
from tests.test_engine import DONGPO, drive, start

_addresses = count(1)
MONDAY = date(2026, 3, 2)


def fresh_address() -> str:
    """Each test guesses from its own address: the session's database keeps every attempt."""
    return f"198.51.100.{next(_addresses)}"


def staff(svc: Services, username: str) -> User:
    with svc.db.read() as session:
        found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def tail(case: Case) -> str:
    return case.applicant_id_number[-4:]


def test_the_right_pair_shows_progress_and_nothing_personal(services: Services) -> None:
    case = start(services, name="欧阳晓雯")
    progress = query.find(services.db, case.case_number.lower(), tail(case).lower(), fresh_address())
    assert progress.case_number == case.case_number
    assert progress.item_name == "农村居民最低生活保障"
    assert progress.status == "running" and progress.result is None and progress.completed_on is None
    assert progress.current_steps == ["村委会协助并提出意见"]
    assert progress.accepted_on == MONDAY
    assert progress.promised_date == case.promised_date and not progress.promised_provisional
    shown = repr(dataclasses.asdict(progress))
    for personal in (case.applicant_name, case.applicant_id_number, case.applicant_phone, tail(case), "东坡村",
                     "household_size", "经核查"):
        assert personal not in shown


def test_a_completed_case_shows_its_completion_date_and_result(services: Services) -> None:
    case, _steps = drive(services, start(services))
    progress = query.find(services.db, case.case_number, tail(case), fresh_address())
    assert progress.status == "completed" and progress.result == "approved"
    assert progress.completed_on == clock.now().astimezone(clock.SHANGHAI).date()
    assert progress.current_steps == []


def test_a_wrong_pair_and_an_unknown_number_answer_alike(services: Services) -> None:
    case = start(services)
    wrong_digits = "0000" if tail(case) != "0000" else "1111"
    with pytest.raises(NotFound) as wrong:
        query.find(services.db, case.case_number, wrong_digits, fresh_address())
    with pytest.raises(NotFound) as unknown:
        query.find(services.db, "MZ-DIBAO-20260302-9999", tail(case), fresh_address())
    assert wrong.value.message == unknown.value.message == query.NOT_FOUND
    with pytest.raises(ValidationFailed) as short:
        query.find(services.db, case.case_number, "12", fresh_address())
    assert short.value.fields == {"id_tail": ["请填写身份证号码后四位"]}


def test_an_address_that_keeps_guessing_waits_and_others_do_not(services: Services) -> None:
    case = start(services)
    guesser, neighbour = fresh_address(), fresh_address()
    for digits in range(ADDRESS.free):
        with pytest.raises(NotFound):
            query.find(services.db, case.case_number, f"{digits:03d}Z", guesser)
    # A match never counts: a citizen may look at their own case as often as they like.
    for _ in range(3):
        query.find(services.db, case.case_number, tail(case), guesser)
    with pytest.raises(NotFound):
        query.find(services.db, case.case_number, "AAAA", guesser)
    with pytest.raises(TooManyAttempts) as waiting:
        query.find(services.db, case.case_number, tail(case), guesser)
    assert waiting.value.status == 429 and waiting.value.retry_after >= 1
    assert waiting.value.headers == {"Retry-After": str(waiting.value.retry_after)}
    assert "查询失败次数较多" in waiting.value.message
    assert query.find(services.db, case.case_number, tail(case), neighbour).case_number == case.case_number
    clock.travel(timedelta(seconds=waiting.value.retry_after))
    assert query.find(services.db, case.case_number, tail(case), guesser).case_number == case.case_number


def book(svc: Services, **changes: object) -> appointments.Appointment:
    values: dict = {"kind": "window", "item_code": "MZ-DIBAO", "place_code": "510123101000", "day": MONDAY,
                    "slot": "afternoon", "name": "张桂芳", "phone": "139-0812-3456", "note": "腿脚不便，上午要去医院"}
    values.update(changes)
    with svc.db.write() as session:
        booking = appointments.book(session, **values)
        session.expunge(booking)
    return booking


def test_a_booking_is_checked_field_by_field(services: Services) -> None:
    booking = book(services)
    assert booking.status == AppointmentStatus.BOOKED and booking.phone == "13908123456"
    assert booking.created_by_id is None
    # 2026-05-09 is a Saturday worked in exchange for the 劳动节 holidays: it may be booked.
    assert book(services, day=date(2026, 5, 9)).day == date(2026, 5, 9)
    with pytest.raises(ValidationFailed) as refused:
        book(services, kind="home", place_code="510123101000", day=date(2026, 3, 1), slot="evening", name="张",
             phone="12345", item_code="NONE")
    assert set(refused.value.fields) == {"place", "day", "slot", "name", "phone", "item"}
    assert refused.value.fields["day"] == ["预约日期不能早于今天"]
    for holiday in (date(2026, 3, 7), date(2026, 5, 1)):  # a Saturday, 劳动节
        with pytest.raises(ValidationFailed) as closed:
            book(services, day=holiday)
        assert closed.value.fields == {"day": ["预约日期须为工作日（周末和法定节假日不能预约）"]}
    with pytest.raises(Forbidden):
        book(services, by=staff(services, "auditor"))
    assert book(services, by=staff(services, "qingshui_window")).created_by_id == staff(services, "qingshui_window").id


def test_bookings_are_seen_by_the_staff_of_their_place_and_marked_once(services: Services) -> None:
    day = date(2026, 3, 4)
    window = book(services, day=day, slot="morning")
    home = book(services, day=day, kind="home", place_code=DONGPO, name="李德明", note="东坡村三组，老人卧床")

    def listed(username: str) -> set[int]:
        with services.db.read() as session:
            return {b.id for b in appointments.day_list(session, staff(services, username), day)}

    assert {window.id, home.id} <= listed("qingshui_window")
    assert home.id in listed("dongpo_agent") and window.id not in listed("dongpo_agent")
    assert {window.id, home.id} & (listed("hewan_agent") | listed("shiqiao_window")) == set()
    assert {window.id, home.id} <= listed("county_civil")
    with services.db.read() as session:
        inbox = {b.id for b in appointments.upcoming(session, staff(services, "dongpo_agent"))}
        assert home.id in inbox and window.id not in inbox
        assert appointments.upcoming(session, staff(services, "dongpo_committee")) == []
        window_inbox = {b.id for b in appointments.upcoming(session, staff(services, "qingshui_window"))}
        assert window.id in window_inbox and home.id not in window_inbox

    with services.db.write() as session, pytest.raises(NotFound):
        appointments.set_status(session, staff(services, "hewan_agent"), home.id, "done")
    with services.db.write() as session, pytest.raises(Forbidden):
        appointments.set_status(session, staff(services, "dongpo_committee"), home.id, "done")
    with services.db.write() as session:
        marked = appointments.set_status(session, staff(services, "dongpo_agent"), home.id, "done")
        assert marked.status == "done" and marked.changed_by_id == staff(services, "dongpo_agent").id
    with services.db.write() as session, pytest.raises(Conflict):
        appointments.set_status(session, staff(services, "qingshui_window"), home.id, "no_show")
    with services.db.read() as session:
        inbox = {b.id for b in appointments.upcoming(session, staff(services, "dongpo_agent"))}
    assert home.id not in inbox
