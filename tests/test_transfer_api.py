"""转办 and 委派 through the JSON API and the task pages (Flask's test client), and the delegator's 委派中 list in the
inbox and the API, on both databases."""

from __future__ import annotations

import re

import lxml.html
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import OrgUnit, User
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant
from tests.test_api import auth, complete, form_data, make_client, post_task_for, start_dibao
from tests.test_engine import DONGPO
from tests.test_webui import as_posted, login, post, text

REASON = "申请人常住县城，家庭收入须由县民政局会同人社部门核对"


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


def org_id(services: Services, code: str) -> int:
    with services.db.read() as session:
        found = session.scalar(select(OrgUnit.id).where(OrgUnit.code == code))
    assert found is not None
    return found


def at_town(client: FlaskClient, services: Services, name: str) -> dict:
    """A 低保 case whose village opinion is in: its 家庭经济状况调查 waiting at 清水镇's civil-affairs post."""
    case = start_dibao(client, services, person=applicant(DONGPO) | {"name": name})
    village = post_task_for(client, services, "dongpo_committee", case["id"])
    assert complete(client, services, "dongpo_committee", village["id"]).status_code == 200
    return post_task_for(client, services, "qingshui_civil", case["id"])


def seen(client: FlaskClient, services: Services, username: str, task_id: str) -> dict:
    response = client.get(f"/api/v1/tasks/{task_id}", headers=auth(services, username))
    assert response.status_code == 200, response.json
    return response.json


def test_transfer_through_the_api(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "接口转办")
    civil, county = auth(services, "qingshui_civil"), org_id(services, "510123")
    url = f"/api/v1/tasks/{town['id']}"
    offered = client.get(f"{url}/receivers", headers=civil)
    assert offered.status_code == 200
    assert {"role": "county_civil_affairs", "org_id": county, "label": "青山县 · 县民政局"} in offered.json["posts"]
    assert offered.json["colleagues"][0]["user"] == "qingshui_civil_b"
    assert client.get(f"{url}/receivers", headers=auth(services, "qingshui_window")).status_code == 403
    # Each refusal says why and changes nothing.
    refusals = [
        (civil, {"role": "county_civil_affairs", "org_id": county, "reason": ""}, 422, "请填写转办理由"),
        (civil, {"role": "town_civil_affairs", "org_id": org_id(services, "510123102000"), "reason": REASON},
         422, "不服务本办件"),
        (civil, {"role": "town_civil_affairs", "org_id": org_id(services, "510123101000"), "reason": REASON},
         422, "无需转办"),
        (auth(services, "dongpo_agent"), {"role": "county_civil_affairs", "org_id": county, "reason": REASON},
         403, "不是该任务所属岗位"),
    ]
    for headers, body, status, message in refusals:
        refused = client.post(f"{url}/transfer", headers=headers, json=body)
        assert (refused.status_code, message in refused.json["error"]) == (status, True), refused.json
    assert seen(client, services, "qingshui_civil", town["id"])["role"] == "town_civil_affairs"
    moved = client.post(f"{url}/transfer", headers=civil,
                        json={"role": "county_civil_affairs", "org_id": county, "reason": REASON})
    assert moved.status_code == 200
    assert (moved.json["role"], moved.json["arrival"], moved.json["arrival_note"], moved.json["assignee"]) == (
        "county_civil_affairs", "transferred", REASON, None)
    # The county holder finds it waiting for their post, works it, and the case moves on.
    waiting = post_task_for(client, services, "county_civil", town["case_id"])
    assert (waiting["id"], waiting["arrival"]) == (town["id"], "transferred")
    assert complete(client, services, "county_civil", town["id"]).status_code == 200
    again = client.post(f"{url}/transfer", headers=auth(services, "county_civil"),
                        json={"role": "town_civil_affairs", "org_id": org_id(services, "510123101000"),
                              "reason": REASON})
    assert again.status_code == 409 and "办理完毕" in again.json["error"]


def test_delegate_and_recall_through_the_api(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "接口委派")
    civil, window = auth(services, "qingshui_civil"), auth(services, "qingshui_window")
    url = f"/api/v1/tasks/{town['id']}"
    for body, message in [({"user": "no_such_user", "reason": "请协助"}, "user 应为"),
                          ({"user": "qingshui_civil", "reason": "请协助"}, "不能委派给自己"),
                          ({"user": "shiqiao_civil", "reason": "请协助"}, "不服务本办件"),
                          ({"user": "qingshui_window"}, "请填写委派理由")]:
        refused = client.post(f"{url}/delegate", headers=civil, json=body)
        assert refused.status_code == 422 and message in refused.json["error"], refused.json
    handed = client.post(f"{url}/delegate", headers=civil, json={"user": "qingshui_window", "reason": "请协助入户核实"})
    assert handed.status_code == 200
    assert (handed.json["assignee"]["username"], handed.json["arrival"]) == ("qingshui_window", "delegated")
    # Taken back before the colleague answers, then handed over again.
    assert client.post(f"{url}/delegate/recall", headers=auth(services, "qingshui_civil_b")).status_code == 403
    recalled = client.post(f"{url}/delegate/recall", headers=civil)
    assert recalled.status_code == 200 and recalled.json["assignee"]["username"] == "qingshui_civil"
    assert client.post(f"{url}/delegate/recall", headers=civil).status_code == 409
    client.post(f"{url}/delegate", headers=civil, json={"user": "qingshui_window", "reason": "请协助入户核实"})
    mine = client.get(f"/api/v1/tasks?scope=mine&q={town['case_number']}", headers=window).json["tasks"]
    assert [task["id"] for task in mine] == [town["id"]]
    task = seen(client, services, "qingshui_window", town["id"])
    assert task["may_complete"] and not seen(client, services, "qingshui_civil", town["id"])["may_complete"]
    # The delegate only answers: no transfer, and the answer goes back to the clerk without moving the case.
    assert client.post(f"{url}/transfer", headers=window, json={
        "role": "county_civil_affairs", "org_id": org_id(services, "510123"), "reason": REASON}).status_code == 403
    data = form_data(client, services, "qingshui_window", town["id"])
    answered = complete(client, services, "qingshui_window", town["id"], data)
    assert answered.status_code == 200
    back = seen(client, services, "qingshui_civil", town["id"])
    assert (back["status"], back["arrival"], back["assignee"]["username"]) == (
        "open", "delegate_answered", "qingshui_civil")
    assert complete(client, services, "qingshui_civil", town["id"], data).status_code == 200
    case = client.get(f"/api/v1/cases/{town['case_id']}", headers=civil).json
    assert [task["step"] for task in case["tasks"]] == ["乡镇初审"]


def test_transfer_and_delegate_on_the_task_page(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "页面转办")
    login(client, "qingshui_civil")
    page = client.get(f"/tasks/{town['id']}").get_data(as_text=True)
    assert 'id="transfer"' in page and 'id="delegate"' in page
    assert "青山县 · 县民政局" in page and "石桥镇" not in page
    value = f"county_civil_affairs@{org_id(services, '510123')}"
    # Refused without a reason: the page says so and keeps the chosen post.
    refused = post(client, f"/tasks/{town['id']}/transfer", {"post": value, "reason": " "})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请填写转办理由" in body
    assert re.search(rf'<option value="{value}"\s+selected>', body)
    # The B post's stale form, once the A post has claimed the task: refused, and the page says why.
    deputy = make_client(services)
    login(deputy, "qingshui_civil_b")
    assert 'id="transfer"' in deputy.get(f"/tasks/{town['id']}").get_data(as_text=True)
    client.post(f"/api/v1/tasks/{town['id']}/claim", headers=auth(services, "qingshui_civil"))
    stale = post(deputy, f"/tasks/{town['id']}/transfer", {"post": value, "reason": REASON})
    assert stale.status_code == 403 and "您不能转办该任务" in text(stale)
    done = post(client, f"/tasks/{town['id']}/transfer", {"post": value, "reason": REASON})
    assert done.status_code == 302 and done.headers["Location"].endswith("/inbox")
    assert "已转办至青山县 · 县民政局" in text(client.get("/inbox"))
    county = make_client(services)
    login(county, "county_civil")
    inbox = county.get(f"/inbox?tab=post&q={town['case_number']}").get_data(as_text=True)
    assert town["case_number"] in inbox and 'arrival-badge' in inbox and ">转办<" in inbox
    task_page = text(county.get(f"/tasks/{town['id']}"))
    assert REASON in task_page and "转办至本岗位" in task_page


def test_delegated_answer_comes_back_prefilled_on_the_page(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "页面委派")
    login(client, "qingshui_civil")
    window_id = user_id(services, "qingshui_window")
    refused = post(client, f"/tasks/{town['id']}/delegate", {"user": str(window_id), "reason": ""})
    assert refused.status_code == 422 and "请填写委派理由" in refused.get_data(as_text=True)
    done = post(client, f"/tasks/{town['id']}/delegate", {"user": str(window_id), "reason": "请入户核实收入"})
    assert done.status_code == 302
    # The clerk's page says it is with the colleague and offers to take it back.
    page = client.get(f"/tasks/{town['id']}").get_data(as_text=True)
    assert 'id="recall-delegation"' in page and 'id="task-form"' not in page and 'id="transfer"' not in page
    window = make_client(services)
    login(window, "qingshui_window")
    assert ">委派<" in window.get(f"/inbox?tab=mine&q={town['case_number']}").get_data(as_text=True)
    page = window.get(f"/tasks/{town['id']}").get_data(as_text=True)
    assert "请入户核实收入" in page and 'id="task-form"' in page and 'id="transfer"' not in page
    data = form_data(client, services, "qingshui_window", town["id"]) | {"investigators": "王建国、刘秀兰"}
    answered = post(window, f"/tasks/{town['id']}", as_posted(data))
    assert answered.status_code == 302
    assert "已办理并交回委派人" in text(window.get("/inbox"))
    # Back with the clerk: the colleague's answer fills the form, and submitting it moves the case on.
    page = client.get(f"/tasks/{town['id']}").get_data(as_text=True)
    assert "已按委派办理并交回" in page and "表单中已填入其办理内容" in page
    assert 'value="王建国、刘秀兰"' in page
    assert post(client, f"/tasks/{town['id']}", as_posted(data)).status_code == 302
    case = client.get(f"/api/v1/cases/{town['case_id']}", headers=auth(services, "qingshui_civil")).json
    assert [task["step"] for task in case["tasks"]] == ["乡镇初审"]


def test_the_delegated_list_in_the_inbox_and_the_api(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "闻人玉兰")
    number, civil = town["case_number"], auth(services, "qingshui_civil")
    handed = client.post(f"/api/v1/tasks/{town['id']}/delegate", headers=civil,
                         json={"user": "qingshui_window", "reason": "请协助入户核实家庭收入"})
    assert handed.status_code == 200
    # The API's scope=delegated: the task with the colleague as its holder, and when it was delegated.
    listed = client.get(f"/api/v1/tasks?scope=delegated&q={number}", headers=civil)
    assert listed.status_code == 200 and listed.json["scope"] == "delegated"
    [task] = listed.json["tasks"]
    assert (task["id"], task["assignee"]["username"], task["arrival"], task["arrival_note"], task["step"]) == (
        town["id"], "qingshui_window", "delegated", "请协助入户核实家庭收入", "家庭经济状况调查")
    assert task["delegated_at"].endswith("+08:00") and task["promised_date"] == town["promised_date"]
    window = auth(services, "qingshui_window")
    assert client.get(f"/api/v1/tasks?scope=delegated&q={number}", headers=window).json["tasks"] == []
    assert "delegated_at" not in client.get(f"/api/v1/tasks?scope=mine&q={number}", headers=window).json["tasks"][0]
    refused = client.get("/api/v1/tasks?scope=delegated_to_me", headers=civil)
    assert refused.status_code == 400 and "delegated（委派中" in refused.json["error"]
    # The inbox's tab, counted as the others are, with the colleague, the time and the way to take it back.
    login(client, "qingshui_civil")
    everything = client.get("/api/v1/tasks?scope=delegated&limit=500", headers=civil).json["tasks"]
    tabs = lxml.html.fromstring(client.get("/inbox").get_data(as_text=True))
    [tab] = tabs.xpath('//a[@id="tab-delegated"]')
    assert tab.text_content().split() == ["委派中", str(len(everything))]
    page = client.get(f"/inbox?tab=delegated&q={number}")
    assert page.status_code == 200
    shown = lxml.html.fromstring(page.get_data(as_text=True))
    assert shown.xpath('//a[@id="tab-delegated"]/@aria-selected') == ["true"]
    assert [cell.text_content().split()[0] for cell in shown.xpath('//table[@id="inbox-table"]/thead//th')] == [
        "办件编号", "事项", "申请人", "身份证号码", "村（社区）", "环节", "受委派人", "承诺办结", "警示", "操作"]
    [row] = shown.xpath(f'//tr[@data-task-id="{town["id"]}"]')
    with services.db.read() as session:
        name = session.scalar(select(User.display_name).where(User.username == "qingshui_window"))
    [colleague] = row.xpath("td")[6].xpath('self::td[@class="delegate"]')
    assert (colleague.text, colleague.get("title")) == (name, "请协助入户核实家庭收入")
    assert colleague.xpath("div")[0].text == task["delegated_at"][:16].replace("T", " ")
    assert "代" + name not in row.text_content()
    [link] = row.xpath('.//a[contains(@class, "btn")]')
    assert (link.get("href"), link.text_content()) == (f"/tasks/{town['id']}", "查看 / 收回委派")
    assert not row.xpath(".//form")
    for query in ("sort=arrived&dir=desc", "sort=card", "card=red"):
        assert client.get(f"/inbox?tab=delegated&q={number}&{query}").status_code == 200
    # Taken back from the task page the link opens: gone from the list, the clerk's own task again.
    assert 'id="recall-delegation"' in client.get(f"/tasks/{town['id']}").get_data(as_text=True)
    assert post(client, f"/tasks/{town['id']}/delegate/recall").status_code == 302
    assert f'data-task-id="{town["id"]}"' not in client.get(f"/inbox?tab=delegated&q={number}").get_data(as_text=True)
    assert f'data-task-id="{town["id"]}"' in client.get(f"/inbox?tab=mine&q={number}").get_data(as_text=True)
