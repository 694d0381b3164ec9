"""Yellow and red cards raised by the scheduler tick as the clock moves: once each, to the right people."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from engine import clock, notifications, scheduler
from engine.audit import chain as audit
from engine.deadlines import cards, clocks, promised
from engine.models import Card, Case, CaseEvent, Deadline, Notification, OrgUnit, Task, User
from engine.people import accounts
from engine.services import Services
from engine.vocabulary import DeadlineStatus, EventKind
from tests.conftest import user_id
from tests.test_engine import form, holder, open_tasks, start

OTHER_COUNTY = ("510124", "白河县")


def _case_clock(svc: Services, case_id: int) -> Deadline:
    with svc.db.read() as session:
        return session.scalar(select(Deadline).where(Deadline.case_id == case_id, Deadline.task_id.is_(None)))


def _cards(svc: Services, deadline_id: int) -> list[tuple[str, date]]:
    with svc.db.read() as session:
        return [tuple(row) for row in session.execute(select(Card.color, Card.due_date).where(
            Card.deadline_id == deadline_id).order_by(Card.id))]


def _told(svc: Services, deadline_id: int) -> dict[str, set[str]]:
    """For each card colour of a deadline, who was notified (usernames)."""
    with svc.db.read() as session:
        rows = session.execute(select(Card.color, User.username).join(Notification, Notification.card_id == Card.id)
                               .join(User, User.id == Notification.user_id).where(Card.deadline_id == deadline_id))
        told: dict[str, set[str]] = {}
        for color, username in rows:
            told.setdefault(color, set()).add(username)
        return told


def _on(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=clock.SHANGHAI)


def _step_deadline(svc: Services, task: Task, limit_days: int) -> int:
    """A step's own limit as the engine keeps it (a row with the task's id), counted from the task's arrival."""
    with svc.db.write() as session:
        case = session.get(Case, task.case_id)
        work_calendar = svc.cases.reference.calendar(session)
        deadline = Deadline(case_id=case.id, task_id=task.id, name=task.name, limit_days=limit_days,
                            started_at=task.created_at, paused_days=0, extended_days=0,
                            status=DeadlineStatus.OPEN, card="")
        deadline.due_date = work_calendar.add_working_days(task.created_at.astimezone(clock.SHANGHAI).date(),
                                                           limit_days)
        clocks.schedule(deadline, work_calendar, clocks.warning_days(limit_days, {}), clock.now())
        session.add(deadline)
        session.flush()
        return deadline.id


def _other_county_supervisor(svc: Services) -> None:
    with svc.db.write() as session:
        if session.scalar(select(OrgUnit.id).where(OrgUnit.code == OTHER_COUNTY[0])) is None:
            session.add(OrgUnit(code=OTHER_COUNTY[0], name=OTHER_COUNTY[1], level="county"))
            session.flush()
            accounts.add_user(session, "baihe_supervisor", "supervisor", OTHER_COUNTY[0], password="baihe-2026-pass")


def test_a_case_turns_yellow_then_red_once_each_as_the_clock_moves(services: Services) -> None:
    _other_county_supervisor(services)
    case = start(services)
    deadline = _case_clock(services, case.id)
    assert deadline.card == "" and deadline.due_date == case.promised_date
    # 30 working days: six of warning (20 %), counted back past the 清明 holiday (4–6 April).
    assert deadline.yellow_from == date(2026, 4, 7) and deadline.due_date == date(2026, 4, 14)
    scheduler.tick(services.cases)
    assert _cards(services, deadline.id) == []

    clock.set_now(_on(deadline.yellow_from, 0) + timedelta(minutes=1))
    scheduler.tick(services.cases)
    scheduler.tick(services.cases)
    assert _cards(services, deadline.id) == [("yellow", deadline.due_date)]
    assert _case_clock(services, case.id).card == "yellow"

    clock.set_now(_on(deadline.due_date + timedelta(days=1), 0) + timedelta(minutes=1))
    assert scheduler.tick(services.cases) >= 1
    assert scheduler.tick(services.cases) == 0
    assert _cards(services, deadline.id) == [("yellow", deadline.due_date), ("red", deadline.due_date)]
    assert _case_clock(services, case.id).card == "red" and _case_clock(services, case.id).next_check_at is None
    # The holders of the case's open step and the county's supervisor; not another county's supervisor.
    assert _told(services, deadline.id) == {"yellow": {"dongpo_committee", "supervisor"},
                                            "red": {"dongpo_committee", "supervisor"}}
    with services.db.read() as session:
        events = session.execute(select(CaseEvent.kind, CaseEvent.step, CaseEvent.after).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == EventKind.CARD_RAISED).order_by(CaseEvent.seq)).all()
        assert [(e.step, e.after["card"]) for e in events] == [("办件整体", "yellow"), ("办件整体", "red")]
        assert not audit.verify(session, case.id)
        # Other cases of the session's database may fall due in the same tick: this case's own red card.
        [red] = [told for told in notifications.listing(session, user_id(services, "dongpo_committee"),
                                                        unread_only=True, limit=500)
                 if case.case_number in told.title and "红牌" in told.title]
    assert "2026年4月14日" in red.body


def test_a_scheduler_down_through_yellow_and_past_the_due_date_raises_both_once(services: Services) -> None:
    case = start(services)
    deadline = _case_clock(services, case.id)
    clock.set_now(_on(deadline.due_date + timedelta(days=3)))
    scheduler.tick(services.cases)
    scheduler.tick(services.cases)
    assert [color for color, _ in _cards(services, deadline.id)] == ["yellow", "red"]


def test_a_step_limit_turns_yellow_then_red_and_its_red_card_tells_the_town_leader(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    step_id = _step_deadline(services, task, 10)
    with services.db.read() as session:
        step = session.get(Deadline, step_id)
    # Ten working days from Monday 2 March: due Monday 16 March; two days' warning, the due day and the one before.
    assert (step.due_date, step.yellow_from) == (date(2026, 3, 16), date(2026, 3, 13))
    clock.set_now(_on(date(2026, 3, 13)))
    scheduler.tick(services.cases)
    assert [color for color, _ in _cards(services, step_id)] == ["yellow"]
    clock.set_now(_on(date(2026, 3, 17)))
    scheduler.tick(services.cases)
    scheduler.tick(services.cases)
    assert [color for color, _ in _cards(services, step_id)] == ["yellow", "red"]
    # The case clock has weeks to run: no card on it.
    assert _cards(services, _case_clock(services, case.id).id) == []
    assert _told(services, step_id) == {"yellow": {"dongpo_committee", "supervisor"},
                                        "red": {"dongpo_committee", "supervisor", "qingshui_leader"}}


def test_an_unclaimed_step_tells_its_whole_post_and_a_claimed_one_its_holder(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    clock.travel(timedelta(days=8))  # the village 公示 runs out
    services.cases.run_due_timers()
    [town] = open_tasks(services, case.id)
    assert town.role_code == "town_civil_affairs"
    unclaimed = _step_deadline(services, town, 1)
    clock.set_now(_on(date(2026, 3, 30)))
    scheduler.tick(services.cases)
    assert _told(services, unclaimed)["red"] == {"qingshui_civil", "qingshui_civil_b", "supervisor",
                                                 "qingshui_leader"}


def test_the_substitute_standing_in_for_an_away_holder_is_told_too(services: Services) -> None:
    case = start(services, name="闻人秋实")
    deadline = _case_clock(services, case.id)
    with services.db.write() as session:
        accounts.set_away(session, "dongpo_committee", True, substitute="hewan_committee")
    try:
        clock.set_now(_on(deadline.yellow_from, 0) + timedelta(minutes=1))
        scheduler.tick(services.cases)
    finally:
        with services.db.write() as session:
            accounts.set_away(session, "dongpo_committee", False)
    # 代岗: the substitute works the post's tasks meanwhile, so the card reaches them beside the holder.
    assert _told(services, deadline.id)["yellow"] == {"dongpo_committee", "hewan_committee", "supervisor"}


def test_a_date_moved_later_lowers_the_card_without_a_new_one(services: Services) -> None:
    case = start(services)
    deadline = _case_clock(services, case.id)
    clock.set_now(_on(deadline.yellow_from))
    scheduler.tick(services.cases)
    assert _case_clock(services, case.id).card == "yellow"
    # 延期 of ten working days (行政许可法 §42): the date moves, the yellow card no longer fits.
    with services.db.write() as session:
        locked = session.get(Case, case.id)
        row = session.get(Deadline, deadline.id)
        row.extended_days = 10
        guide = services.cases.versions.get(session, locked.version_id).guide
        promised.recount(session, locked, row, services.cases.reference.calendar(session), guide, clock.now(), None,
                         "延期")
    scheduler.tick(services.cases)
    lowered = _case_clock(services, case.id)
    assert lowered.card == "" and lowered.due_date == date(2026, 4, 28)
    assert _cards(services, deadline.id) == [("yellow", date(2026, 4, 14))]
    # Its new warning period earns a card about the new date.
    clock.set_now(_on(lowered.yellow_from))
    scheduler.tick(services.cases)
    assert _cards(services, deadline.id) == [("yellow", date(2026, 4, 14)), ("yellow", date(2026, 4, 28))]


def test_the_tick_claims_only_due_deadlines_and_none_twice(services: Services) -> None:
    start(services)
    clock.set_now(_on(date(2026, 6, 1)))
    scheduler.tick(services.cases)
    with services.db.read() as session:
        due = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.status == DeadlineStatus.OPEN, Deadline.next_check_at <= clock.now()))
        doubled = session.execute(select(Card.deadline_id, Card.color, Card.due_date).group_by(
            Card.deadline_id, Card.color, Card.due_date).having(func.count() > 1)).all()
    assert due == 0 and doubled == []
    assert cards.tick(services.cases) == 0




