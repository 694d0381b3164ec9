"""Who may see, claim and complete: the engine's rule, the web UI and the API each checked against a table by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from engine.cases import locking
from engine.models import CaseEvent, Task, User
from engine.people import access
from engine.people.accounts import set_away
from engine.services import Services
from engine.tasks import inbox
from tests.conftest import user_id
from tests.test_api import auth
from tests.test_webui import login, open_task, post, start, task_form, to_town
from webui import create_app

# What each demo user may do with the open task of a case started in 东坡村 (清水镇):
#   S  sees the case and the task   C  may claim the task   W  may complete it   -  sees neither
# The first three columns are each shipped procedure's first task (村委会协助并提出意见 / 村委会协助核实 / 村级审查,
# all in the lane village_committee). The last two are 低保's 乡镇审核 (lane town_civil_affairs) once qingshui_civil (A
# post) has claimed it: first with A at work, then with A marked away, when the B post covers.
COLUMNS = ("MZ-DIBAO", "MZ-TEKUN", "ZR-ZHAIJIDI", "claimed by A", "A away")
TABLE = """
dongpo_agent         S      S      S      S      S
dongpo_committee     SCW    SCW    SCW    S      S
hewan_agent          -      -      -      -      -
hewan_committee      -      -      -      -      -
liulin_agent         -      -      -      -      -
liulin_committee     -      -      -      -      -
hongyan_agent        -      -      -      -      -
hongyan_committee    -      -      -      -      -
qingshui_window      S      S      S      S      S
qingshui_civil       S      S      S      SW     S
qingshui_civil_b     S      S      S      S      SCW
qingshui_land        S      S      S      S      S
qingshui_planning    S      S      S      S      S
qingshui_leader      S      S      S      S      S
qingshui_forestry    S      S      S      S      S
qingshui_health      S      S      S      S      S
qingshui_agriculture S      S      S      S      S
shiqiao_window       -      -      -      -      -
shiqiao_civil        -      -      -      -      -
shiqiao_land         -      -      -      -      -
shiqiao_planning     -      -      -      -      -
shiqiao_leader       -      -      -      -      -
shiqiao_forestry     -      -      -      -      -
shiqiao_health       -      -      -      -      -
shiqiao_agriculture  -      -      -      -      -
county_civil         S      S      S      S      S
county_land          S      S      S      S      S
county_hr            S      S      S      S      S
county_health        S      S      S      S      S
county_disabled      S      S      S      S      S
supervisor           S      S      S      S      S
auditor              S      S      S      S      S
admin                S      S      S      S      S
"""
EXPECTED = {column: {line.split()[0]: line.split()[1 + index] for line in TABLE.strip().splitlines()}
            for index, column in enumerate(COLUMNS)}


@pytest.fixture(scope="module")
def app(sqlite_services: Services) -> Flask:
    return create_app(services=sqlite_services, config={"TESTING": True})


@pytest.fixture(scope="module")
def usernames(sqlite_services: Services) -> list[str]:
    with sqlite_services.db.read() as session:
        # The browser test's own account changes its password, so it cannot log in with the demo one.
        return list(session.scalars(
            select(User.username).where(User.username != "browser_clerk").order_by(User.id)))


@pytest.fixture(scope="module")
def browsers(app: Flask, usernames: list[str]) -> dict[str, FlaskClient]:
    """A web UI session for every demo user, logged in through the login page."""
    clients = {}
    for username in usernames:
        clients[username] = app.test_client()
        login(clients[username], username)
    return clients


@pytest.fixture(scope="module")
def api(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def a_back_at_work(sqlite_services: Services) -> Iterator[None]:
    yield
    with sqlite_services.db.write() as session:
        set_away(session, "qingshui_civil", False)


def code(sees_case: bool, sees_task: bool, may_claim: bool, may_complete: bool) -> str:
    """One cell of the table, from what a channel showed."""
    seen = {(True, True): "S", (False, False): "-"}.get((sees_case, sees_task), f"case {sees_case}/task {sees_task}")
    return seen + ("C" if may_claim else "") + ("W" if may_complete else "")


def status_seen(response: Any) -> bool:
    assert response.status_code in (200, 404), response.status_code
    return response.status_code == 200


def by_rule(svc: Services, usernames: list[str], task_id: str) -> dict[str, str]:
    with svc.db.read() as session:
        task = inbox.task_row(session, task_id)
        assert task is not None
        rows = {}
        for username in usernames:
            actor = locking.actor(session, user_id(svc, username))
            decided = access.task_access(actor, task)
            rows[username] = code(access.may_see_case(actor, task), access.may_see_task(actor, task, task),
                                  decided.may_claim, decided.may_complete)
    return rows


def by_task_page(browsers: dict[str, FlaskClient], case_id: int, task_id: str) -> dict[str, str]:
    rows = {}
    for username, client in browsers.items():
        page = client.get(f"/tasks/{task_id}")
        body = page.get_data(as_text=True)
        rows[username] = code(status_seen(client.get(f"/cases/{case_id}")), status_seen(page),
                              f'action="/tasks/{task_id}/claim"' in body, 'id="task-form"' in body)
    return rows


def by_case_page(browsers: dict[str, FlaskClient], case_id: int, task_id: str) -> dict[str, str]:
    """The case page's list of open tasks: a claim button and a link to handle the task, or neither."""
    rows = {}
    for username, client in browsers.items():
        page = client.get(f"/cases/{case_id}")
        body = page.get_data(as_text=True)
        seen = status_seen(page)
        rows[username] = code(seen, seen, f'action="/tasks/{task_id}/claim"' in body,
                              f'href="/tasks/{task_id}"' in body)
    return rows


def by_api(svc: Services, api: FlaskClient, usernames: list[str], case_id: int, task_id: str) -> dict[str, str]:
    rows = {}
    for username in usernames:
        case = api.get(f"/api/v1/cases/{case_id}", headers=auth(svc, username))
        task = api.get(f"/api/v1/tasks/{task_id}", headers=auth(svc, username))
        granted = task.json if task.status_code == 200 else {}
        rows[username] = code(status_seen(case), status_seen(task), granted.get("may_claim", False),
                              granted.get("may_complete", False))
    return rows


def events(svc: Services, case_id: int) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)) or 0


def check(svc: Services, browsers: dict[str, FlaskClient], api: FlaskClient, column: str, task: Task) -> None:
    expected = EXPECTED[column]
    assert sorted(expected) == sorted(browsers), "the table lists every demo user"
    users = list(browsers)
    assert by_rule(svc, users, task.id) == expected
    assert by_task_page(browsers, task.case_id, task.id) == expected
    assert by_case_page(browsers, task.case_id, task.id) == expected
    assert by_api(svc, api, users, task.case_id, task.id) == expected
    # What is not offered is refused too, and changes nothing.
    before = events(svc, task.case_id)
    for username in (name for name, cell in expected.items() if "C" not in cell and "W" not in cell):
        headers = auth(svc, username)
        claimed = api.post(f"/api/v1/tasks/{task.id}/claim", headers=headers)
        # Claiming a task one already holds changes nothing, so it is answered as done even while away.
        assert claimed.status_code in (403, 404, 409) or claimed.json["assignee"]["username"] == username, username
        done = api.post(f"/api/v1/tasks/{task.id}/complete", headers=headers, json={"data": task_form(svc, task)})
        assert done.status_code in (403, 404, 409), username
    assert events(svc, task.case_id) == before


@pytest.mark.parametrize("item", COLUMNS[:3])
def test_first_task_of_each_procedure(sqlite_services: Services, browsers: dict[str, FlaskClient],
                                      api: FlaskClient, item: str) -> None:
    case = start(sqlite_services, item)
    check(sqlite_services, browsers, api, item, open_task(sqlite_services, case.id))


def test_task_claimed_by_a_then_covered_by_b(sqlite_services: Services, browsers: dict[str, FlaskClient],
                                            api: FlaskClient, a_back_at_work: None) -> None:
    case = start(sqlite_services)
    town_task = to_town(sqlite_services, case)
    sqlite_services.cases.claim(user_id(sqlite_services, "qingshui_civil"), town_task.id)
    check(sqlite_services, browsers, api, "claimed by A", town_task)
    with sqlite_services.db.write() as session:
        set_away(session, "qingshui_civil", True)
    check(sqlite_services, browsers, api, "A away", town_task)


def test_claim_button_takes_the_task_and_opens_its_form(sqlite_services: Services,
                                                        browsers: dict[str, FlaskClient]) -> None:
    case = start(sqlite_services)
    task = open_task(sqlite_services, case.id)
    committee = browsers["dongpo_committee"]
    page = committee.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert 'name="then" value="handle"' in page
    response = post(committee, f"/tasks/{task.id}/claim", {"then": "handle"})
    assert response.status_code == 302 and response.location == f"/tasks/{task.id}"
    page = committee.get(response.location).get_data(as_text=True)
    assert 'id="task-form"' in page and f'action="/tasks/{task.id}/claim"' not in page
    assert open_task(sqlite_services, case.id).assignee_id == user_id(sqlite_services, "dongpo_committee")


@pytest.mark.parametrize(("username", "query"), [("qingshui_civil", ""), ("county_civil", "status=running"),
                                                 ("dongpo_agent", "status=completed"), ("shiqiao_civil", "")])
def test_case_list_is_the_same_on_the_page_and_in_the_api(sqlite_services: Services,
                                                          browsers: dict[str, FlaskClient], api: FlaskClient,
                                                          username: str, query: str) -> None:
    # Started at the same moment, so the order also depends on how ties are broken.
    running = [start(sqlite_services).id, start(sqlite_services, "MZ-TEKUN").id]
    rejected = start(sqlite_services)
    # The village does not recommend it, the town investigates and finds the family ineligible.
    for username, decision in (("dongpo_committee", "reject"), ("qingshui_civil", "approve"),
                               ("qingshui_civil", "reject")):
        task = open_task(sqlite_services, rejected.id)
        sqlite_services.cases.complete(user_id(sqlite_services, username), task.id,
                                       task_form(sqlite_services, task, decision))
    page = browsers[username].get(f"/ledger?{query}").get_data(as_text=True)
    shown = [int(case_id) for case_id in re.findall(r'<tr data-case-id="(\d+)"', page)]
    listed = api.get(f"/api/v1/cases?{query}", headers=auth(sqlite_services, username)).json["cases"]
    assert shown == [case["id"] for case in listed]
    expected = {"": [*running, rejected.id], "status=running": running, "status=completed": [rejected.id]}[query]
    if username.startswith("shiqiao"):
        expected = []  # a 东坡村 case is none of 石桥镇's business
    assert [case_id for case_id in shown if case_id in (*running, rejected.id)] == sorted(expected, reverse=True)
