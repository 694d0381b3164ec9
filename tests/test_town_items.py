"""The town's own licence (林木采伐许可证, LY-CAIFA) and the 即办 老年人优待证 (MZ-YOUDAI), engine and API."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.cases.outcomes import Outcome, Window
from engine.errors import Forbidden, ValidationFailed
from engine.models import Case
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, complete, form_data, make_client, post_task_for
from tests.test_engine import drive, holder, open_tasks
from tests.test_intake import documents, reread

DONGPO = "510123101201"
CAIFA = "LY-CAIFA"
YOUDAI = "MZ-YOUDAI"
CAIFA_MATERIALS = ["个人申请", "林权证原件及复印件", "村组证明"]
LOGGING = {"forest_certificate_no": "川(2018)青山县林权证第0012345号", "land_kind": "contracted_collective",
           "location": "东坡村三组老鹰岩，东至水沟、南至村道、西至欧阳家承包地、北至山脊", "tree_species": "杉木",
           "tree_count": 24, "purpose": "自用建房，翻修老屋梁柱", "replanting": "次年春季在原地补植杉木苗48株"}
YOUDAI_MATERIALS = [{"name": "本人身份证复印件", "received": True, "copies": 1, "original": True},
                    {"name": "免冠红底一寸彩照", "received": True, "copies": 1}]


def ticks(*missing: str) -> list[dict[str, Any]]:
    return [{"name": name, "received": name not in missing, "copies": 1, "original": name == CAIFA_MATERIALS[1]}
            for name in CAIFA_MATERIALS]


def apply_at_town_window(svc: Services, window: Window | None = None, data: dict[str, Any] | None = None) -> Case:
    person = applicant(DONGPO) | {"name": "欧阳建国"}
    return svc.cases.start_case(user_id(svc, "qingshui_window"), CAIFA, DONGPO, person, data or LOGGING,
                                window or Window(ticks())).case


def review(svc: Services, case: Case, data: dict[str, Any]) -> Case:
    [task] = open_tasks(svc, case.id)
    assert (task.element_id, task.role_code) == ("forestry_review", "town_forestry")
    svc.cases.complete(holder(svc, task), task.id, data)
    return reread(svc, case.id)[0]


# -- 林木采伐许可证: the town accepts and its 林业站 decides -------------------------------------------


def test_accepted_at_the_town_window_the_forestry_post_licenses_within_one_working_day(services: Services) -> None:
    case = apply_at_town_window(services)
    # Seed: 材料具备后一个工作日内结办; the receipt's date is the next working day (the test clock is Mon 2 March).
    assert case.status == "running" and case.clock_started_at is not None
    assert case.promised_date is not None and (case.promised_date - case.clock_started_at.date()).days == 1
    final = review(services, case, {"review_decision": "approve", "approved_count": 24,
                                    "review_opinion": "林权证与现场一致，杉木24株，符合采伐技术规程，准予采伐"})
    assert (final.status, final.result) == ("completed", "approved")
    issued = documents(services, case.id)
    assert [d.kind for d in issued] == ["receipt", "approval_decision"]
    assert issued[1].title == "准予许可决定书"
    assert "清水镇林业站" in issued[1].facts["decided_by_post"]


def test_refusal_gives_the_reasons_and_the_rights_in_writing(services: Services) -> None:
    case = apply_at_town_window(services)
    final = review(services, case, {"review_decision": "reject",
                                    "review_opinion": "现场查验该地块属公益林，只允许抚育和更新性质的采伐，不予许可"})
    assert (final.status, final.result) == ("completed", "rejected")
    refusal = documents(services, case.id)[-1]
    assert (refusal.kind, refusal.title) == ("refusal_decision", "不予许可决定书")
    assert "公益林" in refusal.facts["reasons"] and refusal.facts["rights"]


def test_missing_papers_are_told_once_and_the_clock_starts_when_they_come(services: Services) -> None:
    case = apply_at_town_window(services, Window(ticks("村组证明"), Outcome.SUPPLEMENT,
                                                 notes={"村组证明": "请村民小组组长签字并加盖村委会公章"}))
    case, _, _, tasks = reread(services, case.id)
    assert case.status == "supplement" and case.clock_started_at is None and not tasks
    assert [d.kind for d in documents(services, case.id)] == ["supplement_notice"]
    services.cases.examine(user_id(services, "qingshui_window"), case.id, Window(ticks()))
    case = reread(services, case.id)[0]
    assert case.status == "running" and case.promised_date is not None
    final, done = drive(services, case)
    assert (final.result, done) == ("approved", ["forestry_review"])


def test_more_than_thirty_trees_is_not_this_items_to_decide(services: Services) -> None:
    with pytest.raises(ValidationFailed, match="采伐株数"):
        apply_at_town_window(services, data=LOGGING | {"tree_count": 31})
    case = apply_at_town_window(services)
    with pytest.raises(ValidationFailed, match="准予采伐株数"):
        review(services, case, {"review_decision": "approve", "approved_count": 25, "review_opinion": "准予采伐"})


def test_only_the_towns_forestry_post_decides(services: Services) -> None:
    case = apply_at_town_window(services)
    [task] = open_tasks(services, case.id)
    decision = {"review_decision": "approve", "approved_count": 10, "review_opinion": "准予采伐"}
    for other in ("qingshui_window", "qingshui_land", "shiqiao_forestry", "dongpo_committee"):
        with pytest.raises(Forbidden):
            services.cases.complete(user_id(services, other), task.id, decision)


def test_village_agent_may_take_the_application_for_the_town(services: Services) -> None:
    with services.db.read() as session:
        version = current_version(session, CAIFA)
        schema = version.forms[version.guide["application_form"]]
    case = services.cases.start_case(user_id(services, "dongpo_agent"), CAIFA, DONGPO, applicant(DONGPO),
                                     fill(schema)).case
    final, done = drive(services, case, reject_at="forestry_review")
    assert (final.result, done) == ("rejected", ["forestry_review"])


# -- 老年人优待证: 即办 at the village window --------------------------------------------------------


@pytest.mark.parametrize(("decision", "result", "document"), [
    ("approve", "approved", "approval_decision"), ("reject", "rejected", "refusal_decision")])
def test_youdai_decided_on_the_spot(services: Services, decision: str, result: str, document: str) -> None:
    opinion = {"approve": "身份证与照片核对无误，年满65周岁，当场发证",
               "reject": "户籍不在本村，请到户籍所在地村（社区）办理"}[decision]
    step = services.cases.handle_immediate(
        user_id(services, "dongpo_agent"), YOUDAI, DONGPO, applicant(DONGPO) | {"name": "司马秀英"},
        {"age": 68, "household_here": decision == "approve"}, Window(YOUDAI_MATERIALS),
        {"handle_decision": decision, "handle_opinion": opinion})
    case = reread(services, step.case.id)[0]
    assert (case.status, case.result) == ("completed", result)
    issued = documents(services, case.id)
    assert [d.kind for d in issued] == ["receipt", document]
    assert opinion in issued[-1].facts["reasons"]


def test_youdai_under_sixty_five_is_refused_at_the_form(services: Services) -> None:
    with pytest.raises(ValidationFailed, match="年龄"):
        services.cases.handle_immediate(
            user_id(services, "dongpo_agent"), YOUDAI, DONGPO, applicant(DONGPO),
            {"age": 64, "household_here": True}, Window(YOUDAI_MATERIALS),
            {"handle_decision": "approve", "handle_opinion": "核对无误"})


# -- through the JSON API -----------------------------------------------------------------------


def test_caifa_and_youdai_through_the_api(services: Services) -> None:
    client: FlaskClient = make_client(services)
    started = client.post("/api/v1/cases", headers=auth(services, "qingshui_window"), json={
        "item_code": CAIFA, "village_code": DONGPO, "applicant": applicant(DONGPO), "data": LOGGING,
        "intake": {"materials": ticks("林权证原件及复印件"), "outcome": "supplement",
                   "notes": {"林权证原件及复印件": "请带林权证原件核对"}}})
    assert started.status_code == 201, started.json
    case_id = started.json["id"]
    assert started.json["status"] == "supplement"
    examined = client.post(f"/api/v1/cases/{case_id}/window", headers=auth(services, "qingshui_window"),
                           json={"materials": ticks(), "outcome": "accept"})
    assert examined.status_code == 200, examined.json
    task = post_task_for(client, services, "qingshui_forestry", case_id)
    assert (task["step"], task["role"]) == ("林业站审核发证", "town_forestry")
    data = form_data(client, services, "qingshui_forestry", task["id"]) | {"approved_count": 20}
    assert complete(client, services, "qingshui_forestry", task["id"], data).status_code == 200
    case = client.get(f"/api/v1/cases/{case_id}", headers=auth(services, "qingshui_window")).json
    assert (case["status"], case["result"]) == ("completed", "approved")
    kinds = [d["kind"] for d in client.get(f"/api/v1/cases/{case_id}/documents",
                                           headers=auth(services, "qingshui_window")).json["documents"]]
    assert kinds[-1] == "approval_decision"

    started = client.post("/api/v1/cases", headers=auth(services, "dongpo_agent"), json={
        "item_code": YOUDAI, "village_code": DONGPO, "applicant": applicant(DONGPO),
        "data": {"age": 80, "household_here": False}})
    assert started.status_code == 201, started.json
    case_id = started.json["id"]
    task = post_task_for(client, services, "dongpo_agent", case_id)
    refused = {"handle_decision": "reject", "handle_opinion": "户籍不在本村，请到户籍所在地办理"}
    assert complete(client, services, "dongpo_agent", task["id"], refused).status_code == 200
    case = client.get(f"/api/v1/cases/{case_id}", headers=auth(services, "dongpo_agent")).json
    assert (case["status"], case["result"]) == ("completed", "rejected")
