"""乡村建设规划许可证 (联办): 自然资源 and 住建 review in parallel at the town, the town issues; both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from engine.audit import chain as audit
from engine.cases.outcomes import Outcome, Window
from engine.deadlines import calendar
from engine.documents.issuing import of_case
from engine.models import Case, CaseEvent, CaseIntake
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, complete, form_data, item, make_client, post_task_for
from tests.test_engine import DONGPO, form, holder, open_tasks

ITEM = "ZJ-XCGHXK"
CLERK = "qingshui_window"
MATERIALS = ["申请表", "有关部门批准、核准、备案文件", "项目规划总平面图", "建设工程房屋建筑初步设计审查批复",
             "设计施工图", "土地权属的证明文件"]
APPLICATION = {"project_name": "王秀兰家农村村民住宅新建工程（砖混结构两层）", "project_kind": "housing",
               "location": "青山县清水镇东坡村三组，东至王家大沟，南至村道，西至李德明宅，北至集体林地",
               "land_area_sqm": 120.0, "floor_area_sqm": 210.5, "floors": 2,
               "land_title": "农村宅基地使用权证 川(2019)青山县不动产权第0001234号"}


def ticks(*missing: str) -> list[dict[str, Any]]:
    return [{"name": name, "received": name not in missing, "copies": 1, "original": False} for name in MATERIALS]


def register(svc: Services, window: Window | None = None) -> Case:
    return svc.cases.start_case(user_id(svc, CLERK), ITEM, DONGPO, applicant(DONGPO), APPLICATION,
                                window or Window(ticks())).case


def work(svc: Services, case: Case, answers: dict[str, dict[str, Any]] | None = None) -> tuple[Case, list[str]]:
    """Work every open task as its post's A holder with `answers[element]` over an approving form, until none is
    open; returns the case and the steps in the order done."""
    answers = answers or {}
    done: list[str] = []
    while tasks := open_tasks(svc, case.id):
        for task in tasks:
            data = form(svc, task, "approve") | answers.get(task.element_id, {})
            svc.cases.complete(holder(svc, task), task.id, data)
            done.append(task.element_id)
    with svc.db.read() as session:
        final = session.get(Case, case.id)
    assert final is not None
    return final, done


def kinds(svc: Services, case_id: int) -> list[str]:
    with svc.db.read() as session:
        assert audit.verify(session, case_id) == []
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))


def test_the_town_issues_after_both_departments_review_side_by_side(services: Services) -> None:
    case = register(services)
    # Accepted at the window: the seed's 10 working days run from there.
    assert case.status == "running" and case.accepted_at is not None
    with services.db.read() as session:
        work_calendar = calendar.load(session)
    assert case.promised_date == work_calendar.add_working_days(date(2026, 3, 2), 10) == date(2026, 3, 16)
    tasks = open_tasks(services, case.id)
    assert sorted((t.element_id, t.role_code) for t in tasks) == [("building_review", "town_planning"),
                                                                    ("land_review", "town_land")]
    assert {t.org_id for t in tasks} == {case.town_id}
    final, done = work(services, case)
    assert (final.status, final.result) == ("completed", "approved")
    assert sorted(done[:2]) == ["building_review", "land_review"] and done[2:] == ["town_issue"]
    assert [d.kind for d in documents(services, case.id)] == ["receipt", "approval_decision"]
    assert kinds(services, case.id)[-1] == "case_completed"


def documents(svc: Services, case_id: int) -> list[Any]:
    with svc.db.read() as session:
        return of_case(session, case_id)


def test_the_town_may_refuse_with_written_reasons(services: Services) -> None:
    final, done = work(services, register(services), {"town_issue": {
        "town_decision": "reject", "town_opinion": "拟建位置位于村庄规划确定的道路红线内，不予许可"}})
    assert (final.status, final.result) == ("completed", "rejected") and done[-1] == "town_issue"
    [refusal] = [d for d in documents(services, final.id) if d.kind == "refusal_decision"]
    assert "道路红线" in str(refusal.facts)


def test_a_review_that_finds_fault_leads_to_a_refusal_the_town_cannot_turn_into_a_licence(services: Services) -> None:
    final, done = work(services, register(services), {
        "land_review": {"land_compliant": False, "land_opinion": "拟建位置占用永久基本农田"},
        "town_refuse": {"refuse_opinion": "经国土所审查，拟建位置占用永久基本农田，不予许可"}})
    assert (final.status, final.result) == ("completed", "rejected")
    assert done[-1] == "town_refuse" and "town_issue" not in done
    [refusal] = [d for d in documents(services, final.id) if d.kind == "refusal_decision"]
    assert "永久基本农田" in str(refusal.facts)


def test_missing_drawings_are_told_once_and_the_case_goes_on_when_they_come(services: Services) -> None:
    case = register(services, Window(ticks("设计施工图"), Outcome.SUPPLEMENT))
    assert case.status == "supplement" and not open_tasks(services, case.id)
    with services.db.read() as session:
        row = session.get(CaseIntake, case.id)
        assert row is not None and [m["name"] for m in row.notice_missing] == ["设计施工图"]
    services.cases.examine(user_id(services, CLERK), case.id, Window(ticks()))
    assert {t.element_id for t in open_tasks(services, case.id)} == {"land_review", "building_review"}
    final, _ = work(services, case)
    assert (final.status, final.result) == ("completed", "approved")


def test_a_whole_case_through_the_api(services: Services) -> None:
    client: FlaskClient = make_client(services)
    schema = item(client, services, ITEM)["application_schema"]
    assert fill(schema)  # the API hands out the form the window fills
    started = client.post("/api/v1/cases", headers=auth(services, CLERK), json={
        "item_code": ITEM, "village_code": DONGPO, "applicant": applicant(DONGPO), "data": APPLICATION})
    assert started.status_code == 201, started.json
    case_id = started.json["id"]
    assert {t["step"] for t in started.json["tasks"]} == {"用地审查（自然资源）", "建设审查（住建）"}
    for username in ("qingshui_land", "qingshui_planning", "qingshui_leader"):
        task = post_task_for(client, services, username, case_id)
        done = complete(client, services, username, task["id"], form_data(client, services, username, task["id"]))
        assert done.status_code == 200, done.json
    assert done.json["status"] == "completed" and done.json["result"] == "approved"
    with services.db.read() as session:
        assert current_version(session, ITEM).guide["promised_days"] == 10
