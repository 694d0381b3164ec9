"""The public pages over HTTP: no login, no staff navigation, nothing personal of a real case on any of them, the
query answers 429 with Retry-After to a guessing address; bookings reach the staff who serve their place."""

from __future__ import annotations

from datetime import date

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.models import Appointment
from engine.people.signin import ADDRESS
from engine.services import Services
from engine.window import query
from tests.conftest import user_id
from tests.test_api import auth, make_client
from tests.test_engine import start
from tests.test_public_window import fresh_address
from tests.test_webui import app, client, login, post, text  # noqa: F401  (fixtures)

PUBLIC_PAGES = ["/guide", "/guide/MZ-DIBAO", "/guide/MZ-TEKUN", "/guide/ZR-ZHAIJIDI", "/query", "/appointments/new"]


def ask(client: FlaskClient, number: str, digits: str, address: str) -> object:  # noqa: F811
    return post(client, "/query", {"case_number": number, "id_tail": digits}, environ_base={"REMOTE_ADDR": address})


def test_public_pages_need_no_login_and_show_no_staff_navigation(client: FlaskClient) -> None:  # noqa: F811
    for url in PUBLIC_PAGES:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert 'id="staff-login"' in html and "工作人员登录" in html
        assert 'class="mainnav"' not in html and "受理新申请" not in html
    diagram = client.get("/guide/MZ-DIBAO/diagram.bpmn")
    assert diagram.status_code == 200 and diagram.mimetype == "application/xml"
    assert "村委会" in diagram.get_data(as_text=True)  # lanes carry the roles' names, not their codes
    assert client.get("/guide/NO-SUCH-ITEM").status_code == 404


def test_the_guide_lists_items_by_category_and_tells_where_to_apply(client: FlaskClient) -> None:  # noqa: F811
    index = text(client.get("/guide"))
    assert index.index("民政") < index.index("农村居民最低生活保障") < index.index("国土")
    assert "农村居民住宅用地(宅基地)审批" in index and "30 个工作日" in index
    item = text(client.get("/guide/ZR-ZHAIJIDI"))
    for expected in ("申请条件", "申请材料", "原宅基地证（有原宅基地的）", "办理流程", "设立依据", "承诺时限",
                     "法定时限", "收费", "免费", "清水镇便民服务中心", "青山县清水镇正街126号镇人民政府一楼",
                     "028-85550211", "青山县政务服务中心", "按机关作息时间办公", "打印"):
        assert expected in item, expected


def test_an_administrator_changes_a_windows_address_and_the_guide_shows_it(
        client: FlaskClient, sqlite_services: Services) -> None:  # noqa: F811
    login(client, "admin")
    changed = post(client, "/people/places", {"action": "contact", "code": "510123102000",
                                              "address": "青山县石桥镇新街路47号便民服务大厅", "phone": "028-85550323"})
    assert changed.status_code == 302
    refused = post(client, "/people/places", {"action": "contact", "code": "510123102000", "address": "",
                                              "phone": "请拨打<script>"})
    assert refused.status_code == 422 and "电话只能含数字" in text(refused)
    guide = text(client.get("/guide/MZ-DIBAO"))
    assert "青山县石桥镇新街路47号便民服务大厅" in guide and "028-85550323" in guide


def test_the_query_shows_progress_and_no_page_shows_anything_personal(
        client: FlaskClient, sqlite_services: Services) -> None:  # noqa: F811
    case = start(sqlite_services, name="欧阳晓雯")
    personal = [case.applicant_name, case.applicant_id_number, case.applicant_phone]
    found = ask(client, case.case_number, case.applicant_id_number[-4:], fresh_address())
    assert found.status_code == 200
    result = text(found)
    for expected in (case.case_number, "农村居民最低生活保障", "办理中", "村委会协助并提出意见", "2026-03-02",
                     case.promised_date.isoformat()):
        assert expected in result, expected
    html = found.get_data(as_text=True)
    section = html[html.index('id="query-result"'):html.index("</section>", html.index('id="query-result"'))]
    assert "东坡村" not in section and "household" not in section
    pages = [found] + [client.get(url) for url in PUBLIC_PAGES]
    for page in pages:
        body = page.get_data(as_text=True)
        for value in personal:
            assert value not in body
    wrong = ask(client, case.case_number, "000Z", fresh_address())
    unknown = ask(client, "MZ-DIBAO-20260302-9999", case.applicant_id_number[-4:], fresh_address())
    assert wrong.status_code == unknown.status_code == 404
    assert query.NOT_FOUND in text(wrong) and query.NOT_FOUND in text(unknown)
    # The form keeps the number typed, never the ID digits.
    assert f'value="{case.case_number}"' in wrong.get_data(as_text=True)


def test_the_query_answers_429_with_retry_after_to_a_guessing_address(
        client: FlaskClient, sqlite_services: Services) -> None:  # noqa: F811
    case = start(sqlite_services)
    guesser = fresh_address()
    for digits in range(ADDRESS.free + 1):
        assert ask(client, case.case_number, f"{digits:03d}Z", guesser).status_code == 404
    throttled = ask(client, case.case_number, case.applicant_id_number[-4:], guesser)
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert "查询失败次数较多" in text(throttled) and "秒后再试" in text(throttled)
    assert ask(client, case.case_number, case.applicant_id_number[-4:], fresh_address()).status_code == 200


def test_a_citizen_books_and_the_staff_of_that_place_see_and_mark_it(
        app: Flask, sqlite_services: Services) -> None:  # noqa: F811
    citizen = app.test_client()
    booked = post(citizen, "/appointments/new", {
        "kind": "home", "item": "MZ-TEKUN", "village": "510123101201", "town": "", "day": "2026-03-05",
        "slot": "morning", "name": "慕容秀英", "phone": "13881234567", "note": "独居老人，行动不便，请上门代办"})
    assert booked.status_code == 200 and "预约成功" in text(booked) and "东坡村" in text(booked)
    assert "慕容秀英" not in booked.get_data(as_text=True) and "13881234567" not in booked.get_data(as_text=True)
    refused = post(citizen, "/appointments/new", {"kind": "window", "item": "MZ-TEKUN", "town": "", "day": "2026-03-07",
                                                  "slot": "morning", "name": "慕", "phone": "1"})
    assert refused.status_code == 422
    assert "预约日期须为工作日" in text(refused) and "请选择办理窗口所在的乡镇" in text(refused)
    for url in PUBLIC_PAGES:
        assert "慕容秀英" not in citizen.get(url).get_data(as_text=True)
    assert citizen.get("/appointments?day=2026-03-05").status_code == 302  # the day list is for staff

    agent = app.test_client()
    login(agent, "dongpo_agent")
    inbox = text(agent.get("/inbox"))
    assert "待办预约" in inbox and "慕容秀英" in inbox and "13881234567" in inbox and "上门服务" in inbox
    other = app.test_client()
    login(other, "shiqiao_window")
    assert "慕容秀英" not in text(other.get("/appointments?day=2026-03-05"))

    with sqlite_services.db.read() as session:
        booking = session.scalar(select(Appointment).where(Appointment.name == "慕容秀英"))
    assert booking is not None and booking.day == date(2026, 3, 5)
    day = text(agent.get("/appointments?day=2026-03-05"))
    assert "慕容秀英" in day and "独居老人" in day
    marked = post(agent, f"/appointments/{booking.id}/status", {"status": "done"})
    assert marked.status_code == 302
    assert "已办理" in text(agent.get("/appointments?day=2026-03-05"))
    assert "慕容秀英" not in text(agent.get("/inbox"))
    again = post(agent, f"/appointments/{booking.id}/status", {"status": "no_show"})
    assert again.status_code == 409


def test_a_clerk_books_for_a_caller_and_the_booking_says_who(app: Flask, sqlite_services: Services) -> None:  # noqa: F811
    clerk = app.test_client()
    login(clerk, "qingshui_window")
    assert 'id="new-appointment"' in clerk.get("/appointments?day=2026-03-09").get_data(as_text=True)
    booked = post(clerk, "/appointments/new", {
        "kind": "window", "item": "ZR-ZHAIJIDI", "town": "510123101000", "day": "2026-03-09", "slot": "afternoon",
        "name": "诸葛建国", "phone": "0838-6251234", "note": "白天在外务工，下午五点后才能到"})
    assert booked.status_code == 200 and "青山县清水镇正街126号镇人民政府一楼" in text(booked)
    with sqlite_services.db.read() as session:
        booking = session.scalar(select(Appointment).where(Appointment.name == "诸葛建国"))
    assert booking is not None and booking.created_by_id == user_id(sqlite_services, "qingshui_window")
    assert booking.phone == "08386251234"
    day = text(clerk.get("/appointments?day=2026-03-09"))
    assert "诸葛建国" in day and "到窗口办理" in day and "农村居民住宅用地(宅基地)审批" in day


def test_appointments_over_the_api(sqlite_services: Services) -> None:
    api = make_client(sqlite_services)
    agent, other = auth(sqlite_services, "hongyan_agent"), auth(sqlite_services, "liulin_agent")
    booked = api.post("/api/v1/appointments", headers=agent, json={
        "kind": "home", "item": "MZ-DIBAO", "place": "510123102202", "day": "2026-03-10", "slot": "morning",
        "name": "东方红梅", "phone": "13700001111", "note": "家中有重病人，不便出门"})
    assert booked.status_code == 201, booked.json
    booking = booked.json
    assert booking["place"] == {"code": "510123102202", "name": "红岩村", "level": "village"}
    assert booking["status"] == "booked" and booking["item"]["name"] == "农村居民最低生活保障"
    listed = api.get("/api/v1/appointments?day=2026-03-10", headers=agent).json
    assert [b["name"] for b in listed["appointments"]] == ["东方红梅"]
    assert api.get("/api/v1/appointments?day=2026-03-10", headers=other).json["appointments"] == []
    assert api.post(f"/api/v1/appointments/{booking['id']}/status", headers=other,
                    json={"status": "done"}).status_code == 404
    done = api.post(f"/api/v1/appointments/{booking['id']}/status", headers=agent, json={"status": "no_show"})
    assert done.status_code == 200 and done.json["status"] == "no_show"
    refused = api.post("/api/v1/appointments", headers=agent, json={"kind": "home", "day": 20260310, "name": 1})
    assert refused.status_code == 422 and set(refused.json["fields"]) == {"day", "name"}
    assert api.get("/api/v1/appointments?day=tomorrow", headers=agent).status_code == 400
