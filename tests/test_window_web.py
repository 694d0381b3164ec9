"""代办 and 首问负责 over HTTP: the JSON API on both databases, the case page, the inbox and /enquiries on SQLite."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import Case, OrgUnit
from engine.services import Services
from tests.test_api import auth, make_client, start_dibao
from tests.test_engine import drive, start
from tests.test_webui import login, post, text
from webui import create_app

ENTRUST = {"kind": "entrusted", "principal": "周国强", "relation": "侄子", "matter": "代办低保申请并领取结果",
           "phone": "13688886666"}
DONGPO = "510123101201"


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


@pytest.fixture(scope="module")
def app(sqlite_services: Services) -> Flask:
    return create_app(services=sqlite_services, config={"TESTING": True})


def test_proxy_over_the_api(client: FlaskClient, services: Services) -> None:
    case = start_dibao(client, services)
    url, agent = f"/api/v1/cases/{case['id']}/proxy", auth(services, "dongpo_agent")
    shown = client.get(url, headers=agent).json
    assert shown["first_contact"]["username"] == "dongpo_agent"
    assert (shown["steps"], shown["allowed"]) == ([], ["entrusted"])
    refused = client.post(url, headers=agent, json={"kind": "handed_over", "office": "清水镇便民服务中心",
                                                    "method": "代办员送达"})
    assert refused.status_code == 409 and refused.json["error"] == "请先登记申请人的委托，再登记传递"
    assert client.post(url, headers=auth(services, "qingshui_window"), json=ENTRUST).status_code == 403
    bad = client.post(url, headers=agent, json={"kind": "entrusted", "principal": "周国强"})
    assert bad.status_code == 422 and set(bad.json["fields"]) == {"relation", "matter", "phone"}
    assert client.post(url, headers=agent, json={"kind": "delivered"}).status_code == 422
    made = client.post(url, headers=agent, json=ENTRUST)
    assert made.status_code == 201
    assert made.json["details"]["phone"] == "13688886666" and made.json["name"] == "委托"
    # Whoever does not handle the case sees the principal's number masked, as the applicant's.
    county = client.get(url, headers=auth(services, "supervisor")).json
    assert county["steps"][0]["details"]["phone"] == "136****6666" and county["allowed"] == []
    with services.db.read() as session:
        found = session.get(Case, case["id"])
    drive(services, found)
    awaiting = client.get("/api/v1/proxy/awaiting-return", headers=agent).json["cases"]
    assert case["id"] in [row["id"] for row in awaiting]
    returned = client.post(url, headers=agent, json={"kind": "returned", "handed_back": "低保审批表、低保证"})
    assert returned.status_code == 201
    assert client.post(url, headers=agent, json={"kind": "received", "signed_by": "周国强"}).status_code == 422
    assert client.post(url, headers=agent, json={"kind": "received"}).status_code == 201
    assert [step["kind"] for step in client.get(url, headers=agent).json["steps"]] == \
        ["entrusted", "returned", "received"]
    assert case["id"] not in [row["id"] for row in
                              client.get("/api/v1/proxy/awaiting-return", headers=agent).json["cases"]]
    history = client.get(f"/api/v1/cases/{case['id']}/events", headers=agent).json
    kinds = [event["kind"] for event in history["events"]]
    assert kinds[-1] == "proxy_received" and "proxy_entrusted" in kinds and history["chain_intact"]


def test_enquiries_over_the_api(client: FlaskClient, services: Services) -> None:
    agent, civil = auth(services, "dongpo_agent"), auth(services, "qingshui_civil")
    made = client.post("/api/v1/enquiries", headers=agent, json={
        "person_name": "钱玉珍", "contact": "0838-6221234", "village": DONGPO,
        "matter": "残疾人两项补贴停发了，想问原因和重新申请需要的材料"})
    assert made.status_code == 201 and made.json["owner"]["username"] == "dongpo_agent"
    number = made.json["id"]
    assert client.post("/api/v1/enquiries", headers=agent, json={"person_name": "钱玉珍"}).status_code == 422
    with services.db.read() as session:
        town = session.scalar(select(OrgUnit.id).where(OrgUnit.name == "清水镇"))
    moved = client.post(f"/api/v1/enquiries/{number}/transfer", headers=agent,
                        json={"role_code": "town_civil_affairs", "org_id": town, "note": "补贴由镇民政办审核"})
    assert moved.status_code == 200 and moved.json["owner"] is None and moved.json["status"] == "transferred"
    assert number in [e["id"] for e in client.get("/api/v1/enquiries?scope=post", headers=civil).json["enquiries"]]
    assert client.post(f"/api/v1/enquiries/{number}/answer", headers=agent,
                       json={"answer_method": "电话解答", "answer": "x"}).status_code == 409
    assert client.post(f"/api/v1/enquiries/{number}/take", headers=civil).json["owner"]["username"] == "qingshui_civil"
    done = client.post(f"/api/v1/enquiries/{number}/answer", headers=civil,
                       json={"answer_method": "电话解答", "answer": "年度复核未提交，带残疾证到镇民政办重新申请"})
    assert done.json["status"] == "answered" and [s["action"] for s in done.json["trail"]] == \
        ["登记", "转办", "接办", "答复"]
    # Another town's clerk does not see it; the county sees it with the number masked.
    assert client.get(f"/api/v1/enquiries/{number}", headers=auth(services, "shiqiao_window")).status_code == 404
    assert client.get(f"/api/v1/enquiries/{number}", headers=auth(services, "county_civil")).json["contact"] \
        == "0838-***1234"


def test_case_page_and_inbox_for_the_agent(app: Flask, sqlite_services: Services) -> None:
    case = start(sqlite_services, name="孙桂英")
    client = app.test_client()
    login(client, "dongpo_agent")
    page = text(client.get(f"/cases/{case.id}"))
    assert "首问责任人" in page and "尚未登记代办" in page
    answer = post(client, f"/cases/{case.id}/proxy/handed_over", {"office": "清水镇", "method": "送达"},
                  follow_redirects=True)
    assert "传递未登记：请先登记申请人的委托，再登记传递" in text(answer)
    answer = post(client, f"/cases/{case.id}/proxy/entrusted", {"matter": "代办低保", "phone": "13512345678",
                                                                  "at": "2026-03-02T08:30"}, follow_redirects=True)
    assert "已登记委托" in text(answer) and "2026-03-02 08:30" in text(answer)
    drive(sqlite_services, case)
    inbox = text(client.get("/inbox"))
    assert "待回交" in inbox and case.case_number in inbox.split("待回交", 1)[1]
    post(client, f"/cases/{case.id}/proxy/returned", {"handed_back": "低保证"})
    assert case.case_number not in text(client.get("/inbox")).split("待回交", 1)[1]
    # Someone of the town sees the record but no form to fill.
    other = app.test_client()
    login(other, "qingshui_window")
    page = other.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "proxy-timeline" in page and "proxy-form-" not in page


def test_enquiries_pages(app: Flask) -> None:
    client = app.test_client()
    login(client, "dongpo_agent")
    refused = post(client, "/enquiries", {"person_name": "", "contact": "1", "village": DONGPO, "matter": ""})
    assert refused.status_code == 422 and "请填写来访人姓名" in text(refused)
    made = post(client, "/enquiries", {"person_name": "吴德胜", "contact": "13990001234", "village": DONGPO,
                                       "matter": "想问新农合大病报销比例和异地就医备案怎么办"})
    number = int(made.location.rsplit("/", 1)[1])
    assert "吴德胜" in text(client.get("/enquiries?scope=mine"))
    page = client.get(f"/enquiries/{number}").get_data(as_text=True)
    value = next(part.split('"')[0] for part in page.split('value="')[1:] if part.startswith("town_window@"))
    post(client, f"/enquiries/{number}/transfer", {"post": value, "note": "由镇窗口答复"})
    window = app.test_client()
    login(window, "qingshui_window")
    assert "吴德胜" in text(window.get("/inbox")).split("转来待接办", 1)[1]
    taken = post(window, f"/enquiries/{number}/take", follow_redirects=True)
    assert "已接办，现由您负责" in text(taken)
    answered = post(window, f"/enquiries/{number}/answer",
                    {"answer_method": "电话解答", "answer": "住院费用按县医保局规定比例报销，异地就医先在手机上备案"},
                    follow_redirects=True)
    assert "已答复" in text(answered)
    # The first receiver still finds it in the register of their place, answered.
    assert "已答复" in text(client.get("/enquiries?scope=place")).split("吴德胜", 1)[1][:200]
