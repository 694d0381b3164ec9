"""全程代办 in the engine: 委托 → 传递 → 办结 → 回交 → 签收, by the village's agent in that order (both databases)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine import clock
from engine.audit import chain
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import Case, CaseEvent
from engine.services import Services
from engine.vocabulary import EventKind, ProxyStepKind
from engine.window import proxy
from tests.conftest import user_id
from tests.test_engine import drive, start

ENTRUST = {"principal": "李建国", "relation": "儿子", "matter": "代为申请农村低保并领取审批结果",
           "phone": "139-1234-5678"}
HAND_OVER = {"office": "清水镇便民服务中心 民政窗口", "method": "代办员送达"}


def record(svc: Services, kind: str, body: dict, case: Case, who: str = "dongpo_agent") -> object:
    return proxy.record(svc.cases, user_id(svc, who), case.id, kind, body)


def proxy_events(svc: Services, case_id: int) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id, CaseEvent.kind.like("proxy_%")).order_by(CaseEvent.seq)))


def progress(svc: Services, case: Case) -> proxy.Progress:
    with svc.db.read() as session:
        found = session.get(Case, case.id)
        assert found is not None
        return proxy.progress(session, found)


def test_proxy_case_from_entrustment_to_receipt(services: Services) -> None:
    case = start(services, name="王秀兰")
    assert progress(services, case).allowed == [ProxyStepKind.ENTRUSTED]
    entrusted = record(services, ProxyStepKind.ENTRUSTED, {**ENTRUST, "at": "2026-03-02T08:40"}, case)
    assert entrusted.details == {"principal": "李建国", "relation": "儿子", "matter": ENTRUST["matter"],
                                 "phone": "13912345678"}
    assert entrusted.happened_at == datetime(2026, 3, 2, 8, 40, tzinfo=clock.SHANGHAI)
    clock.travel(timedelta(hours=3))
    handed = record(services, ProxyStepKind.HANDED_OVER, HAND_OVER, case)
    # No 递交人 entered: the agent who carried it.
    assert handed.details["carrier"] == handed.recorded_by.display_name
    assert progress(services, case).allowed == [ProxyStepKind.HANDED_OVER]

    with pytest.raises(Conflict, match="办件尚未办结，不能回交"):
        record(services, ProxyStepKind.RETURNED, {"handed_back": "低保审批决定书"}, case)
    with services.db.read() as session:
        assert [row.case_number for row in proxy.awaiting_return(session, _agent(services), 50)
                if row.id == case.id] == []
    final, _ = drive(services, case)
    assert final.status == "completed"
    with services.db.read() as session:
        assert case.id in [row.id for row in proxy.awaiting_return(session, _agent(services), 50)]
    assert progress(services, case).allowed == [ProxyStepKind.RETURNED]

    returned = record(services, ProxyStepKind.RETURNED, {"handed_back": "低保审批决定书、低保证", "method": "送达家中"},
                      case)
    with services.db.read() as session:
        assert case.id not in [row.id for row in proxy.awaiting_return(session, _agent(services), 50)]
    received = record(services, ProxyStepKind.RECEIVED, {}, case)
    assert received.details == {"signed_by": "王秀兰", "relation": "本人"}
    assert progress(services, case).allowed == []
    assert returned.happened_at <= received.happened_at

    events = proxy_events(services, case.id)
    assert [e.kind for e in events] == [EventKind.PROXY_ENTRUSTED, EventKind.PROXY_HANDED_OVER,
                                        EventKind.PROXY_RETURNED, EventKind.PROXY_RECEIVED]
    assert events[0].after["happened_at"] == "2026-03-02 08:40"
    assert events[0].actor_name == entrusted.recorded_by.display_name
    assert [e.step for e in events] == ["代办·委托", "代办·传递", "代办·回交", "代办·签收"]
    with services.db.read() as session:
        assert chain.verify(session, case.id) == []


def _agent(svc: Services) -> object:
    from engine.cases.locking import actor

    with svc.db.read() as session:
        return actor(session, user_id(svc, "dongpo_agent"))


def test_steps_out_of_order_are_refused_with_the_reason(services: Services) -> None:
    case = start(services)
    with pytest.raises(Conflict, match="请先登记申请人的委托，再登记传递"):
        record(services, ProxyStepKind.HANDED_OVER, HAND_OVER, case)
    with pytest.raises(Conflict, match="请先登记申请人的委托，再登记签收"):
        record(services, ProxyStepKind.RECEIVED, {}, case)
    record(services, ProxyStepKind.ENTRUSTED, {"matter": "代办低保申请", "phone": "13800001111"}, case)
    with pytest.raises(Conflict, match="不能重复登记"):
        record(services, ProxyStepKind.ENTRUSTED, ENTRUST, case)
    with pytest.raises(Conflict, match="尚未回交申请人，不能登记签收"):
        record(services, ProxyStepKind.RECEIVED, {}, case)
    with pytest.raises(ValidationFailed, match="不能晚于现在"):
        record(services, ProxyStepKind.HANDED_OVER, {**HAND_OVER, "at": "2099-01-01T09:00"}, case)
    with pytest.raises(ValidationFailed, match="不能早于上一环节"):
        record(services, ProxyStepKind.HANDED_OVER, {**HAND_OVER, "at": "2026-01-05T09:00"}, case)
    assert [e.kind for e in proxy_events(services, case.id)] == [EventKind.PROXY_ENTRUSTED]


def test_entrustment_fields_are_checked(services: Services) -> None:
    case = start(services, name="张桂芳")
    with pytest.raises(ValidationFailed) as refused:
        record(services, ProxyStepKind.ENTRUSTED, {"principal": "张卫东", "matter": "", "phone": "123"}, case)
    assert set(refused.value.fields) == {"relation", "matter", "phone"}
    assert "请填写与申请人张桂芳的关系" in refused.value.fields["relation"][0]
    assert proxy_events(services, case.id) == []


def test_only_the_agent_of_the_case_village_records(services: Services) -> None:
    case = start(services)
    with pytest.raises(Forbidden, match="只有申请人所在村（社区）的代办员可以登记代办"):
        record(services, ProxyStepKind.ENTRUSTED, ENTRUST, case, who="qingshui_window")
    with pytest.raises(Forbidden):
        record(services, ProxyStepKind.ENTRUSTED, ENTRUST, case, who="dongpo_committee")
    # Another village's agent does not even see the case.
    with pytest.raises(NotFound):
        record(services, ProxyStepKind.ENTRUSTED, ENTRUST, case, who="hewan_agent")
    with pytest.raises(NotFound, match="没有这一代办环节"):
        record(services, "delivered", ENTRUST, case)
    assert proxy_events(services, case.id) == []
