"""Deadline rows: the case clock opens at 受理 with its first warning day, and closes when the case completes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from engine import clock
from engine.deadlines import clocks
from engine.models import Case, Deadline, Notification
from engine.notifications import notify
from engine.services import Services
from tests.conftest import make_services, user_id
from tests.test_engine import drive, start


def case_clock(svc: Services, case_id: int) -> Deadline:
    with svc.db.read() as session:
        return session.scalars(select(Deadline).where(Deadline.case_id == case_id, Deadline.task_id.is_(None))).one()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shipped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The demo county with the procedures as shipped: other modules' tests deploy changed versions."""
    svc = make_services(request.param, tmp_path_factory.mktemp("shipped"), "bianmin_shipped")
    yield svc
    svc.db.dispose()


def test_case_clock_opens_at_acceptance_with_its_warning_day(shipped: Services) -> None:
    case = start(shipped)
    deadline = case_clock(shipped, case.id)
    # Accepted Monday 2026-03-02: 30 working days, 清明 (04-04 to 04-06) not counted.
    assert (deadline.status, deadline.card, deadline.limit_days) == ("open", "", 30)
    assert deadline.due_date == case.promised_date == date(2026, 4, 14)
    # 20 % of 30: the yellow card shows while six working days remain, the due day included.
    assert deadline.yellow_from == date(2026, 4, 7)
    assert deadline.next_check_at == clocks.day_start(date(2026, 4, 7))
    assert clocks.card_on(deadline, date(2026, 4, 6)) == ""
    assert clocks.card_on(deadline, date(2026, 4, 7)) == "yellow"
    assert clocks.card_on(deadline, date(2026, 4, 14)) == "yellow"
    assert clocks.card_on(deadline, date(2026, 4, 15)) == "red"


def test_case_clock_closes_when_the_case_completes_and_says_whether_late(services: Services) -> None:
    on_time, _ = drive(services, start(services))
    deadline = case_clock(services, on_time.id)
    assert (deadline.status, deadline.late, deadline.next_check_at) == ("finished", False, None)
    late = start(services)
    clock.travel(timedelta(days=60))
    finished, _ = drive(services, late)
    with services.db.read() as session:
        assert session.get(Case, finished.id).status == "completed"
    assert case_clock(services, late.id).late is True


def test_warning_days_follow_the_item_or_one_day_or_a_fifth() -> None:
    assert clocks.warning_days(30, {}) == 6
    assert clocks.warning_days(3, {}) == 1
    assert clocks.warning_days(30, {"warning_days": 3}) == 3


def test_a_notification_exists_once_per_person_and_subject(services: Services) -> None:
    agent, committee = user_id(services, "dongpo_agent"), user_id(services, "dongpo_committee")
    for _ in range(2):
        with services.db.write() as session:
            notify(session, [agent, committee, agent], "test:once", "card", "办件即将超期", clock.now())
    with services.db.read() as session:
        rows = session.scalars(select(Notification).where(Notification.key == "test:once")).all()
    assert sorted(row.user_id for row in rows) == sorted([agent, committee])
