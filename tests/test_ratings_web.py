"""Attachments, ratings, complaints and follow-ups through the JSON API and the pages (Flask test client)."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.people.signin import ADDRESS
from engine.services import Services
from tests.conftest import make_services
from tests.test_api import auth
from tests.test_attachments import JPEG, PDF
from tests.test_engine import drive, start
from tests.test_webui import csrf, login, post, text
from webui import create_app

SLOT = "户口簿及家庭成员身份证复印件"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("ratings-web")
    base = make_services("sqlite", tmp, "bianmin_ratings_web")
    settings = dataclasses.replace(base.settings, attachments_dir=tmp / "attachments",
                                   attachment_max_bytes=64 * 1024)
    yield Services(settings=settings, db=base.db, cases=base.cases)
    base.db.dispose()


@pytest.fixture(scope="module")
def app(svc: Services) -> Flask:
    return create_app(services=svc, config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_api_uploads_lists_and_downloads_a_scan(svc: Services, client: FlaskClient) -> None:
    case = start(svc)
    agent = auth(svc, "dongpo_agent")
    sent = client.post(f"/api/v1/cases/{case.id}/attachments", headers=agent,
                       data={"slot": SLOT, "file": (io.BytesIO(PDF), "户口簿.jpg")})
    assert sent.status_code == 201, sent.json
    body = sent.json
    assert body["media_type"] == "application/pdf" and body["version"] == 1 and len(body["sha256"]) == 64
    again = client.post(f"/api/v1/cases/{case.id}/attachments", headers=agent,
                        data={"slot": SLOT, "file": (io.BytesIO(JPEG), "户口簿-重扫.jpg")})
    assert again.json["version"] == 2
    listed = client.get(f"/api/v1/cases/{case.id}/attachments", headers=auth(svc, "supervisor")).json
    assert [row["version"] for row in listed["attachments"]] == [2, 1]
    got = client.get(body["url"], headers=auth(svc, "supervisor"))
    assert got.status_code == 200 and got.data == PDF and got.mimetype == "application/pdf"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(body["url"], headers=auth(svc, "liulin_agent")).status_code == 403


def test_api_refuses_wrong_content_and_oversize_with_clear_messages(svc: Services, client: FlaskClient) -> None:
    case = start(svc)
    agent = auth(svc, "dongpo_agent")
    wrong = client.post(f"/api/v1/cases/{case.id}/attachments", headers=agent,
                        data={"slot": SLOT, "file": (io.BytesIO(b"GIF89a...."), "scan.pdf")})
    assert wrong.status_code == 422 and "PDF、JPEG 或 PNG" in wrong.json["error"]
    big = client.post(f"/api/v1/cases/{case.id}/attachments", headers=agent,
                      data={"slot": SLOT, "file": (io.BytesIO(PDF * 20), "scan.pdf")})
    assert big.status_code == 422 and "0.0625 MB" in big.json["error"]
    outsider = client.post(f"/api/v1/cases/{case.id}/attachments", headers=auth(svc, "supervisor"),
                           data={"slot": SLOT, "file": (io.BytesIO(PDF), "scan.pdf")})
    assert outsider.status_code == 403


def test_api_rating_complaint_and_follow_up_answer(svc: Services, client: FlaskClient) -> None:
    case, _ = drive(svc, start(svc))
    window = auth(svc, "qingshui_window")
    rated = client.post(f"/api/v1/cases/{case.id}/rating", headers=window,
                        json={"level": "非常不满意", "comment": "等了一个多月才办结"})
    assert rated.status_code == 201, rated.json
    assert rated.json["rating"]["level"] == "非常不满意" and len(rated.json["follow_ups"]) == 1
    twice = client.post(f"/api/v1/cases/{case.id}/rating", headers=window, json={"level": "满意"})
    assert twice.status_code == 409 and "每件只能评价一次" in twice.json["error"]
    assert client.post(f"/api/v1/cases/{case.id}/rating", headers=window,
                       json={"level": "good"}).status_code == 422
    complained = client.post(f"/api/v1/cases/{case.id}/complaints", headers=window,
                             json={"text": "窗口人员让我跑了三趟"})
    assert complained.status_code == 201 and len(complained.json["follow_ups"]) == 2

    assert client.get("/api/v1/followups", headers=window).status_code == 403
    listed = client.get("/api/v1/followups", headers=auth(svc, "supervisor")).json["follow_ups"]
    mine = [row for row in listed if row["case_id"] == case.id]
    assert {row["reason"] for row in mine} == {"rating", "complaint"}
    follow_up = mine[0]["id"]
    assert client.post(f"/api/v1/followups/{follow_up}/answer", headers=window,
                       json={"answer": "已整改"}).status_code == 403
    answered = client.post(f"/api/v1/followups/{follow_up}/answer", headers=auth(svc, "supervisor"),
                           json={"answer": "已回访申请人并致歉，窗口人员已批评教育"})
    assert answered.status_code == 200 and answered.json["status"] == "answered"
    assert client.post(f"/api/v1/followups/{follow_up}/answer", headers=auth(svc, "supervisor"),
                       json={"answer": "again"}).status_code == 409


def test_the_public_form_rates_by_number_and_last_four_without_login(svc: Services, client: FlaskClient) -> None:
    case, _ = drive(svc, start(svc))
    wrong = post(client, "/query/rate", {"case_number": case.case_number, "id_last4": "0000", "level": "满意"})
    assert wrong.status_code == 422 and "请核对办件编号和身份证号码后四位" in text(wrong)
    done = post(client, "/query/rate", {"case_number": case.case_number,
                                        "id_last4": case.applicant_id_number[-4:], "level": "不满意",
                                        "comment": "补正材料说了两次才说清楚"})
    assert done.status_code == 200 and "感谢您的评价" in text(done)
    again = post(client, "/query/rate", {"case_number": case.case_number,
                                         "id_last4": case.applicant_id_number[-4:], "level": "满意"})
    assert again.status_code == 409 and "每件只能评价一次" in text(again)
    complained = post(client, "/query/complain", {"case_number": case.case_number,
                                                  "id_last4": case.applicant_id_number[-4:], "text": "态度不好"})
    assert complained.status_code == 200 and "5 个工作日内" in text(complained)
    # Without the page's token the form is refused like every other.
    assert client.post("/query/rate", data={"case_number": case.case_number}).status_code == 400


def test_the_public_forms_share_the_querys_limit_per_address(svc: Services, client: FlaskClient) -> None:
    case, _ = drive(svc, start(svc))
    right = {"case_number": case.case_number, "id_last4": case.applicant_id_number[-4:], "level": "满意"}
    guesser = {"REMOTE_ADDR": "192.0.2.77"}
    for digits in range(ADDRESS.free + 1):
        post(client, "/query/complain", {"case_number": case.case_number, "id_last4": f"{digits:03d}Z",
                                         "text": "猜号码"}, environ_base=guesser)
    throttled = post(client, "/query/rate", right, environ_base=guesser)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert "秒后再试" in text(throttled)
    # The applicant at another address is not held up by the guesser.
    assert post(client, "/query/rate", right, environ_base={"REMOTE_ADDR": "192.0.2.78"}).status_code == 200


def test_case_page_and_follow_up_page(svc: Services, client: FlaskClient) -> None:
    case, _ = drive(svc, start(svc))
    login(client, "dongpo_agent")
    page = text(client.get(f"/cases/{case.id}"))
    assert "材料扫描件" in page and "服务评价与投诉" in page and "提交评价" in page
    rated = post(client, f"/cases/{case.id}/rating", {"level": "不满意", "comment": "办理时间太长"})
    assert rated.status_code == 302
    page = text(client.get(f"/cases/{case.id}"))
    assert "已登记评价：不满意；已转电子监察整改回访" in page and "评价“不满意”" in page
    client.post("/logout", data={"csrf_token": csrf(client)})
    login(client, "supervisor")
    listed = client.get("/supervision/followups")
    assert listed.status_code == 200 and case.case_number in text(listed)
    desk = text(client.get("/supervision"))
    assert "服务评价（好差评）" in desk and "东坡村" in desk
