"""The JSON API under /api/v1 through Flask's test client: a whole case, jurisdiction, bad input, deployment."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

from engine import clock
from engine.cases.service import CaseService
from engine.config import ROOT
from engine.db import Database
from engine.errors import Problem
from engine.idcard import mask_id_number
from engine.models import Case, CaseEvent, ProcedureVersion, ServiceItem, Task
from engine.people import accounts
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.conftest import make_services
from tests.procedures import AID_APPLICATION, AID_ITEM, AID_SCRIPTS, applicant, dibao_with_scripts, fill
from tests.test_incidents import failed_case
from webui import create_app

DONGPO = "510123101201"
HEWAN = "510123101202"
LIULIN = "510123102201"
DIBAO_DIR = ROOT / "bpmn" / "dibao"
TOKENS: dict[tuple[str, str], str] = {}


def make_client(svc: Services) -> FlaskClient:
    app: Flask = create_app(svc, {"TESTING": True})
    return app.test_client()


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


@pytest.fixture
def sqlite_client(sqlite_services: Services) -> FlaskClient:
    return make_client(sqlite_services)


def auth(svc: Services, username: str) -> dict[str, str]:
    key = (svc.db.url, username)
    if key not in TOKENS:
        with svc.db.write() as session:
            TOKENS[key] = accounts.create_token(session, username)
    return {"Authorization": f"Bearer {TOKENS[key]}"}


def counts(svc: Services) -> dict[str, int]:
    with svc.db.read() as session:
        return {model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Case, CaseEvent, Task, ProcedureVersion, ServiceItem)}


def item(client: FlaskClient, svc: Services, code: str) -> dict[str, Any]:
    response = client.get("/api/v1/items", headers=auth(svc, "dongpo_agent"))
    assert response.status_code == 200
    return next(entry for entry in response.json["items"] if entry["code"] == code)


def start_dibao(client: FlaskClient, svc: Services, village: str = DONGPO, agent: str = "dongpo_agent",
                person: dict[str, str] | None = None) -> dict:
    schema = item(client, svc, "MZ-DIBAO")["application_schema"]
    response = client.post("/api/v1/cases", headers=auth(svc, agent), json={
        "item_code": "MZ-DIBAO", "village_code": village, "applicant": person or applicant(village),
        "data": fill(schema),
    })
    assert response.status_code == 201, response.json
    return response.json


def post_task_for(client: FlaskClient, svc: Services, username: str, case_id: int) -> dict[str, Any]:
    # Narrowed to the case: the session's database holds more open tasks than one page.
    number = client.get(f"/api/v1/cases/{case_id}", headers=auth(svc, username)).json["case_number"]
    response = client.get(f"/api/v1/tasks?scope=post&q={number}", headers=auth(svc, username))
    assert response.status_code == 200
    [task] = [task for task in response.json["tasks"] if task["case_id"] == case_id]
    return task


def form_data(client: FlaskClient, svc: Services, username: str, task_id: str, decision: str = "approve") -> dict:
    response = client.get(f"/api/v1/tasks/{task_id}", headers=auth(svc, username))
    assert response.status_code == 200, response.json
    return fill(response.json["form_schema"], decision)


def complete(client: FlaskClient, svc: Services, username: str, task_id: str, data: dict | None = None) -> Any:
    data = data if data is not None else form_data(client, svc, username, task_id)
    return client.post(f"/api/v1/tasks/{task_id}/complete", headers=auth(svc, username), json={"data": data})


def pass_publicity(svc: Services) -> None:
    clock.travel(timedelta(days=8))
    assert svc.cases.run_due_timers() >= 1


ISO_SHANGHAI = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")


# -- (1) a whole case ---------------------------------------------------------------------------


def test_whole_dibao_case_through_the_api(client: FlaskClient, services: Services) -> None:
    case = start_dibao(client, services)
    assert case["case_number"].startswith("MZ-DIBAO-20260302-")
    assert case["status"] == "running" and case["promised_date"] >= "2026-04-01"
    assert ISO_SHANGHAI.match(case["accepted_at"]) and case["accepted_at"].startswith("2026-03-02T09:00")
    # The agent who accepted it handles it and reads the numbers in clear; lists mask them for everyone.
    assert "*" not in case["applicant"]["id_number"] and len(case["applicant"]["id_number"]) == 18
    [first] = case["tasks"]
    assert first["step"] == "村委会协助并提出意见" and first["role"]["code"] == "village_committee"
    assert first["org"]["code"] == DONGPO and first["assignee"] is None

    # The committee sees it on its post, claims it, then finds it among its own tasks.
    listed = post_task_for(client, services, "dongpo_committee", case["id"])
    assert listed["id"] == first["id"] and listed["applicant_name"] == "王秀兰"
    assert listed["form"] == "village_review.schema.json" and listed["village"]["name"] == "东坡村"
    assert "*" * 8 in listed["applicant_id_number"]
    claimed = client.post(f"/api/v1/tasks/{first['id']}/claim", headers=auth(services, "dongpo_committee"))
    assert claimed.status_code == 200 and claimed.json["assignee"]["username"] == "dongpo_committee"
    mine = client.get("/api/v1/tasks", headers=auth(services, "dongpo_committee")).json
    assert mine["scope"] == "mine" and first["id"] in [task["id"] for task in mine["tasks"]]
    due_dates = [task["promised_date"] or "9999" for task in mine["tasks"]]
    assert due_dates == sorted(due_dates)
    released = client.post(f"/api/v1/tasks/{first['id']}/release", headers=auth(services, "dongpo_committee"))
    assert released.status_code == 200 and released.json["assignee"] is None
    client.post(f"/api/v1/tasks/{first['id']}/claim", headers=auth(services, "dongpo_committee"))
    after_village = complete(client, services, "dongpo_committee", first["id"])
    assert after_village.status_code == 200, after_village.json
    # The committee only recommends: the case goes straight on to the town's investigation.
    assert [task["step"] for task in after_village.json["tasks"]] == ["家庭经济状况调查"]

    for _ in ("town_investigation", "town_review"):
        task = post_task_for(client, services, "qingshui_civil", case["id"])
        assert complete(client, services, "qingshui_civil", task["id"]).status_code == 200
    pass_publicity(services)  # the town's 初审意见 posted in the village for 7 days
    for username in ("qingshui_civil", "county_civil"):
        task = post_task_for(client, services, username, case["id"])
        response = complete(client, services, username, task["id"])
        assert response.status_code == 200, response.json
    last = post_task_for(client, services, "county_civil", case["id"])
    assert last["step"] == "在村公布保障信息"
    final = complete(client, services, "county_civil", last["id"])
    assert final.status_code == 200, final.json
    assert final.json["status"] == "completed" and final.json["result"] == "approved"

    detail = client.get(f"/api/v1/cases/{case['id']}", headers=auth(services, "county_civil")).json
    assert detail["status"] == "completed" and detail["result"] == "approved" and detail["tasks"] == []
    assert detail["data"]["application"]["household_size"] >= 1
    assert [step["step"] for step in detail["data"]["steps"]] == [
        "村委会协助并提出意见", "家庭经济状况调查", "乡镇初审", "公示结果确认", "县民政局审核确认", "在村公布保障信息"]
    assert detail["data"]["steps"][4]["data"]["county_decision"] == "approve"
    assert ISO_SHANGHAI.match(detail["completed_at"])
    assert detail["variables"] == {}  # 低保 as shipped computes nothing

    history = client.get(f"/api/v1/cases/{case['id']}/events", headers=auth(services, "dongpo_agent")).json
    events = history["events"]
    assert history["chain_intact"] is True and history["problems"] == []
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[0]["prev_hash"] == "0" * 64
    assert all(later["prev_hash"] == earlier["hash"] for earlier, later in zip(events, events[1:], strict=False))
    kinds = [event["kind"] for event in events]
    assert kinds[0] == "case_started" and kinds[-1] == "case_completed"
    assert kinds.count("task_completed") == 6 and kinds.count("timer_fired") == 1
    assert {"task_claimed", "task_released"} <= set(kinds)
    assert all(ISO_SHANGHAI.match(event["at"]) for event in events)


def test_computed_values_come_with_the_case_to_those_who_may_see_it(sqlite_client: FlaskClient,
                                                                    sqlite_services: Services, tmp_path: Path) -> None:
    with sqlite_services.db.write() as session:
        folder = dibao_with_scripts(tmp_path, AID_ITEM, AID_SCRIPTS)
        deploy_folders(session, [folder], sqlite_services.settings.max_diagram_bytes)
    started = sqlite_client.post("/api/v1/cases", headers=auth(sqlite_services, "dongpo_agent"), json={
        "item_code": AID_ITEM, "village_code": DONGPO, "applicant": applicant(DONGPO), "data": AID_APPLICATION,
    })
    assert started.status_code == 201, started.json
    case_id = started.json["id"]
    detail = sqlite_client.get(f"/api/v1/cases/{case_id}", headers=auth(sqlite_services, "qingshui_civil"))
    assert detail.status_code == 200
    assert detail.json["variables"] == {"aid_amount": 300, "eligible": True, "note": "待村委会核实",
                                        "review_by": "2026-03-16T00:00:00"}
    outsider = sqlite_client.get(f"/api/v1/cases/{case_id}", headers=auth(sqlite_services, "shiqiao_civil"))
    assert outsider.status_code == 404 and "variables" not in outsider.json
    history = sqlite_client.get(f"/api/v1/cases/{case_id}/events", headers=auth(sqlite_services, "dongpo_agent")).json
    [computed] = [event for event in history["events"] if event["kind"] == "variables_set"]
    assert computed["step"] == "核算救助金额" and computed["after"]["aid_amount"] == 300


def test_the_history_names_an_altered_event(sqlite_client: FlaskClient, sqlite_services: Services) -> None:
    case = start_dibao(sqlite_client, sqlite_services)
    second = update(CaseEvent).where(CaseEvent.case_id == case["id"], CaseEvent.seq == 2)
    with sqlite_services.db.write() as session:
        name = session.scalar(select(CaseEvent.actor_name).where(CaseEvent.case_id == case["id"], CaseEvent.seq == 2))
        session.execute(second.values(actor_name="他人"))
        altered = session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case["id"], CaseEvent.seq == 2))
    try:
        history = sqlite_client.get(f"/api/v1/cases/{case['id']}/events",
                                    headers=auth(sqlite_services, "dongpo_agent"))
    finally:
        with sqlite_services.db.write() as session:  # later tests move every case on
            session.execute(second.values(actor_name=name))
    assert history.status_code == 200 and history.json["chain_intact"] is False
    [problem] = history.json["problems"]
    assert (problem["seq"], problem["event_id"], problem["kind"]) == (2, altered, "altered")
    assert "第 2 条记录被改动过" in problem["message"]


def test_reference_data(client: FlaskClient, services: Services) -> None:
    orgs = client.get("/api/v1/orgs", headers=auth(services, "dongpo_agent")).json["orgs"]
    [county] = orgs
    assert (county["code"], county["level"]) == ("510123", "county")
    qingshui = next(town for town in county["children"] if town["code"] == "510123101000")
    assert qingshui["name"] == "清水镇" and {v["name"] for v in qingshui["children"]} == {"东坡村", "河湾村"}
    dibao = item(client, services, "MZ-DIBAO")
    assert dibao["name"] == "农村居民最低生活保障" and dibao["version"] >= 1
    assert dibao["promised_days"] == 30 and dibao["fee"] == "免费" and dibao["case_type"] == "escalated"
    assert dibao["materials"][0]["name"] == "户主书面申请书" and dibao["conditions"]
    assert "household_size" in dibao["application_schema"]["properties"]
    codes = {entry["code"] for entry in client.get("/api/v1/items", headers=auth(services, "admin")).json["items"]}
    assert {"MZ-DIBAO", "MZ-TEKUN", "ZR-ZHAIJIDI"} <= codes


def test_task_lists_take_one_query_however_many_tasks(sqlite_client: FlaskClient, sqlite_services: Services) -> None:
    """Authentication is one indexed lookup and a list is one query: no query per task (the benchmark's hot path)."""
    client, svc = sqlite_client, sqlite_services
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    headers = auth(svc, "dongpo_committee")

    def selects_for(path: str) -> tuple[int, int]:
        statements.clear()
        response = client.get(path, headers=headers)
        assert response.status_code == 200
        return len(statements), len(response.json["tasks"])

    event.listen(svc.db.engine, "before_cursor_execute", record)
    try:
        start_dibao(client, svc)
        few = selects_for("/api/v1/tasks?scope=post")
        claimed = [start_dibao(client, svc)["tasks"][0]["id"] for _ in range(3)]
        for task_id in claimed[:2]:
            client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth(svc, "dongpo_committee"))
        more = selects_for("/api/v1/tasks?scope=post")
        mine = selects_for("/api/v1/tasks?scope=mine")
    finally:
        event.remove(svc.db.engine, "before_cursor_execute", record)
    assert more[1] == few[1] + 1 and mine[1] >= 2
    assert few[0] == more[0] == mine[0] == 2, (few, more, mine)


# -- (2) jurisdiction ---------------------------------------------------------------------------


def test_other_jurisdictions_cannot_see_or_touch_a_case(client: FlaskClient, services: Services) -> None:
    case = start_dibao(client, services)
    [task] = case["tasks"]
    for outsider in ("hewan_agent", "shiqiao_civil", "liulin_agent"):
        headers = auth(services, outsider)
        for path in (f"/api/v1/cases/{case['id']}", f"/api/v1/cases/{case['id']}/events",
                     f"/api/v1/tasks/{task['id']}"):
            response = client.get(path, headers=headers)
            assert response.status_code == 404, (outsider, path)
            assert "辖区" in response.json["error"]
            assert case["case_number"] not in response.get_data(as_text=True)
        for scope in ("post", "mine"):
            listed = client.get(f"/api/v1/tasks?scope={scope}", headers=headers).json["tasks"]
            assert task["id"] not in [entry["id"] for entry in listed]
        before = counts(services)
        claim = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=headers)
        assert claim.status_code in (403, 404) and claim.json["error"]
        done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=headers,
                           json={"data": {"village_decision": "approve", "village_opinion": "同意"}})
        assert done.status_code in (403, 404) and done.json["error"]
        assert counts(services) == before
    # Inside the jurisdiction: the town and the county see it; the village agent of another village may not
    # even start a case for 东坡村.
    for insider in ("dongpo_agent", "qingshui_civil", "county_civil"):
        assert client.get(f"/api/v1/cases/{case['id']}", headers=auth(services, insider)).status_code == 200
    response = client.post("/api/v1/cases", headers=auth(services, "hewan_agent"), json={
        "item_code": "MZ-DIBAO", "village_code": DONGPO, "applicant": applicant(DONGPO),
        "data": fill(item(client, services, "MZ-DIBAO")["application_schema"])})
    assert response.status_code == 403 and "本村" in response.json["error"]
    # The town's window accepts for any village of the town, the town's civil affairs office does not accept.
    application = {"item_code": "MZ-DIBAO", "village_code": HEWAN, "applicant": applicant(HEWAN),
                   "data": fill(item(client, services, "MZ-DIBAO")["application_schema"])}
    response = client.post("/api/v1/cases", headers=auth(services, "qingshui_window"), json=application)
    assert response.status_code == 201 and response.json["village"]["code"] == HEWAN
    response = client.post("/api/v1/cases", headers=auth(services, "qingshui_civil"), json=application)
    assert response.status_code == 403 and "窗口" in response.json["error"]


def test_case_list_shows_the_callers_jurisdiction_newest_first(client: FlaskClient, services: Services) -> None:
    name = "赵列表"
    people = {village: applicant(village) | {"name": name} for village in (DONGPO, LIULIN, HEWAN)}
    started = {}
    for village, agent in ((DONGPO, "dongpo_agent"), (LIULIN, "liulin_agent"), (HEWAN, "hewan_agent")):
        started[village] = start_dibao(client, services, village, agent, people[village])["case_number"]
        clock.travel(timedelta(hours=1))

    def listed(username: str, query: str = "") -> list[str]:
        response = client.get(f"/api/v1/cases?{query or 'q=' + name}", headers=auth(services, username))
        assert response.status_code == 200, response.json
        return [case["case_number"] for case in response.json["cases"]]

    # 石桥镇 sees its own village's case and none of 清水镇's; each village sees only its own.
    assert listed("shiqiao_civil") == [started[LIULIN]]
    assert listed("qingshui_civil") == [started[HEWAN], started[DONGPO]]
    assert listed("dongpo_agent") == [started[DONGPO]]
    assert listed("county_civil") == [started[HEWAN], started[LIULIN], started[DONGPO]]
    assert listed("shiqiao_civil", f"q={started[DONGPO]}") == []
    assert listed("qingshui_civil", f"q={started[DONGPO].lower()}") == [started[DONGPO]]
    assert listed("qingshui_civil", f"q={people[DONGPO]['id_number']}") == [started[DONGPO]]
    assert listed("qingshui_civil", f"q={name}&status=completed") == []
    assert listed("qingshui_civil", f"q={name}&status=running&limit=1") == [started[HEWAN]]

    response = client.get(f"/api/v1/cases?q={name}", headers=auth(services, "qingshui_civil"))
    [row] = [case for case in response.json["cases"] if case["case_number"] == started[DONGPO]]
    phone = people[DONGPO]["phone"]
    assert row["applicant"] == {"name": name, "id_number": mask_id_number(people[DONGPO]["id_number"]),
                                "phone": phone[:3] + "****" + phone[-4:]}
    assert people[DONGPO]["id_number"] not in response.get_data(as_text=True)
    assert row["item_name"] == "农村居民最低生活保障" and row["village"]["name"] == "东坡村"
    assert row["status"] == "running" and "tasks" not in row
    for query in ("status=open", "limit=0", "limit=501", "limit=many"):
        refused = client.get(f"/api/v1/cases?{query}", headers=auth(services, "qingshui_civil"))
        assert refused.status_code == 400 and refused.json["error"], query


# -- (3) bad input changes nothing --------------------------------------------------------------


def test_bad_case_input_is_refused_and_changes_nothing(sqlite_client: FlaskClient, sqlite_services: Services) -> None:
    client, svc = sqlite_client, sqlite_services
    headers = auth(svc, "dongpo_agent")
    good = {"item_code": "MZ-DIBAO", "village_code": DONGPO, "applicant": applicant(DONGPO),
            "data": fill(item(client, svc, "MZ-DIBAO")["application_schema"])}
    before = counts(svc)

    unknown = client.post("/api/v1/cases", headers=headers, json={**good, "item_code": "MZ-NOPE"})
    assert unknown.status_code == 404 and "MZ-NOPE" in unknown.json["error"]

    bad_id = {**good["applicant"], "id_number": good["applicant"]["id_number"][:17] + "0"}
    if bad_id["id_number"] == good["applicant"]["id_number"]:
        bad_id["id_number"] = good["applicant"]["id_number"][:17] + "1"
    invalid_id = client.post("/api/v1/cases", headers=headers, json={**good, "applicant": bad_id})
    assert invalid_id.status_code == 422 and "身份证" in invalid_id.json["error"]
    assert any("校验位" in line for line in invalid_id.json["details"])
    assert invalid_id.json["fields"] == {"id_number": ["身份证号码校验位不正确，请核对"]}
    bad_person = client.post("/api/v1/cases", headers=headers, json={**good, "applicant": {
        **good["applicant"], "name": "王", "phone": "12"}})
    assert bad_person.status_code == 422 and bad_person.json["fields"] == {
        "name": ["申请人姓名应为 2 至 30 个字"], "phone": ["联系电话应为 11 位手机号码或带区号的固定电话"]}

    wrong_type = client.post("/api/v1/cases", headers=headers,
                             json={**good, "data": {**good["data"], "household_size": "三口人"}})
    assert wrong_type.status_code == 422 and "家庭人口" in wrong_type.json["error"]
    assert wrong_type.json["details"] == ["“家庭人口”应填写整数"]
    assert wrong_type.json["fields"] == {"household_size": ["“家庭人口”应填写整数"]}
    without_reason = {key: value for key, value in good["data"].items() if key != "reason"}
    missing_field = client.post("/api/v1/cases", headers=headers, json={**good, "data": without_reason})
    assert missing_field.status_code == 422 and missing_field.json["fields"] == {"reason": ["“申请理由”为必填项"]}
    not_an_object = client.post("/api/v1/cases", headers=headers, json={**good, "data": ["a"]})
    assert not_an_object.status_code == 422 and not_an_object.json["error"]

    for body, content_type in (("not json", "application/json"), ("[1, 2]", "application/json"),
                               ("item_code=MZ-DIBAO", "application/x-www-form-urlencoded")):
        response = client.post("/api/v1/cases", headers=headers, data=body, content_type=content_type)
        assert response.status_code == 400 and "JSON" in response.json["error"], body
    missing = client.post("/api/v1/cases", headers=headers, json={"applicant": good["applicant"]})
    assert missing.status_code == 422 and "item_code" in missing.json["error"]

    for bad_headers, expected in (({}, "未登录"), ({"Authorization": "Bearer bm_not-a-token"}, "无效"),
                                  ({"Authorization": "Basic ZG9uZ3BvOnB3"}, "未登录")):
        response = client.post("/api/v1/cases", headers=bad_headers, json=good)
        assert response.status_code == 401 and expected in response.json["error"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert client.get("/api/v1/tasks", headers=bad_headers).status_code == 401
    assert counts(svc) == before

    scope = client.get("/api/v1/tasks?scope=everything", headers=headers)
    assert scope.status_code == 400 and "scope" in scope.json["error"]
    assert client.get("/api/v1/cases/999999", headers=headers).status_code == 404
    missing_task = client.post("/api/v1/tasks/no-such-task/claim", headers=headers)
    assert missing_task.status_code == 404 and missing_task.json["error"] == "任务不存在"


def test_wrong_form_data_for_a_task_is_refused(client: FlaskClient, services: Services) -> None:
    case = start_dibao(client, services)
    [task] = case["tasks"]
    before = counts(services)
    response = complete(client, services, "dongpo_committee", task["id"],
                        {"village_decision": "maybe", "village_opinion": 3})
    assert response.status_code == 422 and "村委会协助并提出意见" in response.json["error"]
    assert len(response.json["details"]) == 3
    assert response.json["fields"] == {"village_decision": ["“村委会意见”的取值不在可选范围内"],
                                       "village_opinion": ["“意见及理由”应填写文字"],
                                       "appraisal_held": ["“是否组织民主评议”为必填项"]}
    not_json = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=auth(services, "dongpo_committee"),
                           data="village_decision=approve", content_type="text/plain")
    assert not_json.status_code == 400
    assert counts(services) == before


def test_a_step_stores_only_the_fields_its_form_declares(client: FlaskClient, services: Services) -> None:
    case = start_dibao(client, services)
    [task] = case["tasks"]
    with services.db.read() as session:
        state = session.get(Case, case["id"]).workflow_state
    before = counts(services)
    data = form_data(client, services, "dongpo_committee", task["id"])
    # The village decides its own review, and tries to decide the town's and the county's too.
    forged = data | {"county_decision": "approve", "town_decision": "approve", "case_number": "MZ-DIBAO-0",
                     "__builtins__": {"open": 1}}
    response = complete(client, services, "dongpo_committee", task["id"], forged)
    assert response.status_code == 400, response.json
    assert "未作任何保存" in response.json["error"]
    for name in ("county_decision", "town_decision", "case_number", "__builtins__"):
        assert f"“{name}”" in response.json["error"] and name in response.json["fields"]
    assert "保留" in response.json["fields"]["case_number"][0] and "保留" in response.json["fields"]["__builtins__"][0]
    assert "村委会协助并提出意见" in response.json["fields"]["county_decision"][0]
    assert counts(services) == before
    with services.db.read() as session:
        assert session.get(Case, case["id"]).workflow_state == state
        assert session.get(Task, task["id"]).status == "open"
    # The application form is held to the same rule.
    schema = item(client, services, "MZ-DIBAO")["application_schema"]
    started = client.post("/api/v1/cases", headers=auth(services, "dongpo_agent"), json={
        "item_code": "MZ-DIBAO", "village_code": DONGPO, "applicant": applicant(DONGPO),
        "data": fill(schema) | {"village_decision": "approve", "_secret": 1}})
    assert started.status_code == 400 and "“village_decision”" in started.json["error"]
    assert counts(services) == before
    # The declared fields alone complete the step.
    assert complete(client, services, "dongpo_committee", task["id"], data).status_code == 200


# -- (4) completing twice -----------------------------------------------------------------------


def test_completing_a_completed_task_names_who_completed_it(client: FlaskClient, services: Services) -> None:
    case = start_dibao(client, services)
    [task] = case["tasks"]
    data = form_data(client, services, "dongpo_committee", task["id"])
    assert complete(client, services, "dongpo_committee", task["id"], data).status_code == 200
    before = counts(services)
    again = complete(client, services, "dongpo_committee", task["id"], data)
    assert again.status_code == 409
    assert "东坡村村委会" in again.json["error"] and "2026-03-02 09:00" in again.json["error"]
    claim = client.post(f"/api/v1/tasks/{task['id']}/claim", headers=auth(services, "dongpo_committee"))
    assert claim.status_code == 409 and "办理完毕" in claim.json["error"]
    assert counts(services) == before


# -- incidents ----------------------------------------------------------------------------------


def test_administrators_see_incidents_and_nobody_else(sqlite_client: FlaskClient, sqlite_services: Services,
                                                      tmp_path: Path) -> None:
    case = failed_case(sqlite_services, tmp_path)
    response = sqlite_client.get("/api/v1/incidents", headers=auth(sqlite_services, "admin"))
    assert response.status_code == 200, response.json
    [shown] = [row for row in response.json["incidents"] if row["case_id"] == case.id]
    assert shown["case_number"] == case.case_number and shown["village_name"] == "东坡村"
    assert shown["step"] == "定时器“初审公示7天”到期后的流程" and "objection_count" in shown["message"]
    assert (shown["attempts"], shown["given_up"], shown["kind"]) == (1, False, "timer")
    assert ISO_SHANGHAI.match(shown["next_try_at"]) and ISO_SHANGHAI.match(shown["opened_at"])
    for username in ("dongpo_agent", "qingshui_civil", "county_civil", "supervisor"):
        refused = sqlite_client.get("/api/v1/incidents", headers=auth(sqlite_services, username))
        assert refused.status_code == 403 and refused.json["error"] == "只有系统管理员可以查看异常办件"
    assert sqlite_client.get("/api/v1/incidents").status_code == 401


# -- deployment ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deploy_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: deploying adds items and versions other tests should not see."""
    svc = make_services("sqlite", tmp_path_factory.mktemp("api_deploy"), "bianmin_api_deploy")
    yield svc
    svc.db.dispose()


@pytest.fixture
def deploy_client(deploy_services: Services) -> FlaskClient:
    return make_client(deploy_services)


def bundle(folder: Path = DIBAO_DIR, *, item_toml: bytes | None = None, diagram: bytes | None = None,
           drop_form: str | None = None) -> dict[str, Any]:
    forms = [(io.BytesIO(path.read_bytes()), path.name) for path in sorted((folder / "forms").glob("*.json"))
             if path.name != drop_form]
    return {
        "item_toml": (io.BytesIO(item_toml or (folder / "item.toml").read_bytes()), "item.toml"),
        "diagram": (io.BytesIO(diagram or (folder / "process.bpmn").read_bytes()), "process.bpmn"),
        "forms": forms,
    }


def dibao_xml() -> str:
    return (DIBAO_DIR / "process.bpmn").read_text(encoding="utf-8")


def deploy(client: FlaskClient, svc: Services, data: dict[str, Any], username: str = "admin") -> Any:
    return client.post("/api/v1/procedures", headers=auth(svc, username), data=data,
                       content_type="multipart/form-data")


def test_admin_deploys_a_procedure(deploy_client: FlaskClient, deploy_services: Services) -> None:
    client, svc = deploy_client, deploy_services
    toml = (DIBAO_DIR / "item.toml").read_text(encoding="utf-8").replace('code = "MZ-DIBAO"', 'code = "API-DIBAO"')
    first = deploy(client, svc, bundle(item_toml=toml.encode()))
    assert first.status_code == 201, first.json
    assert first.json == {"item_code": "API-DIBAO", "version": 1, "created": True, "warnings": []}
    same = deploy(client, svc, bundle(item_toml=toml.encode()))
    assert same.status_code == 200
    assert same.json == {"item_code": "API-DIBAO", "version": 1, "created": False, "warnings": []}
    changed = deploy(client, svc, bundle(item_toml=toml.replace("promised_days = 30", "promised_days = 20").encode()))
    assert changed.status_code == 201 and changed.json["version"] == 2
    listed = item(client, svc, "API-DIBAO")
    assert listed["version"] == 2 and listed["promised_days"] == 20
    # A case of the new item runs on the new version.
    response = client.post("/api/v1/cases", headers=auth(svc, "dongpo_agent"), json={
        "item_code": "API-DIBAO", "village_code": DONGPO, "applicant": applicant(DONGPO),
        "data": fill(listed["application_schema"])})
    assert response.status_code == 201 and response.json["tasks"][0]["step"] == "村委会协助并提出意见"


REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("malformed XML", {"diagram": b"<bpmn:definitions><unclosed></bpmn:definitions>"}, "不是合法的 XML"),
    ("external entity", {"diagram": ('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
                                     + dibao_xml().split("\n", 1)[1].replace(
                                         "乡镇窗口受理</bpmn:documentation>", "&e;</bpmn:documentation>")).encode()},
     "DOCTYPE"),
    ("10 MB diagram", {"diagram": dibao_xml().replace(
        "</bpmn:definitions>", "<!--" + "x" * (10 * 1024 * 1024) + "--></bpmn:definitions>").encode()}, "过大"),
    ("unknown lane role", {"diagram": dibao_xml().replace('name="county_civil_affairs"', 'name="county_wizard"')
                           .encode()}, "county_wizard"),
    ("missing form file", {"drop_form": "town_review.schema.json"}, "town_review.schema.json"),
    ("unsafe condition", {"diagram": dibao_xml().replace(
        'town_decision == "approve"', "__import__('os').system('id') == 0").encode()}, "__import__"),
    ("invalid TOML", {"item_toml": b"code = \n"}, "item.toml"),
    ("path without an end event", {"diagram": dibao_xml().replace(
        '<bpmn:sequenceFlow id="Flow_publication_to_end" sourceRef="result_publication" '
        'targetRef="EndEvent_approved" />',
        "").encode()}, "result_publication（在村公布保障信息）：没有流出的连线，也不是结束事件"),
]


@pytest.mark.parametrize(("case", "change", "expected"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_deployments_store_nothing(deploy_client: FlaskClient, deploy_services: Services, case: str,
                                           change: dict[str, Any], expected: str) -> None:
    before = counts(deploy_services)
    response = deploy(deploy_client, deploy_services, bundle(**change))
    assert response.status_code == 422, response.json
    text = response.json["error"] + "\n".join(response.json["details"])
    assert expected in text, text
    assert "root:" not in response.get_data(as_text=True)
    problems = response.json["problems"]
    assert problems and [str(Problem(**problem)) for problem in problems] == response.json["details"]
    assert all(problem["file"].startswith("上传的流程/") for problem in problems)
    assert counts(deploy_services) == before


def test_refusal_and_warnings_name_file_and_element(deploy_client: FlaskClient, deploy_services: Services) -> None:
    diagram = dibao_xml().replace('name="county_civil_affairs"', 'name="county_wizard"')
    refused = deploy(deploy_client, deploy_services, bundle(diagram=diagram.encode()))
    assert refused.status_code == 422
    assert refused.json["problems"] == [{
        "file": "上传的流程/process.bpmn",
        "message": "泳道名称“county_wizard”不是已知的角色代码，泳道中的用户任务无法确定办理岗位："
                   "请选择一个已有的岗位（角色）",
        "element_id": "Lane_county_civil_affairs", "element_name": "county_wizard", "severity": "error"}]
    toml = (DIBAO_DIR / "item.toml").read_text(encoding="utf-8").replace('code = "MZ-DIBAO"', 'code = "API-TYPO"')
    diagram = dibao_xml().replace('town_decision == "approve"', 'town_decison == "approve"')
    deployed = deploy(deploy_client, deploy_services, bundle(item_toml=toml.encode(), diagram=diagram.encode()))
    assert deployed.status_code == 201, deployed.json
    [warning] = deployed.json["warnings"]
    assert (warning["element_id"], warning["element_name"], warning["severity"]) == (
        "Flow_town_approve", "符合，拟纳入", "warning")
    assert "town_decison" in warning["message"] and "town_decision" in warning["message"]


def test_a_form_declaring_a_reserved_name_is_refused(deploy_client: FlaskClient, deploy_services: Services) -> None:
    before = counts(deploy_services)
    data = bundle(drop_form="town_review.schema.json")
    schema = (DIBAO_DIR / "forms" / "town_review.schema.json").read_text(encoding="utf-8")
    reserved = schema.replace('"properties": {', '"properties": {"case_number": {"type": "string"}, '
                                                 '"len": {"type": "integer"}, "_hidden": {"type": "string"}, ', 1)
    data["forms"].append((io.BytesIO(reserved.encode()), "town_review.schema.json"))
    response = deploy(deploy_client, deploy_services, data)
    assert response.status_code == 422, response.json
    refused = [problem for problem in response.json["problems"] if "保留" in problem["message"]]
    assert [problem["file"] for problem in refused] == ["上传的流程/forms/town_review.schema.json"] * 3
    assert ["“_hidden”" in refused[0]["message"], "“case_number”" in refused[1]["message"],
            "“len”" in refused[2]["message"]] == [True] * 3
    assert counts(deploy_services) == before


def test_invalid_form_schema_is_refused(deploy_client: FlaskClient, deploy_services: Services) -> None:
    before = counts(deploy_services)
    data = bundle(drop_form="town_review.schema.json")
    data["forms"].append((io.BytesIO(b'{"type": "object", "properties": {"x": {"type": "colour"}}}'),
                          "town_review.schema.json"))
    response = deploy(deploy_client, deploy_services, data)
    assert response.status_code == 422 and "JSON Schema 无效" in "\n".join(response.json["details"])
    assert counts(deploy_services) == before


def test_deploy_needs_an_admin_and_a_proper_upload(deploy_client: FlaskClient, deploy_services: Services) -> None:
    client, svc = deploy_client, deploy_services
    before = counts(svc)
    for username in ("dongpo_agent", "county_civil", "supervisor"):
        response = deploy(client, svc, bundle(), username)
        assert response.status_code == 403 and "系统管理员" in response.json["error"]
    anonymous = client.post("/api/v1/procedures", data=bundle(), content_type="multipart/form-data")
    assert anonymous.status_code == 401 and anonymous.json["error"]
    as_json = client.post("/api/v1/procedures", headers=auth(svc, "admin"), json={"item_toml": "x"})
    assert as_json.status_code == 400 and "multipart" in as_json.json["error"]
    no_diagram = bundle()
    del no_diagram["diagram"]
    response = deploy(client, svc, no_diagram)
    assert response.status_code == 422 and response.json["problems"][0]["message"] == "缺少 .bpmn 流程图文件"
    wrong_name = bundle()
    wrong_name["diagram"] = (io.BytesIO(dibao_xml().encode()), "process.xml")
    assert deploy(client, svc, wrong_name).status_code == 422
    huge = bundle()
    huge["diagram"] = (io.BytesIO(b"<a/>" + b" " * (13 * 1024 * 1024)), "process.bpmn")
    too_large = deploy(client, svc, huge)
    assert too_large.status_code == 413 and "过大" in too_large.json["error"]
    assert counts(svc) == before


# -- (5) the OpenAPI document -------------------------------------------------------------------


def test_openapi_document_lists_every_route(sqlite_client: FlaskClient) -> None:
    response = sqlite_client.get("/api/v1/openapi.json")  # no token needed
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": "/api/v1"}]
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "Authorization: Bearer <访问令牌>"}
    routes = [rule for rule in sqlite_client.application.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    assert len(routes) >= 12
    for rule in routes:
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
        assert path in doc["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"][path][method.lower()]
            assert operation["responses"], (method, path)
            for name in re.findall(r"{(\w+)}", path):
                assert name in [p["name"] for p in operation.get("parameters", [])], (method, path, name)
            if path != "/openapi.json":
                assert "401" in operation["responses"] and "security" not in operation
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', response.get_data(as_text=True)))
    assert refs <= set(doc["components"]["schemas"])
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]


def test_two_clerks_completing_at_once_get_one_success_and_one_409(services: Services) -> None:
    """Two HTTP requests race on one task, each through its own app and connection pool (two workers)."""
    first, second = make_client(services), make_client(Services(services.settings, *_second_pool(services)))
    case = start_dibao(first, services)
    task_id = case["tasks"][0]["id"]
    data = form_data(first, services, "dongpo_committee", task_id)
    headers = auth(services, "dongpo_committee")
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def post(client: FlaskClient) -> None:
        barrier.wait()
        answers.append(client.post(f"/api/v1/tasks/{task_id}/complete", headers=headers, json={"data": data}))

    threads = [threading.Thread(target=post, args=(c,)) for c in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [200, 409]
    conflict = next(answer for answer in answers if answer.status_code == 409)
    assert "东坡村村委会" in conflict.json["error"] and "办理完毕" in conflict.json["error"]


def _second_pool(services: Services) -> tuple[Database, CaseService]:
    db = Database(services.db.url)
    return db, CaseService(db)
