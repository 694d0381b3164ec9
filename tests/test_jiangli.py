"""农村部分计划生育家庭奖励扶助 (WJ-JIANGFU) end to end: village 评议 and 公示, town 审核 and 公示 (or 退回),
county 卫健 确认 and 公布; on SQLite and PostgreSQL, and one case through the JSON API."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock
from engine.audit import chain as audit
from engine.cases.outcomes import Outcome, Window
from engine.config import ROOT
from engine.documents import issuing
from engine.errors import ValidationFailed
from engine.models import Case, Timer, User
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import TEST_START, user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, complete, form_data, item, make_client, pass_publicity, post_task_for
from tests.test_engine import DONGPO, drive, form, holder, open_tasks, start

CODE = "WJ-JIANGFU"
FOLDER = ROOT / "bpmn" / "jiangli"
MATERIALS = ["农村部分计划生育家庭奖励扶助申报（确认）表", "近期免冠一寸照片", "户口簿和身份证复印件"]


def documents(svc: Services, case_id: int) -> list[Any]:
    with svc.db.read() as session:
        return issuing.of_case(session, case_id)


def work(svc: Services, case_id: int, step: str, data: dict[str, Any] | None = None, decision: str = "approve"
         ) -> None:
    [task] = open_tasks(svc, case_id)
    assert task.element_id == step
    svc.cases.complete(holder(svc, task), task.id, data or form(svc, task, decision))


def pass_notice(svc: Services, case_id: int) -> None:
    """A 公示 of 7 calendar days: still waiting on day 6, over on day 8."""
    assert open_tasks(svc, case_id) == []
    clock.travel(timedelta(days=6))
    assert svc.cases.run_due_timers() == 0
    clock.travel(timedelta(days=2))
    assert svc.cases.run_due_timers() == 1


def at_county(svc: Services) -> Case:
    """A case past the village and town steps and their notices, at the county's 确认."""
    case = start(svc, CODE)
    for step in ("village_review", "town_review"):
        work(svc, case.id, step)
        pass_notice(svc, case.id)
    return case


def test_guide_cites_the_seed_and_the_rules_for_every_number() -> None:
    guide = tomllib.loads((FOLDER / "item.toml").read_text("utf-8"))
    assert guide["promised_days"] == guide["statutory_days"] == 49
    assert all(cited in guide["basis"] for cited in ("1次/年", "国办发〔2004〕21号", "财教〔2011〕623号"))
    assert "年满60周岁" in guide["conditions"] and "960元" in guide["conditions"]
    assert [m["name"] for m in guide["materials"]] == MATERIALS and guide["materials"][1]["copies"] == 2
    assert {name: (t["days"], t["unit"]) for name, t in guide["timers"].items()} == {
        "Timer_village_publicity": (7, "calendar"), "Timer_town_publicity": (7, "calendar"),
        "Timer_result_publicity": (7, "calendar")}
    assert all(t["basis"] for t in guide["timers"].values())


def test_confirmed_after_three_notices_with_the_county_health_commissions_decision(services: Services) -> None:
    case = start(services, CODE)
    assert case.case_number.startswith(f"{CODE}-20260302-") and case.promised_date is not None
    final, done = drive(services, case)
    assert (final.status, final.result) == ("completed", "approved")
    assert done == ["village_review", "town_review", "county_confirm"]
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []
        fired = list(session.scalars(select(Timer.element_id).where(Timer.case_id == case.id)
                                     .order_by(Timer.due_at)))
    assert fired == ["Timer_village_publicity", "Timer_town_publicity", "Timer_result_publicity"]
    [decision] = documents(services, case.id)
    assert (decision.kind, decision.issuer) == ("approval_decision", "青山县卫生健康局")
    assert decision.facts["decided_by_post"] == "青山县卫生健康局"


def test_tasks_go_to_the_village_committee_the_towns_health_office_and_the_county(services: Services) -> None:
    case = start(services, CODE)
    posts = []
    for step in ("village_review", "town_review", "county_confirm"):
        [task] = open_tasks(services, case.id)
        with services.db.read() as session:
            posts.append(session.get(User, holder(services, task)).username)
        work(services, case.id, step)
        pass_notice(services, case.id)
    assert posts == ["dongpo_committee", "qingshui_health", "county_health"]


def test_the_village_only_recommends_a_negative_opinion_still_goes_on_to_notice_and_the_town(
        services: Services) -> None:
    case = start(services, CODE)
    opinion = "经入户核实，申请人育有两个子女且均为男孩，建议不予确认"
    work(services, case.id, "village_review", {"village_recommendation": "not_eligible", "village_opinion": opinion})
    with services.db.read() as session:
        assert session.get(Case, case.id).status == "running"
    pass_notice(services, case.id)
    assert [t.element_id for t in open_tasks(services, case.id)] == ["town_review"]


def test_refused_by_the_county_with_reasons_and_rights(services: Services) -> None:
    case = at_county(services)
    reasons = "经复审，申请人1985年违反计划生育政策生育第二个子女，不符合奖励扶助条件"
    work(services, case.id, "county_confirm", {"county_decision": "reject", "county_opinion": reasons})
    with services.db.read() as session:
        final = session.get(Case, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    [decision] = documents(services, case.id)
    assert (decision.kind, decision.issuer) == ("refusal_decision", "青山县卫生健康局")
    assert decision.facts["reasons"] == reasons and decision.facts["rights"]["review_days"] == 60


def test_county_confirmation_needs_the_amount_at_least_the_national_standard(services: Services) -> None:
    case = at_county(services)
    [task] = open_tasks(services, case.id)
    with pytest.raises(ValidationFailed):
        services.cases.complete(holder(services, task), task.id,
                                {"county_decision": "approve", "county_opinion": "符合条件", "start_year": 2026})
    with pytest.raises(ValidationFailed):
        services.cases.complete(holder(services, task), task.id, {
            "county_decision": "approve", "county_opinion": "符合条件", "annual_amount": 600, "start_year": 2026})
    assert [t.element_id for t in open_tasks(services, case.id)] == ["county_confirm"]


def test_town_returns_to_the_village_for_verification_and_the_case_goes_round_again(services: Services) -> None:
    case = start(services, CODE)
    work(services, case.id, "village_review")
    pass_notice(services, case.id)
    work(services, case.id, "town_review", {"town_decision": "return", "objection_received": True,
                                            "town_opinion": "村级公示期间有群众反映其子女户籍情况，请重新核实"})
    assert [t.element_id for t in open_tasks(services, case.id)] == ["village_review"]
    final, done = drive(services, case)
    assert (final.status, final.result) == ("completed", "approved")
    assert done == ["village_review", "town_review", "county_confirm"]


def test_under_sixty_is_refused_before_anything_is_registered(services: Services) -> None:
    with services.db.read() as session:
        version = current_version(session, CODE)
        data = fill(version.forms[version.guide["application_form"]])
    person = applicant(DONGPO, born=date(1970, 5, 1))
    with pytest.raises(ValidationFailed, match="60"):
        services.cases.start_case(user_id(services, "dongpo_agent"), CODE, DONGPO, person, data)


def test_missing_materials_get_a_one_time_notice_and_the_case_continues_when_complete(services: Services) -> None:
    with services.db.read() as session:
        version = current_version(session, CODE)
        data = fill(version.forms[version.guide["application_form"]])

    def ticks(*missing: str) -> list[dict[str, Any]]:
        return [{"name": name, "received": name not in missing, "copies": 2 if name == MATERIALS[1] else 1,
                 "original": False} for name in MATERIALS]

    clerk = user_id(services, "dongpo_agent")
    case = services.cases.start_case(clerk, CODE, DONGPO, applicant(DONGPO), data,
                                     Window(ticks(MATERIALS[1]), Outcome.SUPPLEMENT)).case
    assert case.status == "supplement" and open_tasks(services, case.id) == []
    [notice] = documents(services, case.id)
    assert notice.kind == "supplement_notice" and [m["name"] for m in notice.facts["missing"]] == [MATERIALS[1]]
    clock.set_now(TEST_START + timedelta(days=2))
    services.cases.examine(clerk, case.id, Window(ticks()))
    assert [t.element_id for t in open_tasks(services, case.id)] == ["village_review"]
    final, _ = drive(services, case)
    assert final.result == "approved"


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


def test_a_case_through_the_api(client: FlaskClient, services: Services) -> None:
    schema = item(client, services, CODE)["application_schema"]
    response = client.post("/api/v1/cases", headers=auth(services, "dongpo_agent"), json={
        "item_code": CODE, "village_code": DONGPO, "applicant": applicant(DONGPO), "data": fill(schema)})
    assert response.status_code == 201, response.json
    case = response.json
    assert [task["step"] for task in case["tasks"]] == ["村委会审核评议"]
    for username in ("dongpo_committee", "qingshui_health"):
        task = post_task_for(client, services, username, case["id"])
        done = complete(client, services, username, task["id"])
        assert done.status_code == 200, done.json
        pass_publicity(services)
    task = post_task_for(client, services, "county_health", case["id"])
    data = form_data(client, services, "county_health", task["id"]) | {"annual_amount": 960}
    assert complete(client, services, "county_health", task["id"], data).status_code == 200
    pass_publicity(services)
    detail = client.get(f"/api/v1/cases/{case['id']}", headers=auth(services, "county_health")).json
    assert (detail["status"], detail["result"]) == ("completed", "approved")
    assert [step["step"] for step in detail["data"]["steps"]] == ["村委会审核评议", "乡镇审核", "县卫健局复审确认"]
