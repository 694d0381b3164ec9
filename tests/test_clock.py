"""The clock in working days: 受理 at the acceptance step, pauses, step limits, working-day timers, escalation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine import clock, scheduler
from engine.deadlines import calendar, clocks, extensions
from engine.errors import DeployRefused
from engine.models import Card, Case, CaseEvent, ClockPause, Deadline, Task, Timer
from engine.procedures.bundle import read_folder
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import SEED_SHAPE, variant, with_escalation
from tests.test_api import auth, make_client
from tests.test_engine import form, holder, open_tasks, start

ROLES = {"village_agent", "village_committee", "town_civil_affairs", "county_civil_affairs", "town_leader"}


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=clock.SHANGHAI)


def near(moment: datetime | None, expected: datetime) -> bool:
    """The engine clock runs on from where a test set it: a moment a step took is within seconds of it."""
    return moment is not None and abs(moment - expected) < timedelta(seconds=30)


def deploy(svc: Services, folder: Path) -> None:
    with svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)


@pytest.fixture
def dibao(services: Services, tmp_path: Path) -> str:
    """The shipped 低保 under a code of its own: other tests deploy changed versions of MZ-DIBAO itself."""
    deploy(services, variant(tmp_path, "CLOCK-DIBAO"))
    return "CLOCK-DIBAO"


def seeded(parent: Path, code: str, **changes: Any) -> Path:
    """The seed-shaped 低保 fixture under `code`: clock mechanics are tried on its plain chain of reviews."""
    return variant(parent, code, source=SEED_SHAPE, **changes)


def timer_status(svc: Services, case_id: int, element_id: str) -> str:
    """Other tests' cases share the database and may fall due too: a timer is looked at case by case."""
    with svc.db.read() as session:
        return session.scalars(select(Timer.status).where(Timer.case_id == case_id, Timer.element_id == element_id)
                               .order_by(Timer.due_at.desc())).first()


def refusals(folder: Path) -> list[str]:
    with pytest.raises(DeployRefused) as refused:
        read_folder(folder, ROLES, 2 * 1024 * 1024)
    return [problem.text for problem in refused.value.problems]


def complete(svc: Services, element_id: str, case_id: int, data: dict | None = None) -> None:
    [task] = [task for task in open_tasks(svc, case_id) if task.element_id == element_id]
    svc.cases.complete(holder(svc, task), task.id, data if data is not None else form(svc, task, "approve"))


def reload(svc: Services, case_id: int) -> Case:
    with svc.db.read() as session:
        return session.get(Case, case_id)


def case_clock(svc: Services, case_id: int) -> Deadline | None:
    with svc.db.read() as session:
        return session.scalar(select(Deadline).where(Deadline.case_id == case_id, Deadline.task_id.is_(None)))


def step_clock(svc: Services, case_id: int, element_id: str) -> Deadline:
    with svc.db.read() as session:
        return session.scalars(select(Deadline).join(Task, Task.id == Deadline.task_id).where(
            Deadline.case_id == case_id, Task.element_id == element_id)).one()


def events(svc: Services, case_id: int, *kinds: str) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(kinds))
                                    .order_by(CaseEvent.seq)))


def pauses(svc: Services, case_id: int) -> list[ClockPause]:
    with svc.db.read() as session:
        return list(session.scalars(select(ClockPause).where(ClockPause.case_id == case_id).order_by(ClockPause.id)))


def test_thirty_working_days_across_national_day_and_a_make_up_saturday(services: Services, dibao: str) -> None:
    clock.set_now(at(date(2026, 9, 21)))
    case = start(services, dibao)
    # From Monday 21 September: 22–24 (3), 中秋 25–27 off, 28–30 (6), 国庆 1–7 October off, 8–9 (8), Saturday
    # 10 October a 调休 workday (9), then five-day weeks: 16 (14), 23 (19), 30 (24), 6 November (29), 9 November.
    assert case.promised_date == date(2026, 11, 9)
    assert case_clock(services, case.id).due_date == date(2026, 11, 9)
    with services.db.read() as session:
        work_calendar = calendar.load(session)
    assert work_calendar.is_workday(date(2026, 10, 10)) and not work_calendar.is_workday(date(2026, 10, 5))


def test_zhaijidi_clock_starts_when_the_window_accepts(services: Services) -> None:
    case = start(services, "ZR-ZHAIJIDI")
    # Registered by the village on Monday 2 March: no promised date and no case deadline until 受理.
    assert (case.promised_date, case.clock_started_at) == (None, None)
    assert case.promised_note == "待“受理”环节受理后起算"
    assert case_clock(services, case.id) is None
    complete(services, "village_review", case.id)
    # The village's seven days' 公示 comes before 受理: nothing is paused, as nothing runs yet.
    clock.travel(timedelta(days=7, hours=1))
    assert services.cases.run_due_timers() >= 1 and pauses(services, case.id) == []
    [intake] = open_tasks(services, case.id)
    assert intake.promised_date is None
    # The window's own limit: 行政许可法 §32, five working days from the task's arrival (Monday 9 March).
    assert step_clock(services, case.id, "intake").due_date == date(2026, 3, 16)
    clock.travel(timedelta(days=3))
    complete(services, "intake", case.id)
    case = reload(services, case.id)
    # 行政许可法 §42: 20 working days from Thursday 12 March, 清明 (4–6 April) not counted.
    assert near(case.clock_started_at, at(date(2026, 3, 12), 10))
    assert case.promised_date == date(2026, 4, 10)
    deadline = case_clock(services, case.id)
    assert near(deadline.started_at, at(date(2026, 3, 12), 10))
    assert (deadline.due_date, deadline.status) == (date(2026, 4, 10), "open")
    [started] = events(services, case.id, "clock_started")
    assert (started.step, started.after["promised_date"]) == ("受理", "2026-04-10")
    assert {task.promised_date for task in open_tasks(services, case.id)} == {date(2026, 4, 10)}
    intake_clock = step_clock(services, case.id, "intake")
    assert (intake_clock.status, intake_clock.late) == ("finished", False)


def test_publicity_pauses_the_case_clock(services: Services, dibao: str) -> None:
    case = start(services, dibao)
    assert case.promised_date == date(2026, 4, 14)
    for step in ("village_review", "town_investigation", "town_review"):
        complete(services, step, case.id)
    # The town's 初审意见 is posted seven calendar days (item.toml [timers]) and holds the clock: no card can fall due.
    [paused] = pauses(services, case.id)
    assert (paused.reason, paused.step, paused.ended_at) == ("公示", "初审意见在村公示7天", None)
    assert case_clock(services, case.id).next_check_at is None
    with services.db.read() as session:
        [timer] = session.scalars(select(Timer).where(Timer.case_id == case.id)).all()
    assert near(timer.due_at, at(date(2026, 3, 9)))
    # An extension approved meanwhile moves the date, and still no card is scheduled while paused.
    asked = extensions.request(services.cases, user_id(services, "dongpo_agent"), case.id, None, 2, "需补充入户材料")
    extensions.decide(services.cases, user_id(services, "qingshui_leader"), asked.id, True, "同意")
    deadline = case_clock(services, case.id)
    assert (deadline.due_date, deadline.next_check_at) == (date(2026, 4, 16), None)
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    assert timer_status(services, case.id, "Timer_village_publicity") == "fired"
    [ended] = pauses(services, case.id)
    # Tuesday 3 to Monday 9 March: five working days, so the promised date moves five working days on.
    assert near(ended.ended_at, at(date(2026, 3, 9))) and ended.working_days == 5
    deadline = case_clock(services, case.id)
    # 30 working days + 2 extended + 5 paused from 2 March.
    assert (deadline.paused_days, deadline.due_date) == (5, date(2026, 4, 23))
    assert deadline.next_check_at == clocks.day_start(deadline.yellow_from)
    assert reload(services, case.id).promised_date == date(2026, 4, 23)
    assert {task.promised_date for task in open_tasks(services, case.id)} == {date(2026, 4, 23)}
    kinds = [(event.kind, event.step) for event in
             events(services, case.id, "clock_paused", "clock_resumed", "due_date_changed")]
    assert kinds == [("clock_paused", "初审意见在村公示7天"), ("due_date_changed", "承诺办结期限"),
                     ("clock_resumed", "初审意见在村公示7天"), ("due_date_changed", "承诺办结期限")]
    moved = events(services, case.id, "due_date_changed")[-1]
    assert (moved.before["due_date"], moved.after["due_date"]) == ("2026-04-16", "2026-04-23")


def test_supplement_step_pauses_the_clock_and_pauses_add_up(services: Services, tmp_path: Path) -> None:
    deploy(services, seeded(tmp_path, "CLOCK-BUZHENG", properties={"town_review": {"clockPause": "补正"}}))
    case = start(services, "CLOCK-BUZHENG")
    complete(services, "village_review", case.id)
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    # 补正 (the applicant's own time) from Monday 9 to Thursday 12 March: three working days more.
    assert case_clock(services, case.id).next_check_at is None
    clock.travel(timedelta(days=3))
    complete(services, "town_review", case.id)
    assert [(row.reason, row.working_days) for row in pauses(services, case.id)] == [("公示", 5), ("补正", 3)]
    deadline = case_clock(services, case.id)
    assert (deadline.paused_days, deadline.due_date) == (8, date(2026, 4, 24))
    assert deadline.next_check_at is not None
    assert reload(services, case.id).promised_date == date(2026, 4, 24)


def test_no_card_falls_due_while_the_clock_is_paused(services: Services, tmp_path: Path) -> None:
    deploy(services, seeded(tmp_path, "CLOCK-NOCARD", properties={"town_review": {"clockPause": "补正"}}))
    case = start(services, "CLOCK-NOCARD")
    complete(services, "village_review", case.id)
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    # The applicant takes until 22 April to supplement: past the promised date of 21 April, yet no card.
    clock.set_now(at(date(2026, 4, 22)))
    scheduler.tick(services.cases)
    assert case_clock(services, case.id).card == ""
    with services.db.read() as session:
        assert session.scalars(select(Card).where(Card.case_id == case.id)).all() == []
    complete(services, "town_review", case.id)
    with services.db.read() as session:
        work_calendar = calendar.load(session)
    held = len(work_calendar.working_days_in(date(2026, 3, 9), date(2026, 4, 22)))
    deadline = case_clock(services, case.id)
    assert (held, deadline.paused_days) == (31, 5 + 31)
    assert deadline.due_date == work_calendar.add_working_days(date(2026, 3, 2), 30 + 5 + 31)
    assert deadline.next_check_at is not None


def test_step_limit_due_date_late_and_on_time(services: Services, tmp_path: Path) -> None:
    deploy(services, seeded(tmp_path, "CLOCK-STEP", properties={"town_review": {"timeLimitWorkingDays": "3"}}))
    late, on_time = start(services, "CLOCK-STEP"), start(services, "CLOCK-STEP")
    for case in (late, on_time):
        complete(services, "village_review", case.id)
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    # Arrived Monday 9 March: three working days, due Thursday 12 March, yellow on its last day.
    deadline = step_clock(services, late.id, "town_review")
    assert near(deadline.started_at, at(date(2026, 3, 9)))
    assert (deadline.due_date, deadline.yellow_from) == (date(2026, 3, 12), date(2026, 3, 12))
    assert (deadline.name, deadline.limit_days, deadline.status) == ("乡镇审核", 3, "open")
    clock.travel(timedelta(days=3))
    complete(services, "town_review", on_time.id)
    clock.travel(timedelta(days=1))
    complete(services, "town_review", late.id)
    assert (step_clock(services, on_time.id, "town_review").late, step_clock(services, late.id, "town_review").late) \
        == (False, True)
    assert step_clock(services, late.id, "town_review").status == "finished"


def test_step_limit_cancelled_with_its_task(services: Services, tmp_path: Path) -> None:
    folder = seeded(tmp_path, "CLOCK-CANCEL", properties={"town_review": {"timeLimitWorkingDays": "3"}})
    deploy(services, with_escalation(folder, "town_review", 2, interrupting=True))
    case = start(services, "CLOCK-CANCEL")
    complete(services, "village_review", case.id)
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    clock.set_now(at(date(2026, 3, 12), 0))
    services.cases.run_due_timers()
    assert [task.element_id for task in open_tasks(services, case.id)] == ["supervise"]
    deadline = step_clock(services, case.id, "town_review")
    assert (deadline.status, deadline.next_check_at, deadline.late) == ("cancelled", None, None)


def test_working_day_timer_across_a_holiday_weekend(services: Services, tmp_path: Path) -> None:
    deploy(services, seeded(tmp_path, "CLOCK-WORKDAYS", timers=(
        '[timers.Timer_village_publicity]\ndays = 3\nunit = "working"\nbasis = "测试：公示3个工作日"\n')))
    clock.set_now(at(date(2026, 4, 2)))
    case = start(services, "CLOCK-WORKDAYS")
    complete(services, "village_review", case.id)
    with services.db.read() as session:
        [timer] = session.scalars(select(Timer).where(Timer.case_id == case.id)).all()
    # Thursday 2 April: Friday 3 (1), 清明 4–6 off, Tuesday 7 (2), Wednesday 8 (3); it runs to the end of that day.
    assert timer.due_at == clocks.day_start(date(2026, 4, 9))
    clock.set_now(at(date(2026, 4, 8), 23))
    services.cases.run_due_timers()
    assert timer_status(services, case.id, "Timer_village_publicity") == "waiting"
    clock.set_now(at(date(2026, 4, 9), 0))
    services.cases.run_due_timers()
    assert timer_status(services, case.id, "Timer_village_publicity") == "fired"
    assert [task.element_id for task in open_tasks(services, case.id)] == ["town_review"]


def test_boundary_timer_escalates_in_working_days(services: Services, tmp_path: Path) -> None:
    deploy(services, with_escalation(seeded(tmp_path, "CLOCK-ESCALATE"), "town_review", 2))
    escalated, done_first = start(services, "CLOCK-ESCALATE"), start(services, "CLOCK-ESCALATE")
    for case in (escalated, done_first):
        complete(services, "village_review", case.id)
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    with services.db.read() as session:
        due = session.scalars(select(Timer.due_at).where(Timer.case_id == escalated.id,
                                                         Timer.element_id == "Timer_escalate")).one()
    # Two working days from Monday 9 March: the end of Wednesday 11.
    assert due == clocks.day_start(date(2026, 3, 12))
    complete(services, "town_review", done_first.id)
    clock.set_now(at(date(2026, 3, 11), 23))
    services.cases.run_due_timers()
    assert timer_status(services, escalated.id, "Timer_escalate") == "waiting"
    clock.set_now(at(date(2026, 3, 12), 0))
    services.cases.run_due_timers()
    tasks = {task.element_id: task for task in open_tasks(services, escalated.id)}
    # The town leader gets the 督办 task; the town review stays open beside it.
    assert set(tasks) == {"supervise", "town_review"}
    assert tasks["supervise"].role_code == "town_leader"
    assert tasks["supervise"].org_id == tasks["town_review"].org_id
    with services.db.read() as session:
        statuses = dict(session.execute(select(Timer.case_id, Timer.status).where(
            Timer.element_id == "Timer_escalate", Timer.case_id.in_([escalated.id, done_first.id]))).all())
    assert statuses == {escalated.id: "fired", done_first.id: "cancelled"}
    assert [event.step for event in events(services, done_first.id, "timer_fired")] == ["初审公示7天"]
    complete(services, "supervise", escalated.id, {"comment": "已督促乡镇民政办当日办理"})
    complete(services, "town_review", escalated.id)
    assert [task.element_id for task in open_tasks(services, escalated.id)] == ["county_approval"]
    complete(services, "county_approval", escalated.id)
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    complete(services, "publicity_confirm", escalated.id)
    # The case ends where its main path ends (批准), not at the escalation branch's own end event.
    finished = reload(services, escalated.id)
    assert (finished.status, finished.result) == ("completed", "approved")


@pytest.mark.parametrize("properties,timers,expected", [
    ({"town_review": {"timeLimitWorkingDays": "0"}}, None, "环节时限（timeLimitWorkingDays）“0”应为正整数"),
    ({"town_review": {"timeLimitWorkingDays": "五天"}}, None, "环节时限（timeLimitWorkingDays）“五天”应为正整数"),
    ({"Timer_village_publicity": {"timeLimitWorkingDays": "3"}}, None, "只能设在用户任务上"),
    ({"Timer_village_publicity": {"workingDays": "-2"}}, "", "工作日计时（workingDays）“-2”应为正整数"),
    ({"town_review": {"workingDays": "2"}}, None, "只能设在时长或日期定时器上"),
    ({"town_review": {"clockPause": "休息"}}, None, "暂停计时的原因“休息”无效"),
    ({"Gateway_village": {"clockPause": "公示"}}, None, "只能设在用户任务或定时器上"),
    ({"village_review": {"acceptanceStep": "true"}, "town_review": {"acceptanceStep": "true"}}, None,
     "一个流程只能有一个受理环节（acceptanceStep），现有 2 个：“村委会初审”、“乡镇审核”"),
    ({"Timer_village_publicity": {"acceptanceStep": "true"}}, None, "必须是用户任务"),
    ({}, '[timers.Timer_village_publicity]\ndays = 7\nunit = "week"\nbasis = "x"\n', "unit 应为"),
    ({}, '[timers.Timer_village_publicity]\ndays = 0\nunit = "calendar"\nbasis = "x"\n', "days 应为正整数"),
    ({}, '[timers.Timer_village_publicity]\ndays = 7\nunit = "calendar"\n', "缺少 basis"),
    ({}, '[timers.Timer_gone]\ndays = 7\nunit = "calendar"\nbasis = "x"\n', "没有 id 为“Timer_gone”的定时器"),
])
def test_deploy_refuses_bad_clock_properties(tmp_path: Path, properties: dict, timers: str | None,
                                             expected: str) -> None:
    found = refusals(seeded(tmp_path, "CLOCK-BAD", properties=properties, timers=timers))
    assert any(expected in text for text in found), found


def test_api_lists_pauses_and_a_steps_due_date(services: Services, tmp_path: Path) -> None:
    deploy(services, seeded(tmp_path, "CLOCK-API", properties={"town_review": {"timeLimitWorkingDays": "3"}}))
    case = start(services, "CLOCK-API")
    complete(services, "village_review", case.id)
    client = make_client(services)
    paused = client.get(f"/api/v1/cases/{case.id}", headers=auth(services, "dongpo_agent")).json["clock_pauses"]
    assert [(row["reason"], row["step"], row["ended_at"], row["working_days"]) for row in paused] == [
        ("公示", "初审公示7天", None, None)]
    clock.travel(timedelta(days=7))
    services.cases.run_due_timers()
    [ended] = client.get(f"/api/v1/cases/{case.id}", headers=auth(services, "dongpo_agent")).json["clock_pauses"]
    assert ended["working_days"] == 5 and ended["ended_at"].startswith("2026-03-09T")
    [task] = open_tasks(services, case.id)
    found = client.get(f"/api/v1/tasks/{task.id}", headers=auth(services, "qingshui_civil")).json
    assert found["step_deadline"] == {"limit_days": 3, "due_date": "2026-03-12", "provisional": False,
                                      "status": "open", "late": None}
    assert found["promised_date"] == "2026-04-21"
