"""每日存证 in the browser: auditors, supervisors and administrators list the anchors, download and recheck them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from sqlalchemy import delete, select, update

from engine import clock
from engine.audit import anchors
from engine.errors import Unauthorized
from engine.models import AuditAnchor, Case, CaseEvent
from engine.people import signin
from engine.services import Services
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import start
from tests.test_webui import PASSWORD, login, post, text

DAYS = [date(2026, 3, 2) + timedelta(days=n) for n in range(12)]
APPLICANTS = ["欧阳建华", "司马秀英", "诸葛卫东", "上官春梅", "慕容国庆", "皇甫玉兰"]
EVENTS = CaseEvent.__table__


@pytest.fixture(scope="module")
def app(sqlite_services: Services) -> Flask:
    from webui import create_app

    return create_app(services=sqlite_services, config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="module")
def busy_days(sqlite_services: Services) -> None:
    """Cases accepted on six of the twelve days, and the auditor signing in on each of them."""
    svc = sqlite_services
    for n, day in enumerate(DAYS):
        clock.set_now(datetime.combine(day, datetime.min.time(), tzinfo=clock.SHANGHAI) + timedelta(hours=10))
        signin.sign_in(svc.db, "auditor", PASSWORD, f"10.23.4.{20 + n}")
        if n < len(APPLICANTS):
            start(svc, "ZR-ZHAIJIDI" if n % 2 else "MZ-DIBAO", name=APPLICANTS[n])
    clock.reset()


@pytest.fixture
def kept(sqlite_services: Services, tmp_path: Path, busy_days: None) -> Iterator[list[AuditAnchor]]:
    """Twelve days of anchors; removed afterwards."""
    svc = sqlite_services
    clock.set_now(datetime.combine(DAYS[-1] + timedelta(days=1), datetime.min.time(), tzinfo=clock.SHANGHAI)
                  + timedelta(hours=8))
    rows = [anchors.write(svc.db, tmp_path / "anchors", day) for day in DAYS]
    yield [row for row in rows if row is not None]
    with svc.db.write() as session:
        session.execute(delete(AuditAnchor))


def newest_case(svc: Services) -> Case:
    with svc.db.read() as session:
        found = session.scalar(select(Case).order_by(Case.id.desc()).limit(1))
    assert found is not None
    return found


@pytest.fixture
def rehashed(sqlite_services: Services) -> Iterator[Case]:
    """The newest case's first event re-hashed by a forger, put back afterwards."""
    case = newest_case(sqlite_services)
    where = (EVENTS.c.case_id == case.id) & (EVENTS.c.seq == 1)
    with sqlite_services.db.read() as session:
        original = session.scalar(select(EVENTS.c.hash).where(where))
    with sqlite_services.db.write() as session:
        session.execute(update(EVENTS).where(where).values(hash="a" * 64))
    yield case
    with sqlite_services.db.write() as session:
        session.execute(update(EVENTS).where(where).values(hash=original))


@pytest.mark.parametrize("username", ["auditor", "supervisor", "admin"])
def test_keepers_see_every_anchor_with_its_digest(client: FlaskClient, kept: list[AuditAnchor],
                                                  username: str) -> None:
    login(client, username)
    response = client.get("/audit/anchors")
    assert response.status_code == 200
    shown = text(response)
    assert "另存到本系统之外" in shown and "每日存证" in shown
    for row in kept:
        assert row.digest in shown and str(row.day) in shown
    assert 'id="nav-anchors"' in response.get_data(as_text=True)


def test_a_clerk_is_refused_and_not_shown_the_link(client: FlaskClient, kept: list[AuditAnchor]) -> None:
    login(client, "dongpo_agent")
    response = client.get("/audit/anchors")
    assert response.status_code == 403 and "只有审计、电子监察和系统管理员" in text(response)
    assert client.get(f"/audit/anchors/{kept[0].day}/file").status_code == 403
    assert post(client, f"/audit/anchors/{kept[0].day}/check").status_code == 403
    assert 'id="nav-anchors"' not in client.get("/inbox").get_data(as_text=True)


def test_the_file_downloads_as_written(client: FlaskClient, kept: list[AuditAnchor]) -> None:
    login(client, "auditor")
    row = kept[-1]
    response = client.get(f"/audit/anchors/{row.day}/file")
    assert response.status_code == 200 and response.data == Path(row.path).read_bytes()
    assert f"filename={row.day}.json" in response.headers["Content-Disposition"]
    assert client.get("/audit/anchors/2020-01-01/file").status_code == 404
    assert client.get("/audit/anchors/not-a-day/file").status_code == 404


def test_checking_says_consistent_then_names_the_rehashed_case(client: FlaskClient, kept: list[AuditAnchor],
                                                               sqlite_services: Services) -> None:
    login(client, "auditor")
    row = kept[-1]
    ok = post(client, f"/audit/anchors/{row.day}/check")
    assert ok.status_code == 200 and f"{row.day} 的锚点与数据库一致" in text(ok)
    case = newest_case(sqlite_services)
    where = (EVENTS.c.case_id == case.id) & (EVENTS.c.seq == 1)
    with sqlite_services.db.read() as session:
        original = session.scalar(select(EVENTS.c.hash).where(where))
    with sqlite_services.db.write() as session:
        session.execute(update(EVENTS).where(where).values(hash="a" * 64))
    try:
        broken = text(post(client, f"/audit/anchors/{row.day}/check"))
        assert "不一致" in broken and f"办件 {case.case_number}：" in broken
    finally:
        with sqlite_services.db.write() as session:
            session.execute(update(EVENTS).where(where).values(hash=original))


def test_a_missing_file_is_said_and_the_recorded_digest_still_checks(client: FlaskClient,
                                                                     kept: list[AuditAnchor]) -> None:
    login(client, "supervisor")
    row = kept[0]
    Path(row.path).unlink()
    assert "文件已不在" in client.get("/audit/anchors").get_data(as_text=True)
    assert client.get(f"/audit/anchors/{row.day}/file").status_code == 404
    assert f"{row.day} 的锚点与数据库一致" in text(post(client, f"/audit/anchors/{row.day}/check"))


def test_an_auditor_keeps_and_checks_anchors_in_the_browser(page: Page, kept: list[AuditAnchor],  # noqa: F811
                                                            sqlite_services: Services) -> None:
    log_in(page, "auditor")
    page.click("#nav-anchors")
    expect(page.locator("#anchor-list tbody tr")).to_have_count(len(kept))
    expect(page.locator("#anchors-why")).to_contain_text("另存到本系统之外")
    widths = page.locator("#anchor-list td.digest").first.evaluate("cell => cell.getBoundingClientRect().width")
    assert widths > 300, widths  # the digest on one line, not squeezed into a column of a few characters
    shot(page, "65-anchors-list", full_page=True)
    with page.expect_download() as download:
        page.click(f"#download-{kept[-1].day}")
    assert download.value.suggested_filename == f"{kept[-1].day}.json"
    page.click(f"#check-{kept[-1].day}")
    expect(page.locator("#check-result")).to_have_attribute("data-consistent", "yes")
    expect(page.locator("#check-result")).to_contain_text("一致")
    shot(page, "66-anchors-check-consistent", full_page=True)


def test_the_browser_shows_which_case_broke(page: Page, kept: list[AuditAnchor],  # noqa: F811
                                            rehashed: Case) -> None:
    log_in(page, "auditor")
    page.goto("/audit/anchors")
    page.click(f"#check-{kept[-1].day}")
    expect(page.locator("#check-result")).to_have_attribute("data-consistent", "no")
    expect(page.locator("#check-differences li").first).to_contain_text(f"办件 {rehashed.case_number}")
    shot(page, "67-anchors-check-names-the-case", full_page=True)


def test_the_events_page_shows_privileged_sign_ins(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    for address in ("10.23.4.117", "10.23.4.118"):  # someone guessing at the auditor's account from the town office
        with pytest.raises(Unauthorized):
            signin.sign_in(sqlite_services.db, "auditor", "qingshan-guess-2026", address)
    log_in(page, "auditor")
    page.get_by_role("button", name="退出").click()
    log_in(page, "admin")
    page.goto("/people/events?kind=privileged_login")
    expect(page.locator("#kind-privileged_login")).to_have_class("on")
    expect(page.locator("#event-list td.mono", has_text=re.compile(r"^auditor$")).first).to_be_visible()
    expect(page.locator("#event-list tbody tr:not([data-kind=privileged_login])")).to_have_count(0)
    shot(page, "68-system-events-privileged-logins", full_page=True)
    page.click("#kind-privileged_login_failed")
    rows = page.locator("#event-list tbody tr[data-kind=privileged_login_failed]")
    expect(rows.first).to_contain_text("address=10.23.4.118")
    expect(rows.first).to_contain_text("reason=wrong_password")
    expect(page.locator("#event-list")).not_to_contain_text("qingshan-guess-2026")
    shot(page, "69-system-events-failed-privileged-logins", full_page=True)
