"""残疾人两项补贴 (MZ-CANBU): town 初审, 县残联 审核, the hospital's grade 评定 outside the clock, 县民政 审定."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine import clock
from engine.audit import chain as audit
from engine.cases.outcomes import Outcome, Window
from engine.models import Case
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant, fill
from tests.test_api import auth, form_data, item, make_client, post_task_for
from tests.test_api import complete as api_complete
from tests.test_clock import case_clock, complete, pauses, reload
from tests.test_engine import DONGPO, drive, form, open_tasks, start
from tests.test_intake import documents, reread

ITEM = "MZ-CANBU"
CERTIFICATE = "第二代《中华人民共和国残疾人证》"


def application(svc: Services) -> dict:
    with svc.db.read() as session:
        version = current_version(session, ITEM)
        return fill(version.forms[version.guide["application_form"]])


def ticks(svc: Services, *missing: str) -> list[dict]:
    with svc.db.read() as session:
        listed = current_version(session, ITEM).guide["materials"]
    return [{"name": m["name"], "received": m["name"] not in missing, "copies": m["copies"], "original": False}
            for m in listed]


def decide(svc: Services, case: Case, element_id: str, decision: str) -> None:
    [task] = [task for task in open_tasks(svc, case.id) if task.element_id == element_id]
    complete(svc, element_id, case.id, form(svc, task, "approve") | {f"{element_id.split('_')[0]}_decision": decision})


def test_approved_through_town_federation_and_county_with_no_village_step(services: Services) -> None:
    case = start(services, ITEM)
    # 国发〔2015〕52号: the application goes to the town; the village only applies on the person's behalf.
    assert [task.role_code for task in open_tasks(services, case.id)] == ["town_civil_affairs"]
    # Five working days from Monday 2 March 2026 (the seed's 残疾人证 promise).
    assert case.promised_date == date(2026, 3, 9)
    final, done = drive(services, case)
    assert (final.status, final.result) == ("completed", "approved")
    assert done == ["town_review", "federation_review", "county_approval"]
    assert [d.kind for d in documents(services, case.id)] == ["approval_decision"]
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []


def test_the_hospitals_grade_assessment_does_not_count_against_the_promised_date(services: Services) -> None:
    case = start(services, ITEM)
    complete(services, "town_review", case.id)
    decide(services, case, "federation_review", "assess")
    [task] = open_tasks(services, case.id)
    assert (task.element_id, task.role_code) == ("assessment", "county_disabled_federation")
    # The county hospital takes from Monday 2 to Monday 16 March: ten working days held off the clock.
    assert case_clock(services, case.id).next_check_at is None
    clock.travel(timedelta(days=14))
    complete(services, "assessment", case.id)
    assert [(row.reason, row.working_days) for row in pauses(services, case.id)] == [("鉴定", 10)]
    assert reload(services, case.id).promised_date == date(2026, 3, 23)
    complete(services, "county_approval", case.id)
    final = reload(services, case.id)
    assert (final.status, final.result) == ("completed", "approved")
    assert final.completed_at is not None and final.completed_at.date() < final.promised_date


@pytest.mark.parametrize("reject_at", ["town_review", "federation_review", "assessment", "county_approval"])
def test_each_refusal_ends_with_a_written_decision_giving_reasons_and_rights(services: Services,
                                                                            reject_at: str) -> None:
    case = start(services, ITEM)
    if reject_at == "assessment":
        complete(services, "town_review", case.id)
        decide(services, case, "federation_review", "assess")
    final, done = drive(services, case, reject_at=reject_at)
    assert (final.status, final.result) == ("completed", "rejected")
    assert done[-1] == reject_at
    decision = documents(services, case.id)[-1]
    assert decision.kind == "refusal_decision"
    assert decision.facts["reasons"] == "经核查，情况属实，材料齐全"
    assert decision.facts["rights"]["review_days"] == 60


def test_a_missing_disability_certificate_is_told_once_and_the_same_case_goes_on(services: Services) -> None:
    agent = user_id(services, "dongpo_agent")
    case = services.cases.start_case(agent, ITEM, DONGPO, applicant(DONGPO), application(services),
                                     Window(ticks(services, CERTIFICATE), Outcome.SUPPLEMENT)).case
    case, row, _, tasks = reread(services, case.id)
    assert case.status == "supplement" and case.promised_date is None and not tasks
    assert row.notice_missing == [{"name": CERTIFICATE, "note": ""}]
    clock.travel(timedelta(days=2))
    services.cases.examine(agent, case.id, Window(ticks(services)))
    case, _, _, tasks = reread(services, case.id)
    # The five working days count from acceptance on Wednesday 4 March.
    assert case.status == "running" and case.promised_date == date(2026, 3, 11)
    assert [task.element_id for task in tasks] == ["town_review"]
    final, _ = drive(services, case)
    assert final.result == "approved"
    assert [d.kind for d in documents(services, case.id)] == ["supplement_notice", "receipt", "approval_decision"]


def test_a_case_through_the_api_with_an_assessment(services: Services) -> None:
    client = make_client(services)
    schema = item(client, services, ITEM)["application_schema"]
    response = client.post("/api/v1/cases", headers=auth(services, "dongpo_agent"), json={
        "item_code": ITEM, "village_code": DONGPO, "applicant": applicant(DONGPO), "data": fill(schema)})
    assert response.status_code == 201, response.json
    case = response.json
    assert case["case_number"].startswith(f"{ITEM}-") and case["tasks"][0]["step"] == "乡镇初审"
    steps = [("qingshui_civil", {}), ("county_disabled", {"federation_decision": "assess"}),
             ("county_disabled", {}), ("county_civil", {})]
    for username, override in steps:
        task = post_task_for(client, services, username, case["id"])
        data = form_data(client, services, username, task["id"]) | override
        assert api_complete(client, services, username, task["id"], data).status_code == 200
    done = client.get(f"/api/v1/cases/{case['id']}", headers=auth(services, "dongpo_agent")).json
    assert (done["status"], done["result"]) == ("completed", "approved")
