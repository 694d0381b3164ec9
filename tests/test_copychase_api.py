"""抄送 and 催办 through the JSON API and the pages (Flask's test client), on both databases: copying, 抄送我的 and
reading, the read-only case page, chasing, the desk's count and the refusals, which change nothing."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import CaseCopy, Chase, OrgUnit
from engine.services import Services
from tests.procedures import applicant
from tests.test_api import auth, complete, make_client, post_task_for, start_dibao
from tests.test_engine import DONGPO
from tests.test_webui import login, post

COUNTY = "510123"


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return make_client(services)


def org_id(svc: Services, code: str) -> int:
    with svc.db.read() as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.code == code))


def at_town(client: FlaskClient, services: Services, name: str) -> dict:
    """A 低保 case whose village opinion is in; its town investigation task, unclaimed."""
    case = start_dibao(client, services, person=applicant(DONGPO) | {"name": name})
    village = post_task_for(client, services, "dongpo_committee", case["id"])
    complete(client, services, "dongpo_committee", village["id"])
    return post_task_for(client, services, "qingshui_civil", case["id"])


def rows(svc: Services, model: type, case_id: int) -> int:
    with svc.db.read() as session:
        return len(session.scalars(select(model).where(model.case_id == case_id)).all())


def test_copy_list_and_read_through_the_api(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "接口抄送")
    civil, county = auth(services, "qingshui_civil"), auth(services, "county_civil")
    wanted = {"posts": [{"role": "county_civil_affairs", "org_id": org_id(services, COUNTY)}],
              "note": "申请人反映曾在县城务工，请县民政局协助核对社保缴纳记录"}
    # Refusals first, each changing nothing: not this post's task, a post of another town, a malformed body.
    assert client.post(f"/api/v1/tasks/{town['id']}/copy", headers=county, json=wanted).status_code == 403
    other = {"posts": [{"role": "town_leader", "org_id": org_id(services, "510123102000")}]}
    refused = client.post(f"/api/v1/tasks/{town['id']}/copy", headers=civil, json=other)
    assert refused.status_code == 403 and "不在本办件的辖区内" in refused.json["error"]
    unknown = client.post(f"/api/v1/tasks/{town['id']}/copy", headers=civil,
                          json={"posts": [{"role": "town_mayor", "org_id": org_id(services, COUNTY)}]})
    assert unknown.status_code == 404 and "岗位不存在" in unknown.json["error"]
    empty = client.post(f"/api/v1/tasks/{town['id']}/copy", headers=civil, json={"posts": []})
    assert empty.status_code == 422 and empty.json["fields"] == {"posts": ["请选择要抄送的岗位"]}
    assert rows(services, CaseCopy, town["case_id"]) == 0
    made = client.post(f"/api/v1/tasks/{town['id']}/copy", headers=civil, json=wanted)
    assert made.status_code == 201
    [copied] = made.json["copies"]
    assert (copied["step"], copied["post"]["role"], copied["note"]) == ("家庭经济状况调查", "county_civil_affairs",
                                                                       wanted["note"])
    again = client.post(f"/api/v1/tasks/{town['id']}/copy", headers=civil, json=wanted)
    assert again.status_code == 409 and "无需重复抄送" in again.json["error"]
    # 抄送我的, narrowed to this case: unread, with the applicant's ID number masked.
    listed = client.get("/api/v1/copies?limit=500", headers=county)
    assert listed.status_code == 200 and listed.json["unread"] >= 1
    [mine] = [row for row in listed.json["copies"] if row["id"] == copied["id"]]
    assert mine["read_at"] is None and mine["copied_by"]["username"] == "qingshui_civil"
    assert "*" in mine["applicant_id_number"] and mine["applicant_name"] == "接口抄送"
    # Another post does not see it, and may not mark it.
    assert copied["id"] not in [row["id"] for row in client.get("/api/v1/copies?limit=500", headers=civil).json[
        "copies"]]
    assert client.post(f"/api/v1/copies/{copied['id']}/read", headers=civil).status_code == 404
    read = client.post(f"/api/v1/copies/{copied['id']}/read", headers=county)
    assert read.status_code == 200 and read.json["read_at"]
    assert client.get("/api/v1/copies?limit=500", headers=county).json["unread"] == listed.json["unread"] - 1
    assert client.get("/api/v1/copies?offset=x", headers=county).status_code == 400
    events = client.get(f"/api/v1/cases/{town['case_id']}/events", headers=civil).json
    kinds = [event["kind"] for event in (events["events"] if isinstance(events, dict) else events)]
    assert kinds.count("case_copied") == 1


def test_chase_through_the_api_and_the_desk(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "接口催办")
    supervisor = auth(services, "supervisor")
    before = client.get("/api/v1/supervision", headers=supervisor).json["chases"]
    for name in ("qingshui_window", "hewan_agent", "shiqiao_leader"):
        refused = client.post(f"/api/v1/tasks/{town['id']}/chase", headers=auth(services, name), json={})
        assert refused.status_code == 403 and "您不能催办该任务" in refused.json["error"]
    chased = client.post(f"/api/v1/tasks/{town['id']}/chase", headers=supervisor,
                         json={"note": "已超过乡镇调查的合理时间，请尽快入户"})
    assert chased.status_code == 201 and chased.json["handler"] is None
    twice = client.post(f"/api/v1/tasks/{town['id']}/chase", headers=supervisor, json={})
    assert twice.status_code == 409 and "尚未办理" in twice.json["error"]
    assert rows(services, Chase, town["case_id"]) == 1
    # The handlers' notifications name it.
    told = client.get("/api/v1/notifications", headers=auth(services, "qingshui_civil_b")).json["notifications"]
    assert any(row["kind"] == "chase" and row["case_id"] == town["case_id"] for row in told)
    after = client.get("/api/v1/supervision", headers=supervisor).json["chases"]

    def unclaimed(lines: list[dict]) -> int:
        return sum(line["chases"] for line in lines
                   if line["post"]["role"] == "town_civil_affairs" and line["handler"] is None)

    assert unclaimed(after) == unclaimed(before) + 1
    complete(client, services, "qingshui_civil", town["id"])
    done = client.post(f"/api/v1/tasks/{town['id']}/chase", headers=supervisor, json={})
    assert done.status_code == 409 and "无需催办" in done.json["error"]


def test_copy_and_chase_on_the_pages(client: FlaskClient, services: Services) -> None:
    town = at_town(client, services, "页面抄送")
    login(client, "qingshui_civil")
    page = client.get(f"/tasks/{town['id']}").get_data(as_text=True)
    assert 'id="copy"' in page and "青山县 县残联" in page
    county = f"county_disabled_federation@{org_id(services, COUNTY)}"
    refused = post(client, f"/tasks/{town['id']}/copy", {"note": "请关注"})
    assert refused.status_code == 422 and "请选择要抄送的岗位" in refused.get_data(as_text=True)
    done = post(client, f"/tasks/{town['id']}/copy", {"post": [county], "note": "家中有残疾人，请县残联关注"})
    assert done.status_code == 302
    reader = make_client(services)
    login(reader, "county_disabled")
    inbox = reader.get("/inbox").get_data(as_text=True)
    assert 'id="tab-copies"' in inbox
    listed = reader.get("/copies").get_data(as_text=True)
    assert "页面抄送" in listed and "家中有残疾人，请县残联关注" in listed
    with services.db.read() as session:
        copy_id = session.scalar(select(CaseCopy.id).where(CaseCopy.case_id == town["case_id"]))
    opened = reader.get(f"/copies/{copy_id}").get_data(as_text=True)
    assert "抄送给本岗位，仅供查阅" in opened and 'id="case-copies"' in opened
    assert "chase-pop" not in opened and ">认领<" not in opened
    assert client.get(f"/copies/{copy_id}").status_code == 404  # another post's copy
    # 催办 from the case page: offered to the supervisor, not to the clerk of the post.
    assert "chase-pop" not in client.get(f"/cases/{town['case_id']}").get_data(as_text=True)
    supervisor = make_client(services)
    login(supervisor, "supervisor")
    assert f'id="chase-{town["id"]}"' in supervisor.get(f"/cases/{town['case_id']}").get_data(as_text=True)
    chased = post(supervisor, f"/tasks/{town['id']}/chase", {"note": "请本周内完成入户调查"})
    assert chased.status_code == 302
    shown = supervisor.get(f"/cases/{town['case_id']}").get_data(as_text=True)
    assert 'id="case-chases"' in shown and "请本周内完成入户调查" in shown
    twice = post(supervisor, f"/tasks/{town['id']}/chase", {"note": ""})
    assert twice.status_code == 409 and "尚未办理" in twice.get_data(as_text=True)
    desk = supervisor.get("/supervision").get_data(as_text=True)
    assert 'id="desk-chases-table"' in desk
