"""农村居民最低生活保障 (MZ-DIBAO) after 民发〔2021〕57号: the village only recommends, the town investigates and
gives its 初审意见, the 公示 in the village can send the case back to the investigation, the county 审核确认."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta

import pytest
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.audit import chain as audit
from engine.cases.outcomes import Outcome, Window
from engine.config import ROOT
from engine.deadlines import calendar
from engine.errors import ValidationFailed
from engine.models import Case, ProcedureVersion
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, form_data, item, make_client, post_task_for
from tests.test_api import complete as api_complete
from tests.test_clock import complete, pauses, reload
from tests.test_engine import DONGPO, drive, form, open_tasks, start
from tests.test_intake import documents, reread

ITEM = "MZ-DIBAO"
AUTHORISATION = "家庭经济状况核对授权书及诚信承诺书"
PUBLICITY = "Timer_village_publicity"


def ticks(svc: Services, *missing: str) -> list[dict]:
    with svc.db.read() as session:
        listed = current_version(session, ITEM).guide["materials"]
    return [{"name": m["name"], "received": m["name"] not in missing, "copies": m["copies"], "original": False}
            for m in listed]


def answer(svc: Services, case: Case, element_id: str, **values: object) -> None:
    """Complete the case's open `element_id` with its form filled as approved, `values` over it."""
    [task] = [task for task in open_tasks(svc, case.id) if task.element_id == element_id]
    complete(svc, element_id, case.id, form(svc, task, "approve") | values)


def promised_from(svc: Services, case: Case, day: date) -> date:
    """The promised days of the case's version counted from `day` by the test database's holiday calendar (other
    tests of the session deploy changed versions of MZ-DIBAO; the shipped promise is checked on its own)."""
    with svc.db.read() as session:
        days = session.get(ProcedureVersion, case.version_id).guide["promised_days"]
        return calendar.load(session).add_working_days(day, days)


def steps(svc: Services, case: Case) -> list[str]:
    return [task.element_id for task in open_tasks(svc, case.id)]


def to_publicity(svc: Services, case: Case) -> None:
    for element_id in ("village_review", "town_investigation", "town_review"):
        answer(svc, case, element_id)
    assert steps(svc, case) == []  # the 初审意见 is posted in the village


def end_publicity(svc: Services) -> None:
    clock.travel(timedelta(days=7))
    assert svc.cases.run_due_timers() >= 1


def test_approved_through_the_towns_investigation_the_publicity_and_the_county(services: Services) -> None:
    case = start(services, ITEM)
    # 57号 §22 and the seed: 30 working days from acceptance on Monday 2 March 2026.
    shipped = tomllib.loads((ROOT / "bpmn" / "dibao" / "item.toml").read_text("utf-8"))
    assert (shipped["promised_days"], shipped["statutory_days"]) == (30, 30)
    assert case.promised_date == promised_from(services, case, date(2026, 3, 2))
    assert [task.role_code for task in open_tasks(services, case.id)] == ["village_committee"]
    final, done = drive(services, case)
    assert (final.status, final.result) == ("completed", "approved")
    assert done == ["village_review", "town_investigation", "town_review", "publicity_confirm", "county_approval",
                    "result_publication"]
    # The 公示 ran seven calendar days and was held off the clock.
    assert [(row.reason, row.step) for row in pauses(services, case.id)] == [("公示", "初审意见在村公示7天")]
    [decision] = [d for d in documents(services, case.id) if d.kind == "approval_decision"]
    assert decision.facts["reasons"] == "经核查，情况属实，材料齐全" and "民政局" in decision.facts["decided_by_post"]
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_the_investigation_records_who_when_and_what_income_and_property(services: Services) -> None:
    case = start(services, ITEM)
    answer(services, case, "village_review")
    with services.db.read() as session:
        schema = current_version(session, ITEM).forms["town_investigation.schema.json"]
    assert {"investigators", "investigated_on", "home_visit", "neighbour_visit", "information_check",
            "income_below_standard", "property_within_rule", "property_findings"} <= set(schema["required"])
    [task] = open_tasks(services, case.id)
    assert (task.element_id, task.role_code) == ("town_investigation", "town_civil_affairs")
    with pytest.raises(ValidationFailed, match="调查人员"):
        complete(services, "town_investigation", case.id, form(services, task, "approve") | {"investigators": ""})
    answer(services, case, "town_investigation", investigators="李明、张华", investigated_on="2026-03-04",
           property_findings="无存款超标；有一辆三轮摩托车（生产必需，豁免）；自住房一处；无经营")
    [review] = open_tasks(services, case.id)
    assert review.element_id == "town_review"


def test_a_village_that_does_not_recommend_still_sends_the_case_to_the_town(services: Services) -> None:
    case = start(services, ITEM)
    answer(services, case, "village_review", village_decision="reject", village_opinion="村民代表认为其子女有赡养能力")
    # The committee only recommends (57号 §2): the town investigates all the same and may find the family eligible.
    assert reload(services, case.id).status == "running"
    assert [(t.element_id, t.role_code) for t in open_tasks(services, case.id)] == [
        ("town_investigation", "town_civil_affairs")]
    final, done = drive(services, case)
    assert final.result == "approved" and done[0] == "town_investigation"


def test_an_objection_during_the_publicity_sends_the_case_back_to_the_investigation(services: Services) -> None:
    case = start(services, ITEM)
    to_publicity(services, case)
    end_publicity(services)
    answer(services, case, "publicity_confirm", publicity_objection="objection",
           publicity_note="3月5日村民反映申请人之子在县城有商品房一套")
    # Never on to the county: the town investigates again (57号 §19), the old answer no longer in the case.
    assert steps(services, case) == ["town_investigation"]
    with services.db.read() as session:
        stored = session.get(Case, case.id)
        workflow = services.cases.load(stored, services.cases.versions.get(session, stored.version_id))
    [ready] = [task for task in workflow.get_tasks(state=TaskState.READY) if task.task_spec.manual]
    assert "publicity_objection" not in ready.data
    answer(services, case, "town_investigation", investigation_findings="经不动产登记信息核对，其子房产登记在本人名下，"
           "不属于共同生活家庭成员财产，异议不成立")
    answer(services, case, "town_review")
    # The new 初审意见 is posted again; this time nobody objects.
    assert steps(services, case) == []
    end_publicity(services)
    answer(services, case, "publicity_confirm")
    assert steps(services, case) == ["county_approval"]
    answer(services, case, "county_approval")
    answer(services, case, "result_publication")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "approved")
    assert [row.reason for row in pauses(services, case.id)] == ["公示", "公示"]


@pytest.mark.parametrize(("reject_at", "post"), [("town_review", "清水镇民政办"), ("county_approval", "青山县民政局")])
def test_a_refusal_is_a_written_decision_with_reasons_and_rights(services: Services, reject_at: str,
                                                                 post: str) -> None:
    case = start(services, ITEM)
    final, done = drive(services, case, reject_at=reject_at)
    assert (final.status, final.result) == ("completed", "rejected")
    assert done[-1] == reject_at
    decision = documents(services, case.id)[-1]
    assert decision.kind == "refusal_decision"
    assert decision.facts["reasons"] == "经核查，情况属实，材料齐全"
    assert decision.facts["decided_by_post"] == post
    assert decision.facts["rights"]["review_days"] == 60 and decision.facts["rights"]["litigation_months"] == 6


def test_property_over_the_rule_is_refused_by_the_town_in_writing(services: Services) -> None:
    case = start(services, ITEM)
    answer(services, case, "village_review")
    answer(services, case, "town_investigation", income_below_standard=True, property_within_rule=False,
           property_findings="家庭银行存款8.6万元，超过当地低保家庭财产状况规定")
    answer(services, case, "town_review", town_decision="reject",
           town_opinion="家庭人均收入虽低于低保标准，但银行存款超过当地最低生活保障家庭财产状况规定，不符合条件")
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "rejected")
    decision = documents(services, case.id)[-1]
    assert decision.kind == "refusal_decision" and "银行存款超过" in decision.facts["reasons"]


def test_a_missing_authorisation_is_told_once_and_the_same_case_goes_on(services: Services) -> None:
    agent = user_id(services, "dongpo_agent")
    with services.db.read() as session:
        data = fill(current_version(session, ITEM).forms["application.schema.json"])
    case = services.cases.start_case(agent, ITEM, DONGPO, applicant(DONGPO), data,
                                     Window(ticks(services, AUTHORISATION), Outcome.SUPPLEMENT)).case
    case, row, _, tasks = reread(services, case.id)
    assert case.status == "supplement" and case.promised_date is None and not tasks
    assert row.notice_missing == [{"name": AUTHORISATION, "note": ""}]
    clock.travel(timedelta(days=2))
    services.cases.examine(agent, case.id, Window(ticks(services)))
    case, _, _, tasks = reread(services, case.id)
    # Counted from acceptance on Wednesday 4 March, not from the first visit.
    assert case.status == "running" and case.promised_date == promised_from(services, case, date(2026, 3, 4))
    assert [task.element_id for task in tasks] == ["village_review"]
    final, _ = drive(services, case)
    assert final.result == "approved"
    assert [d.kind for d in documents(services, case.id)] == ["supplement_notice", "receipt", "approval_decision"]


def test_the_town_window_registers_it_too(services: Services) -> None:
    case = start(services, ITEM, agent="qingshui_window")
    assert case.started_by_id == user_id(services, "qingshui_window")
    assert [(t.element_id, t.org_id) for t in open_tasks(services, case.id)] == [("village_review", case.village_id)]


def test_a_case_through_the_api(services: Services) -> None:
    client = make_client(services)
    schema = item(client, services, ITEM)["application_schema"]
    response = client.post("/api/v1/cases", headers=auth(services, "dongpo_agent"), json={
        "item_code": ITEM, "village_code": DONGPO, "applicant": applicant(DONGPO), "data": fill(schema)})
    assert response.status_code == 201, response.json
    case = response.json
    assert case["tasks"][0]["step"] == "村委会协助并提出意见"
    worked = [("dongpo_committee", {"village_decision": "reject"}), ("qingshui_civil", {}), ("qingshui_civil", {}),
              None, ("qingshui_civil", {}), ("county_civil", {"monthly_allowance": 380}), ("county_civil", {})]
    for step in worked:
        if step is None:
            end_publicity(services)
            continue
        username, override = step
        task = post_task_for(client, services, username, case["id"])
        data = form_data(client, services, username, task["id"]) | override
        assert api_complete(client, services, username, task["id"], data).status_code == 200
    done = client.get(f"/api/v1/cases/{case['id']}", headers=auth(services, "dongpo_agent")).json
    assert (done["status"], done["result"]) == ("completed", "approved")
    assert [s["step"] for s in done["data"]["steps"]][-2:] == ["县民政局审核确认", "在村公布保障信息"]
