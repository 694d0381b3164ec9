"""会签 and 加签 through the JSON API, on SQLite and PostgreSQL: signers find their share in their post's list, sign
it through the ordinary completion, the case's signatures show who signed how; 加签 before the holder; refusals
answer with the reason and change nothing; both paths are in the OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from engine.services import Services
from tests.test_api import auth, complete, counts, form_data, make_client, post_task_for
from tests.test_countersign import OPINIONS, answer, deployed, signers, to_step, village_task


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


def signatures(client: FlaskClient, svc: Services, username: str, case_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/cases/{case_id}/signatures", headers=auth(svc, username))
    assert response.status_code == 200, response.json
    return response.json["signings"]


def sign(client: FlaskClient, svc: Services, username: str, case_id: int, decision: str) -> Any:
    task = post_task_for(client, svc, username, case_id)
    assert task["arrival"] == "sign_off" and task["signing_for"]
    data = form_data(client, svc, username, task["id"], decision)
    opinion = next(name for name in data if name.endswith("_opinion"))
    return complete(client, svc, username, task["id"], data | {opinion: OPINIONS[decision]}), task


def test_a_joint_sign_off_through_the_api(client: FlaskClient, services: Services) -> None:
    case = to_step(services, "接口会签", "town_review")
    [opened] = signatures(client, services, "qingshui_civil", case.id)
    assert (opened["kind"], opened["status"], opened["needed"], opened["total"]) == ("all", "held", 3, 3)
    assert [s["role"] for s in opened["signatures"]] == ["town_civil_affairs", "town_health", "town_leader"]
    assert {s["status"] for s in opened["signatures"]} == {"open"}
    response, health = sign(client, services, "qingshui_health", case.id, "approve")
    assert response.status_code == 200, response.json
    # Nothing moved yet: the step's own task is still held, and no new step is open.
    assert {task["step"] for task in response.json["tasks"]} == {"乡镇联合审核"}
    again = complete(client, services, "qingshui_health", health["id"],
                     form_data(client, services, "qingshui_health", health["id"]))
    assert again.status_code == 409 and "办理完毕" in again.json["error"]
    # Not a signer of this step: the town window.
    leader_task = post_task_for(client, services, "qingshui_leader", case.id)
    refused = complete(client, services, "qingshui_window", leader_task["id"],
                       form_data(client, services, "qingshui_leader", leader_task["id"]))
    assert refused.status_code == 403
    [mid] = signatures(client, services, "qingshui_civil", case.id)
    health_share = next(s for s in mid["signatures"] if s["role"] == "town_health")
    assert (health_share["status"], health_share["approved"], health_share["opinion"]) == (
        "completed", True, OPINIONS["approve"])
    assert health_share["signed_by"] and health_share["signed_at"].endswith("+08:00")
    sign(client, services, "qingshui_civil", case.id, "approve")
    response, _ = sign(client, services, "qingshui_leader", case.id, "approve")
    assert response.status_code == 200
    assert {task["step"] for task in response.json["tasks"]} == {"乡镇集体研究"}
    [done, meeting] = signatures(client, services, "qingshui_leader", case.id)
    assert (done["status"], done["outcome"], done["approvals"]) == ("completed", "approved", 3)
    assert (meeting["kind"], meeting["ratio"], meeting["needed"]) == ("ratio", "2/3", 2)
    # Another jurisdiction does not see the case at all.
    assert client.get(f"/api/v1/cases/{case.id}/signatures", headers=auth(services, "shiqiao_civil")).status_code \
        == 404


def test_a_signer_added_before_the_holder_through_the_api(client: FlaskClient, services: Services) -> None:
    case, task = village_task(services, "接口加签")
    url = f"/api/v1/tasks/{task.id}/signers"
    headers = auth(services, "dongpo_committee")
    body = {"role": "town_civil_affairs", "org_id": case.town_id, "position": "before",
            "reason": "申请人家庭成员中有外出务工人员，请乡镇民政办先核实其收入情况"}
    before = counts(services)
    for wrong, status, field in (({"reason": "  "}, 422, "reason"), ({"org_id": "town"}, 422, "org_id"),
                                 ({"position": "beside"}, 422, "position"),
                                 ({"role": "village_committee", "org_id": case.village_id}, 422, "role")):
        refused = client.post(url, headers=headers, json=body | wrong)
        assert refused.status_code == status and field in refused.json["fields"], refused.json
    other = client.post(url, headers=auth(services, "qingshui_civil"), json=body)
    assert other.status_code == 403 and "不是该任务所属岗位" in other.json["error"]
    assert client.post("/api/v1/tasks/no-such-task/signers", headers=headers, json=body).status_code == 404
    assert counts(services) == before
    added = client.post(url, headers=headers, json=body)
    assert added.status_code == 201, added.json
    assert added.json["task"]["status"] == "held"
    signer = added.json["signer"]
    assert (signer["status"], signer["arrival"], signer["signing_for"], signer["sign_position"]) == (
        "open", "added_signer", task.id, "before")
    assert signer["arrival_note"] == body["reason"]
    # While it waits for the signer, the holder cannot add another or complete it.
    assert client.post(url, headers=headers, json=body).status_code == 409
    listed = post_task_for(client, services, "qingshui_civil", case.id)
    assert listed["id"] == signer["id"]
    data = form_data(client, services, "qingshui_civil", signer["id"]) | {
        "village_opinion": "经核实，外出务工人员月收入约一千二百元，已计入家庭收入"}
    assert complete(client, services, "qingshui_civil", signer["id"], data).status_code == 200
    back = client.get(f"/api/v1/tasks/{task.id}", headers=headers).json
    assert (back["status"], back["arrival"], back["may_complete"]) == ("open", "signed_before", True)
    [added_round] = signatures(client, services, "dongpo_committee", case.id)
    assert (added_round["kind"], added_round["signatures"][0]["reason"]) == ("before", body["reason"])
    assert complete(client, services, "dongpo_committee", task.id,
                    answer(services, task, "approve")).status_code == 200
    assert sorted(signers(services, case.id, "town_review")) == ["town_civil_affairs", "town_health", "town_leader"]


def test_the_openapi_document_describes_both_paths(client: FlaskClient, services: Services) -> None:
    deployed(services)
    doc = client.get("/api/v1/openapi.json").json
    add = doc["paths"]["/tasks/{task_id}/signers"]["post"]
    assert add["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AddSigner"}
    assert {"201", "403", "409", "422"} <= set(add["responses"])
    assert "Signing" in doc["components"]["schemas"]
    assert "200" in doc["paths"]["/cases/{case_id}/signatures"]["get"]["responses"]
