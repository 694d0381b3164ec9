"""退回 and 撤回 through the JSON API and the task and case pages (Flask's test client), on both databases."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from engine.services import Services
from tests.procedures import applicant
from tests.test_api import auth, complete, make_client, post_task_for, start_dibao
from tests.test_engine import DONGPO
from tests.test_webui import login, post


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


def committee_done(client: FlaskClient, services: Services, name: str) -> tuple[dict, dict]:
    """A 低保 case whose village opinion is in: (the village task, the town's investigation task)."""
    case = start_dibao(client, services, person=applicant(DONGPO) | {"name": name})
    village = post_task_for(client, services, "dongpo_committee", case["id"])
    complete(client, services, "dongpo_committee", village["id"])
    town = post_task_for(client, services, "qingshui_civil", case["id"])
    return village, town


def test_send_back_and_withdraw_through_the_api(client: FlaskClient, services: Services) -> None:
    village, town = committee_done(client, services, "接口退回")
    civil = auth(services, "qingshui_civil")
    offered = client.get(f"/api/v1/tasks/{town['id']}/send-back", headers=civil)
    assert offered.status_code == 200
    [target] = offered.json["targets"]
    assert (target["step"], target["whole_split"]) == ("村委会协助并提出意见", False)
    # A reason is required, and a refusal changes nothing.
    empty = client.post(f"/api/v1/tasks/{town['id']}/send-back", headers=civil,
                        json={"target_task_id": target["task_id"], "reason": ""})
    assert empty.status_code == 422 and "请填写退回理由" in empty.json["error"]
    assert client.get(f"/api/v1/tasks/{town['id']}", headers=civil).json["status"] == "open"
    moved = client.post(f"/api/v1/tasks/{town['id']}/send-back", headers=civil,
                        json={"target_task_id": target["task_id"], "reason": "缺少民主评议记录"})
    assert moved.status_code == 200
    [again] = moved.json["open_tasks"]
    committee = auth(services, "dongpo_committee")
    task = client.get(f"/api/v1/tasks/{again['id']}", headers=committee).json
    assert (task["arrival"], task["arrival_note"], task["assignee"]["username"]) == (
        "sent_back", "缺少民主评议记录", "dongpo_committee")
    # 撤回: the committee answers again, then takes it back before the town acts.
    complete(client, services, "dongpo_committee", again["id"])
    other = client.post(f"/api/v1/tasks/{again['id']}/withdraw", headers=civil, json={"reason": "错"})
    assert other.status_code == 403
    back = client.post(f"/api/v1/tasks/{again['id']}/withdraw", headers=committee, json={"reason": "意见写错了"})
    assert back.status_code == 200 and [t["step"] for t in back.json["open_tasks"]] == ["村委会协助并提出意见"]
    twice = client.post(f"/api/v1/tasks/{again['id']}/withdraw", headers=committee, json={"reason": "再撤回"})
    assert twice.status_code == 409


def test_send_back_and_withdraw_on_the_pages(client: FlaskClient, services: Services) -> None:
    village, town = committee_done(client, services, "页面退回")
    login(client, "qingshui_civil")
    page = client.get(f"/tasks/{town['id']}").get_data(as_text=True)
    assert 'id="send-back"' in page and "村委会协助并提出意见" in page
    target = page.split('id="send-back-target"')[1].split('<option value="')[1].split('"')[0]
    # Refused without a reason: the page comes back with the message and what was typed.
    refused = post(client, f"/tasks/{town['id']}/send-back", {"target": target, "reason": " "})
    assert refused.status_code == 422 and "请填写退回理由" in refused.get_data(as_text=True)
    done = post(client, f"/tasks/{town['id']}/send-back", {"target": target,
                                                          "reason": "民主评议记录缺少参会村民代表签字"})
    assert done.status_code == 302
    committee = make_client(services)
    login(committee, "dongpo_committee")
    case = client.get(f"/api/v1/cases/{town['case_id']}", headers=auth(services, "dongpo_committee")).json
    [again] = case["tasks"]
    page = committee.get(f"/tasks/{again['id']}").get_data(as_text=True)
    assert "民主评议记录缺少参会村民代表签字" in page and 'id="arrival-note"' in page
    # The committee answers again; its case page then offers 撤回, which reopens the step for it.
    complete(client, services, "dongpo_committee", again["id"])
    assert 'id="withdraw"' in committee.get(f"/cases/{town['case_id']}").get_data(as_text=True)
    back = post(committee, f"/tasks/{again['id']}/withdraw", {"reason": "漏填了评议人数"})
    assert back.status_code == 302 and "/tasks/" in back.headers["Location"]
    # The town sees no 撤回 of the committee's step.
    assert 'id="withdraw"' not in client.get(f"/cases/{town['case_id']}").get_data(as_text=True)
