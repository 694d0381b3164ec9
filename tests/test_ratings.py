"""好差评 and 投诉: one rating per completed case, 差评 and complaints open follow-ups due in working days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from engine import clock
from engine.cases.locking import actor
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import Case, CaseEvent, FollowUp, Notification
from engine.services import Services
from engine.window import ratings
from tests.conftest import user_id
from tests.test_engine import drive, start

DAYS = 5


def completed(svc: Services) -> Case:
    final, _ = drive(svc, start(svc))
    assert final.status == "completed"
    return final


def rate(svc: Services, case_id: int, level: str, who: str | None = "dongpo_agent", comment: str = "") -> None:
    ratings.rate(svc.cases, DAYS, user_id(svc, who) if who else None, case_id, level, comment)


def follow_ups(svc: Services, case_id: int) -> list[FollowUp]:
    with svc.db.read() as session:
        return list(ratings.follow_ups_of(session, case_id))


def last_event(svc: Services, case_id: int) -> CaseEvent:
    with svc.db.read() as session:
        return session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                               .order_by(CaseEvent.seq.desc())).first()


def test_a_good_rating_is_recorded_once_and_opens_nothing(services: Services) -> None:
    case = completed(services)
    rate(services, case.id, "非常满意", comment="代办员上门服务，很方便")
    event = last_event(services, case.id)
    assert event.kind == "case_rated" and event.after["level"] == "非常满意" and event.after["channel"] == "window"
    assert follow_ups(services, case.id) == []
    with pytest.raises(Conflict, match="每件只能评价一次"):
        rate(services, case.id, "不满意")


def test_a_running_case_cannot_be_rated_and_levels_are_the_five(services: Services) -> None:
    case = start(services)
    with pytest.raises(Conflict, match="办结后"):
        rate(services, case.id, "满意")
    done = completed(services)
    with pytest.raises(ValidationFailed, match="非常满意、满意、基本满意、不满意、非常不满意"):
        rate(services, done.id, "一般")


def test_a_poor_rating_opens_a_follow_up_due_in_working_days(services: Services) -> None:
    case = completed(services)
    # Friday 2026-04-03, the eve of 清明 (4-4 to 4-6 off): five working days later is Monday 4-13.
    clock.set_now(datetime(2026, 4, 3, 10, 0, tzinfo=clock.SHANGHAI))
    rate(services, case.id, "不满意", who=None, comment="材料来回跑了三趟")
    [row] = follow_ups(services, case.id)
    assert row.due_date == date(2026, 4, 13) and row.status == "open" and row.rating_id is not None
    event = last_event(services, case.id)
    assert event.actor_name == "申请人（公开查询页）" and event.after["channel"] == "public"
    assert event.after["follow_up_due"] == "2026-04-13"
    with services.db.read() as session:
        told = session.scalars(select(Notification.title).where(
            Notification.user_id == user_id(services, "supervisor"), Notification.case_id == case.id)).all()
    assert told == [f"差评（不满意）待整改回访：{case.case_number}"]
    # Yellow on its last working day, red after it: the deadline rule.
    assert ratings.card(row, date(2026, 4, 10)) == ""
    assert ratings.card(row, date(2026, 4, 13)) == "yellow"
    assert ratings.card(row, date(2026, 4, 14)) == "red"


def test_a_complaint_on_any_case_opens_a_follow_up(services: Services) -> None:
    case = start(services)
    with pytest.raises(ValidationFailed, match="投诉内容"):
        ratings.complain(services.cases, DAYS, user_id(services, "dongpo_agent"), case.id, "  ")
    ratings.complain(services.cases, DAYS, None, case.id, "窗口工作人员态度生硬，不解释缺什么材料")
    [row] = follow_ups(services, case.id)
    assert row.complaint_id is not None and row.due_date is not None
    assert last_event(services, case.id).kind == "complaint_filed"


def test_the_window_records_only_within_its_jurisdiction(services: Services) -> None:
    case = completed(services)
    with pytest.raises(NotFound):
        rate(services, case.id, "满意", who="liulin_agent")
    with pytest.raises(Forbidden):
        rate(services, case.id, "满意", who="supervisor")
    rate(services, case.id, "满意", who="qingshui_window")


def test_supervisors_answer_follow_ups_of_their_jurisdiction_once(services: Services) -> None:
    case = completed(services)
    rate(services, case.id, "非常不满意")
    [row] = follow_ups(services, case.id)
    with services.db.read() as session:
        supervisor = actor(session, user_id(services, "supervisor"))
        assert row.id in [item.id for item in ratings.follow_ups(session, supervisor)]
    with pytest.raises(Forbidden):
        ratings.answer(services.cases, user_id(services, "qingshui_leader"), row.id, "已整改")
    with pytest.raises(ValidationFailed):
        ratings.answer(services.cases, user_id(services, "supervisor"), row.id, "")
    clock.travel(timedelta(days=2))
    answered = ratings.answer(services.cases, user_id(services, "supervisor"), row.id,
                              "已电话回访申请人，核实为材料清单告知不全；已责成村代办员重新学习一次性告知制度")
    assert answered.status == "answered" and answered.answered_by_id == user_id(services, "supervisor")
    event = last_event(services, case.id)
    assert event.kind == "follow_up_answered" and event.after["late"] is False
    with pytest.raises(Conflict, match="已由"):
        ratings.answer(services.cases, user_id(services, "supervisor"), row.id, "再次答复")


def test_satisfaction_per_window_and_person(services: Services) -> None:
    with services.db.read() as session:
        supervisor = actor(session, user_id(services, "supervisor"))
        start_at, end = clock.now() - timedelta(days=400), clock.now() + timedelta(days=400)
        before = ratings.totals(ratings.satisfaction(session, supervisor, start_at, end, "person"))
    good, poor = completed(services), completed(services)
    rate(services, good.id, "基本满意")
    rate(services, poor.id, "不满意")
    with services.db.read() as session:
        people = ratings.satisfaction(session, supervisor, start_at, end, "person")
        windows = ratings.satisfaction(session, supervisor, start_at, end, "window")
    after = ratings.totals(people)
    assert after.levels["基本满意"] == before.levels["基本满意"] + 1
    assert after.levels["不满意"] == before.levels["不满意"] + 1
    assert after.total == ratings.totals(windows).total
    [dongpo] = [line for line in windows if line.label == "东坡村"]
    assert dongpo.rate is not None and 0 < dongpo.rate < 1
