"""The 人员与区划 pages: administrators only, each form reaches its engine operation, secrets are shown once."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.audit import system
from engine.models import ApiToken, OrgUnit, SystemEvent, User
from engine.people.accounts import authenticate
from engine.services import Services
from tests.conftest import make_services
from tests.test_webui import login, post, text
from webui import create_app


@pytest.fixture(scope="module")
def people_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    svc = make_services("sqlite", tmp_path_factory.mktemp("people_web"), "bianmin_people_web")
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="module")
def app(people_services: Services) -> Flask:
    return create_app(services=people_services, config={"TESTING": True})


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login(client, "admin")
    return client


def _secret(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'id="secret-value">([^<]+)<', response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)[:2000]
    return found.group(1)


def test_only_administrators_see_the_pages(app: Flask) -> None:
    clerk = app.test_client()
    login(clerk, "dongpo_agent")
    assert "nav-people" not in clerk.get("/inbox").get_data(as_text=True)
    for url in ("/people/places", "/people/accounts", "/people/posts", "/people/roles", "/people/tokens",
                "/people/events"):
        assert clerk.get(url).status_code == 403, url
    refused = post(clerk, "/people/places", {"action": "add", "code": "510123101203", "name": "越权村",
                                             "parent": "510123101000"})
    assert refused.status_code == 403 and "只有系统管理员" in text(refused)


def test_org_tree_add_refuse_and_rename(admin: FlaskClient, people_services: Services) -> None:
    page = admin.get("/people/places")
    assert page.status_code == 200 and "nav-people" in page.get_data(as_text=True)
    assert "东坡村" in text(page) and "510123101201" in text(page)
    added = post(admin, "/people/places", {"action": "add", "code": "510123101203", "name": "清水镇桃花溪村",
                                           "parent": "510123101000"})
    assert added.status_code == 302
    assert "已添加 清水镇桃花溪村（510123101203）" in text(admin.get("/people/places"))
    refused = post(admin, "/people/places", {"action": "add", "code": "510123101203", "name": "重复",
                                             "parent": "510123101000"})
    assert refused.status_code == 409 and "已存在" in text(refused)
    refused = post(admin, "/people/places", {"action": "add", "code": "5101231012", "name": "短码",
                                             "parent": "510123101000"})
    assert refused.status_code == 422 and "12 位数字" in text(refused)
    assert 'value="5101231012"' in refused.get_data(as_text=True)  # what was typed stays for correcting
    renamed = post(admin, "/people/places", {"action": "rename", "code": "510123101203", "name": "桃花溪村"})
    assert renamed.status_code == 302
    with people_services.db.read() as session:
        assert session.scalar(select(OrgUnit.name).where(OrgUnit.code == "510123101203")) == "桃花溪村"


def test_account_created_with_a_password_shown_once_then_reset_and_deactivated(
        admin: FlaskClient, people_services: Services) -> None:
    created = post(admin, "/people/accounts", {"action": "add", "username": "hewan_agent_b",
                                               "display_name": "司马慧敏", "org": "510123101202",
                                               "role": "village_agent", "rank": "B"})
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    password = _secret(created)
    assert "只显示这一次" in text(created)
    with people_services.db.write() as session:
        assert authenticate(session, "hewan_agent_b", password) is not None
    assert password not in admin.get("/people/accounts").get_data(as_text=True)
    reset = post(admin, "/people/accounts", {"action": "password", "username": "hewan_agent_b"})
    new_password = _secret(reset)
    assert new_password != password
    off = post(admin, "/people/accounts", {"action": "active", "username": "hewan_agent_b", "active": "0"})
    assert off.status_code == 302
    with people_services.db.write() as session:
        assert authenticate(session, "hewan_agent_b", new_password) is None
    on = post(admin, "/people/accounts", {"action": "active", "username": "hewan_agent_b", "active": "1"})
    assert on.status_code == 302
    wrong = post(admin, "/people/accounts", {"action": "add", "username": "bad", "display_name": "",
                                             "org": "510123101202", "role": "town_window", "rank": "A"})
    assert wrong.status_code == 400 and "不能设在" in text(wrong)


def test_post_away_needs_a_substitute_and_back(admin: FlaskClient, people_services: Services) -> None:
    page = text(admin.get("/people/posts"))
    assert "东坡村 · 代办员" in page and "清水镇 · 民政办" in page
    refused = post(admin, "/people/posts", {"action": "away", "username": "dongpo_committee"})
    assert refused.status_code == 422 and "须指定代岗人员" in text(refused)
    done = post(admin, "/people/posts", {"action": "away", "username": "dongpo_committee",
                                         "substitute": "hewan_committee"})
    assert done.status_code == 302
    page = text(admin.get("/people/posts"))
    assert "由河湾村村委会（A岗）代岗" in page
    sub = admin.application.test_client()
    login(sub, "hewan_committee")
    assert "代岗待办" in text(sub.get("/inbox?tab=cover"))
    assert post(admin, "/people/posts", {"action": "back", "username": "dongpo_committee"}).status_code == 302
    with people_services.db.read() as session:
        assert not session.scalar(select(User.away).where(User.username == "dongpo_committee"))


def test_roles_and_tokens(admin: FlaskClient, people_services: Services) -> None:
    assert post(admin, "/people/roles", {"action": "add", "code": "village_grid", "name": "网格员",
                                         "level": "village"}).status_code == 302
    assert "网格员" in text(admin.get("/people/roles"))
    bad = post(admin, "/people/roles", {"action": "add", "code": "Bad Code", "name": "坏", "level": "village"})
    assert bad.status_code == 422 and "角色代码" in text(bad)
    created = post(admin, "/people/tokens", {"action": "create", "username": "dongpo_agent", "days": "30"})
    token = _secret(created)
    assert token.startswith("bm_") and created.headers["Cache-Control"] == "no-store"
    with people_services.db.read() as session:
        token_id = session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()))
    assert token not in admin.get("/people/tokens").get_data(as_text=True)
    assert post(admin, "/people/tokens", {"action": "revoke", "token_id": str(token_id)}).status_code == 302
    assert "已撤销" in text(admin.get("/people/tokens"))
    assert admin.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_system_events_page_newest_first_by_kind(admin: FlaskClient, people_services: Services) -> None:
    post(admin, "/people/roles", {"action": "add", "code": "town_grid_lead", "name": "网格长", "level": "town"})
    page = admin.get("/people/events")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "事件链校验完好" in text(page)
    seqs = [int(s) for s in re.findall(r'<tr data-kind="[a-z_]+"><td class="mono">(\d+)</td>', html)]
    assert seqs == sorted(seqs, reverse=True) and seqs
    only = admin.get("/people/events?kind=role_added").get_data(as_text=True)
    assert set(re.findall(r'<tr data-kind="([a-z_]+)"', only)) == {"role_added"}
    assert "town_grid_lead" in only
    with people_services.db.read() as session:
        assert system.verify(session) == []
        assert session.scalar(select(SystemEvent.actor_name).where(SystemEvent.subject == "town_grid_lead")) \
            == session.scalar(select(User.display_name).where(User.username == "admin"))


def test_a_holder_without_b_cannot_mark_themselves_away(app: Flask, people_services: Services) -> None:
    clerk = app.test_client()
    login(clerk, "liulin_agent")
    response = post(clerk, "/me/away", {"next": "/inbox"}, follow_redirects=True)
    assert "须指定代岗人员，请联系系统管理员" in text(response)
    with people_services.db.read() as session:
        assert not session.scalar(select(User.away).where(User.username == "liulin_agent"))
