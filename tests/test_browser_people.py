"""人员与区划 in the browser: the administrator adds a village, an account for it (password shown once), and marks a
post without a B holder away with that account as substitute, who then finds the post's task under 代岗待办
(screenshots 58–62)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from engine.services import Services
from tests.conftest import make_services
from tests.test_browser import browser, log_out, page, served, shot  # noqa: F401 (fixtures used by name)
from tests.test_engine import open_tasks, start

VILLAGE_CODE, VILLAGE = "510123101203", "清水镇桃花溪畔老街社区居民委员会"
NEW_USER, NEW_NAME = "taohuaxi_agent", "上官婉清"


@pytest.fixture(scope="module")
def people_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: the test adds a village and an account the shared browser database must not have."""
    svc = make_services("sqlite", tmp_path_factory.mktemp("people-web"), "bianmin_people_browser")
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="module")
def base_url(people_services: Services) -> Iterator[str]:
    with served(people_services) as url:
        yield url


def _log_in(page: Page, username: str, password: str) -> None:  # noqa: F811
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator(".who strong")).to_be_visible()


def test_administrator_adds_a_village_an_account_and_a_substitute(
    page: Page, people_services: Services,  # noqa: F811
) -> None:
    case = start(people_services, name="欧阳秀兰")
    [task] = open_tasks(people_services, case.id)
    assert task.role_code == "village_committee", "the first 低保 step is the village committee's, one holder"

    _log_in(page, "admin", "bianmin2026")
    page.locator("#nav-people").click()
    page.select_option("#org-parent", "510123101000")
    page.fill("#org-code", "51012310120")
    page.fill("#org-name", VILLAGE)
    page.click("#org-add-submit")
    expect(page.locator("#people-error")).to_contain_text("12 位数字")
    page.fill("#org-code", VILLAGE_CODE)
    page.click("#org-add-submit")
    expect(page.locator(".flash, .alert").first).to_contain_text(f"已添加 {VILLAGE}（{VILLAGE_CODE}）")
    row = page.locator(f"#org-tree tr[data-code='{VILLAGE_CODE}']")
    expect(row).to_contain_text(VILLAGE)
    row.scroll_into_view_if_needed()
    shot(page, "58-people-org-tree-village-added")

    page.locator("#people-tab-accounts").click()
    page.fill("#user-username", NEW_USER)
    page.fill("#user-display", NEW_NAME)
    page.select_option("#user-org", VILLAGE_CODE)
    page.select_option("#user-role", "village_agent")
    page.click("#account-add-submit")
    expect(page.locator("#people-secret")).to_contain_text("只显示这一次")
    password = page.locator("#secret-value").inner_text()
    assert len(password) >= 12
    expect(page.locator(f"#account-list tr[data-username='{NEW_USER}']")).to_contain_text(f"{VILLAGE} · 代办员")
    shot(page, "59-people-account-password-shown-once")

    page.locator("#people-tab-posts").click()
    post_row = page.locator("#post-list tr[data-post='village_committee@510123101201']")
    post_row.scroll_into_view_if_needed()
    post_row.locator("select[name=substitute]").select_option(NEW_USER)
    shot(page, "60-people-post-away-naming-substitute")
    post_row.get_by_role("button", name=re.compile("标记.*不在岗")).click()
    expect(page.locator(".flash, .alert").first).to_contain_text(f"由{NEW_NAME}代岗")
    post_row = page.locator("#post-list tr[data-post='village_committee@510123101201']")
    expect(post_row).to_contain_text(f"由{NEW_NAME}代岗")
    post_row.scroll_into_view_if_needed()
    shot(page, "61-people-post-away-with-substitute")

    page.goto("/people/events")
    expect(page.locator("#chain-state")).to_contain_text("事件链校验完好")
    expect(page.locator("#event-list tbody tr").first).to_contain_text("标记不在岗")
    log_out(page)

    _log_in(page, NEW_USER, password)
    page.locator("#tab-cover").click()
    expect(page.locator("#inbox-table")).to_contain_text(case.case_number)
    shot(page, "62-people-substitute-cover-inbox")
