"""预计: dates counted on a year whose 放假安排 is not entered, and their recount once the year is entered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from engine import clock, scheduler
from engine.audit import chain as audit
from engine.deadlines import calendar, clocks, promised, statutory
from engine.deadlines.calendar import CalendarRefused, MissingHolidayData
from engine.models import Case, CaseEvent, Deadline, Task
from engine.services import Services
from engine.vocabulary import DeadlineStatus, EventKind
from tests.conftest import make_services
from tests.test_engine import open_tasks, start

# A test fixture, not the State Council's notice (the 2027 one is not published yet): the statutory days of
# 2027 widened as the notices usually widen them, with two 调休 Saturdays/Sundays made workdays.
NOTICE_2027 = """[2027]
source = "测试用通知（按法定节假日和惯常调休编写）"
holidays = [
  ["2027-01-01", "元旦"], ["2027-01-02", "元旦"], ["2027-01-03", "元旦"],
  ["2027-02-05", "春节"], ["2027-02-06", "春节"], ["2027-02-07", "春节"], ["2027-02-08", "春节"],
  ["2027-02-09", "春节"], ["2027-02-10", "春节"], ["2027-02-11", "春节"], ["2027-02-12", "春节"],
  ["2027-02-13", "春节"],
  ["2027-04-03", "清明节"], ["2027-04-04", "清明节"], ["2027-04-05", "清明节"],
  ["2027-05-01", "劳动节"], ["2027-05-02", "劳动节"], ["2027-05-03", "劳动节"], ["2027-05-04", "劳动节"],
  ["2027-05-05", "劳动节"],
  ["2027-06-09", "端午节"],
  ["2027-09-15", "中秋节"],
  ["2027-10-01", "国庆节"], ["2027-10-02", "国庆节"], ["2027-10-03", "国庆节"], ["2027-10-04", "国庆节"],
  ["2027-10-05", "国庆节"], ["2027-10-06", "国庆节"], ["2027-10-07", "国庆节"],
]
workdays = [["2027-02-14", "春节调休上班"], ["2027-02-20", "春节调休上班"], ["2027-04-25", "劳动节调休上班"]]
"""


def test_statutory_days_are_within_the_entered_2025_and_2026_holidays() -> None:
    shipped = {entry.year: entry for entry in calendar.parse_notice(calendar.SHIPPED.read_text("utf-8"), "shipped")}
    for year in (2025, 2026):
        days = statutory.holidays(year)
        assert len(days) == 13  # 办法 §2 since 2025: 1 + 4 + 1 + 2 + 1 + 1 + 3
        assert set(days) <= set(shipped[year].holidays), year
        assert not set(days) & set(shipped[year].workdays)


def test_lunar_dates_and_the_qingming_term_are_right() -> None:
    days = statutory.holidays(2027)
    assert [day for day, name in sorted(days.items()) if name == "春节"] == [
        date(2027, 2, 5), date(2027, 2, 6), date(2027, 2, 7), date(2027, 2, 8)]  # 除夕 to 初三
    assert days[date(2027, 4, 5)] == "清明节" and days[date(2027, 6, 9)] == "端午节"
    assert days[date(2027, 9, 15)] == "中秋节"
    assert statutory.holidays(2025)[date(2025, 4, 4)] == "清明节"  # the term falls on 4 or 5 April
    # 2028's 中秋 is 3 October, a 国庆 day: one day off named for both, so the year has 12 distinct days.
    assert statutory.holidays(2028)[date(2028, 10, 3)] == "国庆节、中秋节" and len(statutory.holidays(2028)) == 12
    # 除夕 is the last day of 腊月: 廿九 before 2025's 春节 (a short month), 三十 before 2030's.
    assert min(day for day, name in statutory.holidays(2025).items() if name == "春节") == date(2025, 1, 28)
    assert min(day for day, name in statutory.holidays(2030).items() if name == "春节") == date(2030, 2, 2)


def test_a_provisional_calendar_counts_statutory_days_and_never_passes_its_years() -> None:
    work_calendar = calendar.WorkCalendar({2026})
    assert not work_calendar.is_workday(date(2027, 1, 1)) and work_calendar.is_workday(date(2027, 1, 4))
    assert not work_calendar.is_workday(date(2027, 5, 2))  # a Sunday anyway
    assert work_calendar.provisional(date(2026, 12, 1), date(2027, 1, 13))
    assert not work_calendar.provisional(date(2026, 3, 1), date(2026, 4, 13))
    for far in (date(2024, 5, 1), date(2101, 1, 3), date(1999, 12, 31)):
        with pytest.raises(MissingHolidayData, match=f"{far.year} 年的放假安排未录入"):
            work_calendar.is_workday(far)
    columns = promised.promised(work_calendar, 30, datetime(2100, 12, 1, 10, tzinfo=clock.SHANGHAI))
    assert columns["promised_date"] is None and "2101" in columns["promised_note"]


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_services(request: pytest.FixtureRequest, tmp_path) -> Iterator[Services]:  # type: ignore[no-untyped-def]
    """A database of its own: this test enters a holiday year the shared one must not have."""
    svc = make_services(request.param, tmp_path, "bianmin_calendar")
    yield svc
    svc.db.dispose()


def test_a_date_running_into_a_year_not_entered_is_provisional_until_the_year_is_entered(
    fresh_services: Services,
) -> None:
    svc = fresh_services
    clock.set_now(datetime(2026, 12, 31, 10, 0, tzinfo=clock.SHANGHAI))  # 30 working days run past 春节 2027
    case = start(svc)
    # January has 20 working days after 元旦, 1–4 February 4 more; 除夕 and 初三 are statutory weekdays off.
    assert (case.promised_date, case.promised_provisional) == (date(2027, 2, 16), True)
    task = open_tasks(svc, case.id)[0]
    assert task.promised_date == date(2027, 2, 16)
    with svc.db.write() as session:
        # A step's own limit counted the same way is recounted with the case clock.
        step = Deadline(case_id=case.id, task_id=task.id, name=task.name, limit_days=30, started_at=clock.now(),
                        paused_days=0, extended_days=0, status=DeadlineStatus.OPEN, card="")
        session.add(step)
        locked = session.get(Case, case.id)
        promised.recount(session, locked, step, calendar.load(session), {}, clock.now(), None, why="步骤受理")
        assert (step.due_date, step.provisional) == (date(2027, 2, 16), True)
        assert session.scalar(select(Deadline.provisional).where(
            Deadline.case_id == case.id, Deadline.task_id.is_(None)))
    # Nothing left to recount while 2027 is still not entered.
    assert svc.cases.recount_provisional(50) == 0

    with pytest.raises(CalendarRefused) as refused:
        calendar.parse_notice('[2027]\nsource = "x"\nholidays = [["2026-12-31", "元旦"], ["2027-02-30", "春节"]]\n',
                              "2027.toml")
    assert len(refused.value.details) == 2 and "不在 2027 年内" in refused.value.details[0]

    years, recounted = promised.enter_years(svc.cases, calendar.parse_notice(NOTICE_2027, "2027.toml"))
    assert (years, recounted) == ([2027], 1)
    with pytest.raises(CalendarRefused, match="已录入"), svc.db.write() as session:
        calendar.enter(session, calendar.parse_notice(NOTICE_2027, "2027.toml"))

    # 24 working days by 4 February as before; 春节 now runs to the 13th and the 14th is worked: 25 on the 14th,
    # 30 on Friday 19 February.
    with svc.db.read() as session:
        final = session.get(Case, case.id)
        assert (final.promised_date, final.promised_provisional) == (date(2027, 2, 19), False)
        assert {(d.task_id is None, d.due_date, d.provisional) for d in session.scalars(
            select(Deadline).where(Deadline.case_id == case.id))} == {
            (True, date(2027, 2, 19), False), (False, date(2027, 2, 19), False)}
        assert session.get(Task, task.id).promised_date == date(2027, 2, 19)
        changed = list(session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.DUE_DATE_CHANGED).order_by(CaseEvent.seq)))
        assert [event.after for event in changed[-2:]] == [
            {"due_date": "2027-02-19", "provisional": False, "why": "2027年放假安排录入"}] * 2
        assert changed[-1].before == {"due_date": "2027-02-16", "provisional": True}
        assert audit.verify(session, case.id) == []
        deadline = session.scalar(select(Deadline).where(Deadline.case_id == case.id, Deadline.task_id.is_(None)))
        # The yellow card follows the final date: 6 working days (20 % of 30) before 19 February.
        assert deadline.yellow_from == date(2027, 2, 14)
        assert clocks.card_on(deadline, date(2027, 2, 13)) == ""
    assert svc.cases.recount_provisional(50) == 0


def test_a_case_accepted_past_every_countable_year_is_accepted_with_a_clear_note(services: Services) -> None:
    clock.set_now(datetime(2101, 3, 1, 10, 0, tzinfo=clock.SHANGHAI))
    case = start(services)
    assert case.promised_date is None and not case.promised_provisional
    assert "2101 年的放假安排未录入" in (case.promised_note or "")
    assert open_tasks(services, case.id)  # the application is accepted all the same
    assert services.cases.recount_provisional(50) == 0


def test_the_scheduler_recounts_what_a_calendar_entry_left(fresh_services: Services) -> None:
    svc = fresh_services
    clock.set_now(datetime(2026, 12, 30, 10, 0, tzinfo=clock.SHANGHAI))
    case = start(svc)
    assert case.promised_provisional
    # The year stored by another process (a web request that recounted one batch, or a load that was stopped).
    with svc.db.write() as session:
        calendar.enter(session, calendar.parse_notice(NOTICE_2027, "2027.toml"))
    assert scheduler.tick(svc.cases) >= 1
    with svc.db.read() as session:
        final = session.get(Case, case.id)
        assert (final.promised_date, final.promised_provisional) == (date(2027, 2, 18), False)
        assert session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.DUE_DATE_CHANGED)) == 1
    assert svc.cases.recount_provisional(50) == 0
