"""延期: asked by the case's handlers, capped by 行政许可法 §42, decided by the town leader or the county department."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock, scheduler
from engine.audit import chain
from engine.cases.locking import actor
from engine.deadlines import extensions
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.models import Card, Case, CaseEvent, Deadline, Extension, Notification, Task
from engine.people.jurisdiction import Actor
from engine.services import Services
from tests.conftest import make_services, user_id
from tests.test_api import auth, make_client
from tests.test_engine import form, holder, open_tasks, start
from tests.test_webui import login, post


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shipped(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The demo county with the procedures as shipped (other modules deploy changed versions into theirs)."""
    svc = make_services(request.param, tmp_path_factory.mktemp(f"ext-{request.param}"), "bianmin_ext")
    yield svc
    svc.db.dispose()


def case_clock(svc: Services, case_id: int) -> Deadline:
    with svc.db.read() as session:
        return session.scalars(select(Deadline).where(Deadline.case_id == case_id, Deadline.task_id.is_(None))).one()


def ask(svc: Services, who: str, case_id: int, days: object, reason: object = "入户调查需补充邻里访问记录",
        deadline_id: int | None = None) -> Extension:
    return extensions.request(svc.cases, user_id(svc, who), case_id, deadline_id, days, reason)


def kinds(svc: Services, case_id: int) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))


def notifications(svc: Services, who: str, case_id: int) -> list[str]:
    with svc.db.read() as session:
        return list(session.scalars(select(Notification.title).where(
            Notification.user_id == user_id(svc, who), Notification.case_id == case_id)))


def at_county_step(svc: Services) -> tuple[Case, Task]:
    """A 低保 case past the village, the town's investigation and 初审, and the 公示: the county's step is open."""
    case = start(svc)
    for expected in ("village_review", "town_investigation", "town_review", "publicity_confirm"):
        if expected == "publicity_confirm":
            clock.travel(timedelta(days=8))
            assert svc.cases.run_due_timers() >= 1
        task = open_tasks(svc, case.id)[0]
        assert task.element_id == expected
        svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
    task = open_tasks(svc, case.id)[0]
    assert task.element_id == "county_approval"
    return case, task


def step_limit(svc: Services, case: Case, task: Task, days: int = 5) -> int:
    """A step's own limit as the step-limit code records it (written here directly)."""
    with svc.db.write() as session:
        deadline = Deadline(case_id=case.id, task_id=task.id, name=task.name, limit_days=days,
                            started_at=task.created_at, due_date=clock.local_now().date() + timedelta(days=7),
                            provisional=False, paused_days=0, extended_days=0, status="open", card="")
        session.add(deadline)
        session.flush()
        return deadline.id


def test_an_approved_extension_moves_the_promised_date_and_is_recorded(shipped: Services) -> None:
    case = start(shipped)
    assert case.promised_date == date(2026, 4, 14)
    # Wednesday 04-08: inside the warning period (from 04-07), so the scheduler has raised the yellow card.
    clock.set_now(datetime(2026, 4, 8, 9, 0, tzinfo=clock.SHANGHAI))
    scheduler.tick(shipped.cases)
    assert case_clock(shipped, case.id).card == "yellow"
    asked = ask(shipped, "dongpo_agent", case.id, 5)
    assert asked.status == "pending"
    assert notifications(shipped, "qingshui_leader", case.id) == [f"延期申请待审批：{case.case_number}"]
    assert notifications(shipped, "shiqiao_leader", case.id) == []
    with shipped.db.read() as session:
        pending = extensions.pending_for(session, _actor(shipped, "qingshui_leader"))
        assert asked.id in [row.id for row in pending]
        assert asked.id not in [row.id for row in extensions.pending_for(session, _actor(shipped, "shiqiao_leader"))]

    decided = extensions.decide(shipped.cases, user_id(shipped, "qingshui_leader"), asked.id, True, "同意")
    assert decided.status == "approved"
    with shipped.db.read() as session:
        moved = session.get(Case, case.id)
        # Five more working days after Tuesday 04-14: 15, 16, 17, 20, 21.
        assert moved.promised_date == date(2026, 4, 21)
        assert {task.promised_date for task in session.scalars(select(Task).where(
            Task.case_id == case.id, Task.status == "open"))} == {date(2026, 4, 21)}
        assert chain.verify(session, case.id) == []
    deadline = case_clock(shipped, case.id)
    assert (deadline.extended_days, deadline.due_date) == (5, date(2026, 4, 21))
    assert deadline.next_check_at is not None and deadline.next_check_at <= clock.now()
    # The next tick lowers the card (six working days before 04-21 is 04-14), raising nothing new.
    scheduler.tick(shipped.cases)
    assert case_clock(shipped, case.id).card == ""
    with shipped.db.read() as session:
        assert session.scalars(select(Card.color).where(Card.case_id == case.id)).all() == ["yellow"]
    events = kinds(shipped, case.id)
    tail = [(e.kind, e.actor_name) for e in events[-3:]]
    assert [kind for kind, _ in tail] == ["extension_requested", "extension_decided", "due_date_changed"]
    assert events[-1].before["due_date"] == "2026-04-14"
    assert events[-1].after == {"due_date": "2026-04-21", "provisional": False, "why": "延期批准"}
    assert events[-3].after["reason"] == "入户调查需补充邻里访问记录"
    assert notifications(shipped, "dongpo_agent", case.id) == [f"延期申请已批准：{case.case_number}"]
    with shipped.db.read() as session:
        [row] = extensions.of_case(session, case.id)
    assert (row.requested_by, row.decided_by, row.days, row.status) == ("东坡村代办员（A岗）", "清水镇分管领导（A岗）",
                                                                         5, "approved")


def _actor(svc: Services, username: str) -> Actor:
    with svc.db.read() as session:
        return actor(session, user_id(svc, username))


def test_extensions_past_the_cap_and_bad_input_are_refused_and_change_nothing(shipped: Services) -> None:
    case = start(shipped)
    ask(shipped, "dongpo_agent", case.id, 6)
    events = len(kinds(shipped, case.id))
    with pytest.raises(ValidationFailed, match="不得超过 10 个工作日.*最多还可申请 4 个工作日"):
        ask(shipped, "dongpo_agent", case.id, 5)
    for days, reason, message in [(0, "理由", "正整数"), ("三", "理由", "正整数"), (2.5, "理由", "正整数"),
                                  (True, "理由", "正整数"), (2, "   ", "请填写延期理由"),
                                  (2, "长" * 501, "不能超过 500 个字")]:
        with pytest.raises(ValidationFailed, match=message):
            ask(shipped, "dongpo_agent", case.id, days, reason)
    assert len(kinds(shipped, case.id)) == events
    with shipped.db.read() as session:
        assert [row.days for row in extensions.of_case(session, case.id)] == [6]
    assert case_clock(shipped, case.id).due_date == date(2026, 4, 14)
    # Four more still fit under the cap.
    assert ask(shipped, "dongpo_agent", case.id, "4").days == 4


def test_only_the_case_handlers_ask_and_only_the_right_leader_decides_once(shipped: Services) -> None:
    case = start(shipped)
    with pytest.raises(NotFound):
        ask(shipped, "hewan_agent", case.id, 2)
    for outsider in ("supervisor", "qingshui_leader"):
        with pytest.raises(Forbidden, match="只有正在办理该办件的岗位人员或受理窗口"):
            ask(shipped, outsider, case.id, 2)
    # The village committee holds the open step.
    asked = ask(shipped, "dongpo_committee", case.id, 3)
    for wrong in ("shiqiao_leader", "qingshui_civil", "supervisor", "county_civil"):
        with pytest.raises(Forbidden, match="无权审批"):
            extensions.decide(shipped.cases, user_id(shipped, wrong), asked.id, True, "")
    with pytest.raises(ValidationFailed, match="不予批准的理由"):
        extensions.decide(shipped.cases, user_id(shipped, "qingshui_leader"), asked.id, False, " ")
    refused = extensions.decide(shipped.cases, user_id(shipped, "qingshui_leader"), asked.id, False,
                                "入户调查可在期限内完成")
    assert refused.status == "refused"
    events = len(kinds(shipped, case.id))
    with pytest.raises(Conflict, match="已由清水镇分管领导（A岗）于 .* 审批（不予批准），不能重复审批"):
        extensions.decide(shipped.cases, user_id(shipped, "qingshui_leader"), asked.id, True, "")
    assert len(kinds(shipped, case.id)) == events
    assert case_clock(shipped, case.id).due_date == date(2026, 4, 14)
    assert notifications(shipped, "dongpo_committee", case.id) == [f"延期申请未获批准：{case.case_number}"]
    with pytest.raises(NotFound, match="延期申请不存在"):
        extensions.decide(shipped.cases, user_id(shipped, "qingshui_leader"), 2**31 - 1, True, "")


def test_a_county_steps_extension_is_decided_by_the_county_department(shipped: Services) -> None:
    case, task = at_county_step(shipped)
    limit = step_limit(shipped, case, task)
    with shipped.db.read() as session:
        due = session.get(Deadline, limit).due_date
        # Later than at acceptance: the 公示 paused the case clock.
        promised = session.get(Case, case.id).promised_date
    asked = ask(shipped, "county_civil", case.id, 2, "需县医保局核对医疗支出", deadline_id=limit)
    assert notifications(shipped, "county_civil", case.id) == [f"延期申请待审批：{case.case_number}"]
    with pytest.raises(Forbidden):
        extensions.decide(shipped.cases, user_id(shipped, "qingshui_leader"), asked.id, True, "")
    extensions.decide(shipped.cases, user_id(shipped, "county_civil"), asked.id, True, "")
    with shipped.db.read() as session:
        step = session.get(Deadline, limit)
        assert step.extended_days == 2 and step.due_date > due
        # A step's limit moves alone: the case's promised date stays.
        assert session.get(Case, case.id).promised_date == promised


# -- through the API and the web pages ---------------------------------------------------------------


@pytest.fixture
def client(shipped: Services) -> FlaskClient:
    return make_client(shipped)


def test_an_extension_asked_and_decided_through_the_api(client: FlaskClient, shipped: Services) -> None:
    case = start(shipped)
    url = f"/api/v1/cases/{case.id}/extensions"
    refused = client.post(url, json={"days": 11, "reason": "需补充入户调查"}, headers=auth(shipped, "dongpo_agent"))
    assert refused.status_code == 422 and "最多还可申请 10 个工作日" in refused.json["error"]
    assert client.post(url, json={"days": 2, "reason": "x", "deadline_id": "a"},
                       headers=auth(shipped, "dongpo_agent")).status_code == 422
    assert client.post(url, json={"days": 2, "reason": "需补充"},
                       headers=auth(shipped, "hewan_agent")).status_code == 404
    asked = client.post(url, json={"days": 3, "reason": "申请人外出务工，需等待其返乡签字"},
                        headers=auth(shipped, "dongpo_agent"))
    assert asked.status_code == 201, asked.json
    assert (asked.json["status"], asked.json["days"], asked.json["deadline"]["due_date"]) == (
        "pending", 3, "2026-04-14")
    pending = client.get("/api/v1/extensions", headers=auth(shipped, "qingshui_leader")).json["extensions"]
    assert asked.json["id"] in [row["id"] for row in pending]
    assert asked.json["id"] not in [row["id"] for row in client.get(
        "/api/v1/extensions", headers=auth(shipped, "shiqiao_leader")).json["extensions"]]
    decision = f"/api/v1/extensions/{asked.json['id']}/decision"
    assert client.post(decision, json={"approve": True}, headers=auth(shipped, "shiqiao_leader")).status_code == 403
    assert client.post(decision, json={"approve": "yes"}, headers=auth(shipped, "qingshui_leader")).status_code == 422
    done = client.post(decision, json={"approve": True, "note": "同意"}, headers=auth(shipped, "qingshui_leader"))
    assert done.status_code == 200
    assert (done.json["status"], done.json["decided_by"], done.json["deadline"]["due_date"]) == (
        "approved", "清水镇分管领导（A岗）", "2026-04-17")
    again = client.post(decision, json={"approve": False, "note": "重复"}, headers=auth(shipped, "qingshui_leader"))
    assert again.status_code == 409 and "不能重复审批" in again.json["error"]
    assert client.get(f"/api/v1/cases/{case.id}", headers=auth(shipped, "dongpo_agent")).json[
        "promised_date"] == "2026-04-17"
    listed = client.get(url, headers=auth(shipped, "dongpo_agent")).json["extensions"]
    assert [(row["days"], row["status"]) for row in listed] == [(3, "approved")]


def test_the_case_page_asks_and_the_approvals_page_decides(client: FlaskClient, shipped: Services) -> None:
    case = start(shipped)
    login(client, "dongpo_agent")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="extension-form"' in page and "没有延期申请" in page
    answer = post(client, f"/cases/{case.id}/extensions", {"deadline": "", "days": "4", "reason": "等待残联鉴定结论",
                                                           "next": f"/cases/{case.id}"}, follow_redirects=True)
    assert "已提交延期申请（4 个工作日）" in answer.get_data(as_text=True)
    blank = post(client, f"/cases/{case.id}/extensions", {"days": "2", "reason": " "}, follow_redirects=True)
    assert "请填写延期理由" in blank.get_data(as_text=True)
    login(client, "qingshui_leader")
    approvals = client.get("/extensions").get_data(as_text=True)
    assert 'id="nav-approvals"' in approvals and case.case_number in approvals and "等待残联鉴定结论" in approvals
    with shipped.db.read() as session:
        [row] = extensions.of_case(session, case.id)
    done = post(client, f"/extensions/{row.id}", {"decision": "approve", "note": ""}, follow_redirects=True)
    assert "已批准延期 4 个工作日" in done.get_data(as_text=True)
    shown = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "已批准" in shown and "2026-04-20" in shown and "延期批准" in shown
    login(client, "dongpo_committee")
    assert client.get("/extensions").status_code == 403
