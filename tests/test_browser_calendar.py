"""预计 in the browser: provisional promised dates badged in the inbox and case list, then the administrator
enters the year on the calendar page and every date becomes final (screenshots 25–29)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import make_services
from tests.test_browser import browser, log_in, log_out, page, served, shot  # noqa: F401 (fixtures used by name)
from tests.test_calendar_provisional import NOTICE_2027
from tests.test_engine import start

# Accepted in late December: every 30- and 25-working-day date runs into 2027, not entered yet.
DECEMBER = datetime(2026, 12, 21, 9, 30, tzinfo=clock.SHANGHAI)
APPLICANTS = [
    ("MZ-DIBAO", "510123101201", "dongpo_agent", "欧阳秀兰"),
    ("MZ-TEKUN", "510123101201", "dongpo_agent", "司马建国"),
    ("MZ-DIBAO", "510123101201", "dongpo_agent", "诸葛桂芳"),
    ("MZ-DIBAO", "510123101201", "dongpo_agent", "上官德明"),
    ("MZ-TEKUN", "510123101201", "dongpo_agent", "李卫东"),
]


@pytest.fixture(scope="module")
def calendar_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: the test enters 2027, which the shared browser database must not have."""
    svc = make_services("sqlite", tmp_path_factory.mktemp("calendar-web"), "bianmin_calendar_web")
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="module")
def base_url(calendar_services: Services) -> Iterator[str]:
    with served(calendar_services) as url:
        yield url


def test_provisional_dates_are_badged_until_the_administrator_enters_the_year(
    page: Page, calendar_services: Services, tmp_path: Path,  # noqa: F811
) -> None:
    svc = calendar_services
    clock.set_now(DECEMBER)
    numbers = [start(svc, item, village, agent, name).case_number for item, village, agent, name in APPLICANTS]

    log_in(page, "dongpo_committee")
    page.get_by_role("tab", name=re.compile("岗位待办")).click()
    table = page.locator("#inbox-table")
    for number in numbers:
        expect(table.locator(f"tr[data-case-number='{number}'] .badge-provisional")).to_have_text("预计")
    # The date and its badge stay on one line: no row grows into a paragraph.
    heights = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
    assert max(heights) < 80, heights
    shot(page, "25-inbox-provisional-dates")

    page.get_by_role("link", name="办件台账").click()
    cases = page.locator("table.grid")
    expect(cases.locator(".badge-provisional")).to_have_count(len(numbers))
    expect(cases.locator("tr", has_text=numbers[0])).to_contain_text("2027-02-")
    shot(page, "26-case-list-provisional-dates")
    log_out(page)

    log_in(page, "admin")
    page.get_by_role("link", name="节假日日历").click()
    expect(page).to_have_url(re.compile(r"/calendar"))
    expect(page.locator("#calendar-years")).to_contain_text("国办发明电〔2025〕7号")
    expect(page.locator("#calendar-provisional")).to_contain_text("2027")
    # A mistake refuses the whole notice, in Chinese, and keeps what was pasted.
    page.fill("#notice_text", NOTICE_2027.replace('"2027-02-14"', '"2027-02-30"'))
    page.locator("#calendar-preview").click()
    expect(page.locator("#calendar-errors")).to_contain_text("“2027-02-30”不是有效日期")
    expect(page.locator("#calendar-enter")).to_have_count(0)
    notice = tmp_path / "2027.toml"
    notice.write_text(NOTICE_2027, "utf-8")
    page.set_input_files("#notice_file", str(notice))
    page.locator("#calendar-preview").click()
    preview = page.locator("#calendar-preview-result")
    expect(preview).to_contain_text("2027 年放假安排预览")
    expect(preview).to_contain_text("2027-02-05")
    shot(page, "27-calendar-preview-2027", full_page=True)
    page.locator("#calendar-enter").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已录入 2027 年放假安排，已重算 {len(numbers)} 件")
    expect(page.locator("#calendar-years")).to_contain_text("测试用通知")
    expect(page.locator("#calendar-provisional")).to_contain_text("目前没有按预计日历计算的期限")
    shot(page, "28-calendar-2027-entered", full_page=True)

    page.get_by_role("link", name="办件台账").click()
    expect(page.locator("table.grid .badge-provisional")).to_have_count(0)
    page.get_by_role("link", name=numbers[0]).click()
    history = page.locator("body")
    expect(history).to_contain_text("期限重算")
    expect(history).to_contain_text("2027年放假安排录入")
    shot(page, "29-case-history-recounted", full_page=True)
