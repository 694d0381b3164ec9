"""The auditor's desk: finding cases by every filter, fifty to a page, within the asker's jurisdiction; who may use it
(auditors fully, supervisors read-only, nobody else), where auditors land, and the same search and a verification
through the API — on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock
from engine.audit import desk
from engine.idcard import mask_id_number
from engine.models import Case, User
from engine.services import Services
from tests.conftest import TEST_START, user_id
from tests.test_api import HEWAN, LIULIN, auth
from tests.test_engine import drive, start
from tests.test_webui import csrf, login, text
from webui import create_app

PAGED = "诸葛明远"
PAGED_COUNT = 53
LATER = TEST_START + timedelta(days=21)  # Monday 2026-03-23


@dataclass(frozen=True)
class County:
    """Cases of known shape: granted, refused, cancelled and running, and PAGED_COUNT of one applicant."""

    granted: Case
    refused: Case
    cancelled: Case
    running: Case


@pytest.fixture(scope="module")
def county(services: Services) -> County:
    clock.set_now(TEST_START)
    for _ in range(PAGED_COUNT):
        start(services, "MZ-DIBAO", name=PAGED)
    running = start(services, "ZR-ZHAIJIDI", name="慕容雪晴")
    cancelled = start(services, "MZ-DIBAO", name="东方明珠")
    services.cases.cancel(user_id(services, "admin"), cancelled.id, "申请人迁出本县，申请已无必要")
    refused, _ = drive(services, start(services, "MZ-DIBAO", LIULIN, "liulin_agent", name="上官婉清"),
                       reject_at="town_review")
    clock.set_now(LATER)
    granted, _ = drive(services, start(services, "MZ-TEKUN", HEWAN, "hewan_agent", name="司马秀英"))
    clock.set_now(TEST_START)
    assert (granted.result, refused.result) == ("approved", "rejected")
    return County(granted, refused, cancelled, running)


def numbers(svc: Services, username: str = "auditor", **args: str) -> set[str]:
    with svc.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        return {row.case_number for row in desk.search(session, user, desk.search_from(args)).rows}


def test_each_filter_finds_the_case_it_names(services: Services, county: County) -> None:
    c = county
    running_number = c.running.case_number
    assert numbers(services, number=running_number[4:].lower()) == {running_number}  # any part, any case
    assert numbers(services, applicant="婉清") == {c.refused.case_number}
    assert numbers(services, applicant="司马", item="MZ-TEKUN") == {c.granted.case_number}
    assert numbers(services, applicant="司马", item="MZ-DIBAO") == set()
    assert numbers(services, applicant="上官", village=str(c.refused.village_id)) == {c.refused.case_number}
    assert numbers(services, applicant="上官", village=str(c.granted.village_id)) == set()
    # The period is of acceptance dates, both days included.
    assert numbers(services, applicant="司马", **{"from": "2026-03-23", "to": "2026-03-23"}) == {c.granted.case_number}
    assert numbers(services, applicant="司马", **{"from": "2026-03-02", "to": "2026-03-22"}) == set()
    assert c.granted.case_number not in numbers(services, to="2026-03-22")
    # A handler is whoever acted on the case in its history.
    assert numbers(services, applicant="上官", handler="liulin_committee") == {c.refused.case_number}
    assert numbers(services, applicant="司马", handler="qingshui_civil") == {c.granted.case_number}
    assert numbers(services, applicant="上官", handler="qingshui_civil") == set()
    for result, case in (("approved", c.granted), ("rejected", c.refused), ("cancelled", c.cancelled),
                         ("running", c.running)):
        found = numbers(services, result=result)
        assert case.case_number in found
        assert not {other.case_number for other in (c.granted, c.refused, c.cancelled, c.running)
                    if other is not case} & found


def test_a_town_sees_only_its_own_cases(services: Services, county: County) -> None:
    assert numbers(services, "qingshui_window", applicant="司马") == {county.granted.case_number}
    assert numbers(services, "qingshui_window", applicant="上官") == set()
    assert numbers(services, "shiqiao_window", applicant="上官") == {county.refused.case_number}


def test_fifty_to_a_page_with_the_total(services: Services, county: County) -> None:
    with services.db.read() as session:
        auditor = session.scalar(select(User).where(User.username == "auditor"))
        first = desk.search(session, auditor, desk.search_from({"applicant": PAGED}))
        second = desk.search(session, auditor, desk.search_from({"applicant": PAGED, "page": "2"}))
        beyond = desk.search(session, auditor, desk.search_from({"applicant": PAGED, "page": "9"}))
    assert (first.total, first.pages, len(first.rows)) == (PAGED_COUNT, 2, 50)
    assert (second.page, len(second.rows)) == (2, PAGED_COUNT - 50)
    assert not {row.id for row in first.rows} & {row.id for row in second.rows}
    assert beyond.page == 2  # past the last page shows the last one


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services, config={"TESTING": True}).test_client()


def test_auditors_land_on_the_desk_and_search_it(client: FlaskClient, services: Services, county: County) -> None:
    response = client.post("/login", data={"username": "auditor", "password": "bianmin2026",
                                           "csrf_token": csrf(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/audit"
    page = client.get(f"/audit?applicant={PAGED}")
    shown = text(page)
    assert page.status_code == 200 and "审计" in shown and "全部核验" in shown
    assert f"共 {PAGED_COUNT} 件 · 第 1 / 2 页" in shown
    html = page.get_data(as_text=True)
    assert html.count('<tr data-case-number=') == 50
    with services.db.read() as session:
        one = session.scalar(select(Case).where(Case.applicant_name == PAGED).order_by(Case.id.desc()).limit(1))
    assert mask_id_number(one.applicant_id_number) in shown and one.applicant_id_number not in html
    assert f"/cases/{one.id}/replay?at=1" in html and f"/audit/cases/{one.id}/verify" in html
    second = client.get(f"/audit?applicant={PAGED}&page=2")
    assert second.get_data(as_text=True).count('<tr data-case-number=') == PAGED_COUNT - 50
    wrong = client.get("/audit?from=2026-13-01&result=lost")
    assert wrong.status_code == 422
    assert "受理起始日期应为 YYYY-MM-DD 格式的日期" in text(wrong) and "办理结果应为" in text(wrong)


def test_supervisors_read_and_verify_one_case_only(client: FlaskClient, county: County) -> None:
    login(client, "supervisor")
    desk_page = client.get("/audit?applicant=司马")
    assert desk_page.status_code == 200 and "只读" in text(desk_page) and "全部核验" not in text(desk_page)
    one = client.get(f"/audit/cases/{county.granted.id}/verify")
    assert one.status_code == 200 and "完整" in text(one)
    refused = client.get("/audit/verify-all")
    assert refused.status_code == 403
    assert "只有审计人员可以全部核验" in text(refused)


@pytest.mark.parametrize("username", ["dongpo_agent", "qingshui_civil", "admin"])
def test_other_roles_get_403(client: FlaskClient, county: County, username: str) -> None:
    login(client, username)
    assert 'id="nav-audit"' not in client.get("/ledger").get_data(as_text=True)
    for url in ("/audit", f"/audit/cases/{county.running.id}/verify", "/audit/verify-all"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "只有审计人员和电子监察人员可以使用审计台" in text(response)


def test_the_api_searches_and_verifies(client: FlaskClient, services: Services, county: County) -> None:
    found = client.get(f"/api/v1/audit/cases?applicant={PAGED}&page=2", headers=auth(services, "auditor"))
    assert found.status_code == 200, found.json
    assert (found.json["total"], found.json["page"], found.json["pages"]) == (PAGED_COUNT, 2, 2)
    assert len(found.json["cases"]) == PAGED_COUNT - 50
    assert all("*" in case["applicant"]["id_number"] for case in found.json["cases"])
    verified = client.post(f"/api/v1/cases/{county.granted.id}/verify", headers=auth(services, "supervisor"))
    assert verified.status_code == 200, verified.json
    assert verified.json["intact"] is True and verified.json["problems"] == []
    with services.db.read() as session:
        assert verified.json["event_count"] == session.get(Case, county.granted.id).event_count
    refused = client.get("/api/v1/audit/cases", headers=auth(services, "dongpo_agent"))
    assert refused.status_code == 403 and "审计" in refused.json["error"]
    bad = client.get("/api/v1/audit/cases?page=x", headers=auth(services, "auditor"))
    assert bad.status_code == 422 and "page" in bad.json["fields"]
