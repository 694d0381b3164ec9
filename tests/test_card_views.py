"""Cards and notifications as staff see them: the inbox, the case list and page, the header, the list, the API."""

from __future__ import annotations

import re
from datetime import datetime

from flask import Flask
from flask.testing import FlaskClient

from engine import clock, scheduler
from engine.models import Case
from engine.services import Services
from tests.test_api import auth
from tests.test_webui import login, post, start, text
from webui import create_app


def _red_case(svc: Services) -> Case:
    """A 低保 case whose promised date (14 April) has passed: yellow and red raised, both notified."""
    case = start(svc)
    clock.set_now(datetime(2026, 4, 15, 9, tzinfo=clock.SHANGHAI))
    scheduler.tick(svc.cases)
    return case


def _client(svc: Services) -> FlaskClient:
    app: Flask = create_app(services=svc, config={"TESTING": True})
    return app.test_client()


def _unread(client: FlaskClient) -> int:
    found = re.search(r'id="unread-count">(\d+)<', client.get("/inbox").get_data(as_text=True))
    return int(found.group(1)) if found else 0


def test_the_clerk_sees_the_card_in_the_inbox_and_case_pages(sqlite_services: Services) -> None:
    case = _red_case(sqlite_services)
    client = _client(sqlite_services)
    login(client, "dongpo_committee")
    body = client.get("/inbox?tab=post").get_data(as_text=True)
    assert re.search(rf'class="row-card-red" data-case-number="{case.case_number}"', body)
    red = client.get("/inbox?tab=post&card=red").get_data(as_text=True)
    assert case.case_number in red and case.case_number not in client.get("/inbox?tab=post&card=yellow").text
    # Red before everything else when sorted by card.
    by_card = re.findall(r'data-card="(\w*)"', client.get("/inbox?tab=post&sort=card").get_data(as_text=True))
    assert by_card == sorted(by_card, key=lambda c: {"red": 0, "yellow": 1}.get(c, 2))
    assert case.case_number in client.get("/ledger?card=red").text
    assert case.case_number not in client.get("/ledger?card=yellow").text
    page = text(client.get(f"/cases/{case.id}"))
    assert "限时办结警示" in page and "黄牌" in page and "红牌" in page and "2026-04-14" in page


def test_the_header_counts_unread_notifications_and_marking_read_lowers_it(sqlite_services: Services) -> None:
    case = _red_case(sqlite_services)
    client = _client(sqlite_services)
    login(client, "dongpo_committee")
    before = _unread(client)
    assert before >= 2
    listed = client.get("/notifications").get_data(as_text=True)
    assert f"红牌：{case.case_number}" in listed and f"黄牌：{case.case_number}" in listed
    first = re.search(r'data-notification-id="(\d+)"', listed).group(1)  # type: ignore[union-attr]
    response = post(client, f"/notifications/{first}/read", {"then": f"/cases/{case.id}"})
    assert response.status_code == 302 and response.location.endswith(f"/cases/{case.id}")
    assert _unread(client) == before - 1
    # Someone else's notification is not found and stays unread.
    other = _client(sqlite_services)
    login(other, "supervisor")
    supervisor_unread = _unread(other)
    assert post(client, f"/notifications/{_first_unread(other)}/read").status_code == 404
    assert _unread(other) == supervisor_unread
    post(client, "/notifications/read-all")
    assert _unread(client) == 0
    assert "未读" not in text(client.get("/notifications?show=unread")).replace("只看未读", "")


def _first_unread(client: FlaskClient) -> str:
    listed = client.get("/notifications?show=unread").get_data(as_text=True)
    return re.search(r'data-notification-id="(\d+)"', listed).group(1)  # type: ignore[union-attr]


def test_the_api_lists_cards_and_notifications_and_marks_them_read(sqlite_services: Services) -> None:
    case = _red_case(sqlite_services)
    client = _client(sqlite_services)
    headers = auth(sqlite_services, "dongpo_committee")
    tasks = client.get("/api/v1/tasks?scope=post&card=red", headers=headers).json["tasks"]
    assert case.id in {task["case_id"] for task in tasks} and {task["card"] for task in tasks} == {"red"}
    assert client.get("/api/v1/tasks?card=orange", headers=headers).status_code == 400
    assert client.get(f"/api/v1/cases/{case.id}", headers=headers).json["card"] == "red"
    listed = client.get("/api/v1/notifications?unread=1", headers=headers).json
    mine = [n for n in listed["notifications"] if n["case_id"] == case.id]
    assert {n["card"] for n in mine} == {"yellow", "red"} and mine[0]["case_number"] == case.case_number
    marked = client.post(f"/api/v1/notifications/{mine[0]['id']}/read", headers=headers).json
    assert marked == {"marked": 1, "unread": listed["unread"] - 1}
    assert client.post("/api/v1/notifications/read-all", headers=headers).json["unread"] == 0
    assert client.post("/api/v1/notifications/999999/read", headers=headers).status_code == 404
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/notifications", "/notifications/{notification_id}/read", "/notifications/read-all"} <= set(paths)

