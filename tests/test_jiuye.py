"""就业失业登记 (RS-JIUYE): carried by the village agent, registered by the county 人社局; engine and JSON API."""

from __future__ import annotations

from datetime import timedelta

from engine import clock
from engine.models import Case, User
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.procedures import applicant
from tests.test_api import auth, complete, form_data, item, make_client, post_task_for
from tests.test_engine import DONGPO, drive, form, holder, open_tasks, start
from tests.test_intake import documents

JIUYE = "RS-JIUYE"
SENT = {"intake_decision": "approve", "intake_opinion": "失业证明、身份证、1寸照片1张齐全，报送县人社局"}


def test_guide_carries_the_seed_limit_and_the_renamed_card(services: Services) -> None:
    with services.db.read() as session:
        guide = current_version(session, JIUYE).guide
    assert (guide["promised_days"], guide["statutory_days"], guide["fee"]) == (15, 15, "免费")
    assert "人社部发〔2014〕97号" in guide["basis"] and "《就业创业证》" in guide["conditions"]
    assert [m["name"][:4] for m in guide["materials"]] == ["失业证明", "本人身份", "1寸照片"]


def test_agent_sends_and_the_county_registers(services: Services) -> None:
    case = start(services, JIUYE)
    assert case.case_number.startswith(f"{JIUYE}-20260302-") and case.promised_date is not None
    [first] = open_tasks(services, case.id)
    with services.db.read() as session:
        assert session.get(User, holder(services, first)).username == "dongpo_agent"
    final, done = drive(services, case)
    assert (final.status, final.result) == ("completed", "approved")
    assert done == ["agent_intake", "county_register"]
    kinds = [d.kind for d in documents(services, case.id)]
    assert "approval_decision" in kinds


def test_the_county_post_holds_the_registration(services: Services) -> None:
    case = start(services, JIUYE, village="510123102202", agent="hongyan_agent")  # 红岩村, 石桥镇
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, SENT)
    [register] = open_tasks(services, case.id)
    assert register.element_id == "county_register" and register.role_code == "county_human_resources"
    with services.db.read() as session:
        assert session.get(User, holder(services, register)).username == "county_hr"


def test_county_refusal_ends_rejected_with_the_written_reasons(services: Services) -> None:
    final, done = drive(services, start(services, JIUYE), reject_at="county_register")
    assert (final.status, final.result) == ("completed", "rejected") and done[-1] == "county_register"
    [decision] = [d for d in documents(services, final.id) if d.kind == "refusal_decision"]
    assert decision.issuer == "青山县人力资源和社会保障局" and "经核查" in str(decision.facts)


def test_the_agent_cannot_refuse_only_ask_for_correction(services: Services) -> None:
    case = start(services, JIUYE)
    [task] = open_tasks(services, case.id)
    with services.db.read() as session:
        options = [o["const"] for o in current_version(session, JIUYE).forms["agent_intake.schema.json"]
                   ["properties"]["intake_decision"]["oneOf"]]
    assert options == ["approve", "correct"]


def test_correction_pauses_the_clock_and_comes_back_to_the_agent(services: Services) -> None:
    case = start(services, JIUYE)
    promised = case.promised_date
    [task] = open_tasks(services, case.id)
    agent = holder(services, task)
    services.cases.complete(agent, task.id, {"intake_decision": "correct", "intake_opinion": "缺失业证明",
                                             "intake_missing": "原单位出具的解除劳动合同证明"})
    [waiting] = open_tasks(services, case.id)
    assert waiting.element_id == "supplement" and holder(services, waiting) == agent
    clock.travel(timedelta(days=7))  # a week of the applicant's own time
    services.cases.complete(agent, waiting.id, form(services, waiting, "approve"))
    [again] = open_tasks(services, case.id)
    assert again.element_id == "agent_intake"
    with services.db.read() as session:
        moved = session.get(Case, case.id).promised_date
    assert moved is not None and promised is not None and moved > promised
    final, done = drive(services, case)
    assert (final.status, final.result) == ("completed", "approved") and done == ["agent_intake", "county_register"]


def test_whole_case_through_the_api(services: Services) -> None:
    client = make_client(services)
    schema = item(client, services, JIUYE)["application_schema"]
    assert schema["properties"]["registration_kind"]["oneOf"][0]["title"] == "失业登记"
    response = client.post("/api/v1/cases", headers=auth(services, "dongpo_agent"), json={
        "item_code": JIUYE, "village_code": DONGPO, "applicant": applicant(DONGPO) | {"name": "司马建国"},
        "data": {"registration_kind": "unemployment", "residence": "resident",
                 "last_employer": "青山县清水镇红星机械厂（已关停）", "status_since": "2026-01-15",
                 "job_wish": "机械维修、叉车驾驶，希望在县城或清水镇"}})
    assert response.status_code == 201, response.json
    case = response.json
    [first] = case["tasks"]
    assert first["step"] == "代办受理" and first["role"]["code"] == "village_agent"
    assert complete(client, services, "dongpo_agent", first["id"], SENT).status_code == 200
    task = post_task_for(client, services, "county_hr", case["id"])
    assert task["step"] == "审核登记"
    data = form_data(client, services, "county_hr", task["id"]) | {"certificate_number": "5101230260302001"}
    final = complete(client, services, "county_hr", task["id"], data)
    assert final.status_code == 200, final.json
    assert final.json["status"] == "completed" and final.json["result"] == "approved"
    # The agent who carried it still sees the outcome; the county post sees it too.
    detail = client.get(f"/api/v1/cases/{case['id']}", headers=auth(services, "dongpo_agent")).json
    assert [step["step"] for step in detail["data"]["steps"]] == ["代办受理", "审核登记"]
    assert detail["data"]["steps"][1]["data"]["certificate_number"] == "5101230260302001"

