"""In a real browser: a village committee member sees yellow and red cards in the inbox, the unread count in the
header, opens the notifications and marks them read; screenshots 30–34 land in test-artifacts/."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from playwright.sync_api import Page, expect

from engine import clock, scheduler
from engine.services import Services
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401 (fixtures)
from tests.test_cards import _step_deadline
from tests.test_engine import open_tasks, start

# Applicants of one village's 低保 cases, accepted over three weeks of March.
APPLICANTS = [(0, "欧阳秀英"), (1, "司马建国"), (2, "诸葛明华"), (7, "李桂芳"), (14, "张卫东"), (21, "赵淑珍")]


def test_a_clerk_sees_cards_in_the_inbox_and_reads_the_notifications(page: Page,  # noqa: F811
                                                                     sqlite_services: Services) -> None:
    cases = {}
    for day, name in APPLICANTS:
        clock.set_now(datetime(2026, 3, 2, 9, 30, tzinfo=clock.SHANGHAI) + timedelta(days=day))
        cases[name] = start(sqlite_services, name=name)
    # One step with a limit of its own (ten working days), long past by mid-April.
    [task] = open_tasks(sqlite_services, cases["张卫东"].id)
    _step_deadline(sqlite_services, task, 10)
    clock.set_now(datetime(2026, 4, 15, 8, 30, tzinfo=clock.SHANGHAI))
    scheduler.tick(sqlite_services.cases)

    log_in(page, "dongpo_committee")
    unread = page.locator("#unread-count")
    expect(unread).to_be_visible()
    count = int(unread.inner_text())
    assert count >= 6
    page.get_by_role("tab", name=re.compile("岗位待办")).click()
    red = page.locator(f"tr[data-case-number='{cases['欧阳秀英'].case_number}']")
    expect(red).to_have_class(re.compile("row-card-red"))
    expect(red.locator(".card-badge")).to_have_text("红牌")
    expect(page.locator(f"tr[data-case-number='{cases['司马建国'].case_number}'] .card-badge")).to_have_text("黄牌")
    # The step's own red card shows, though its case is still weeks from its promised date.
    expect(page.locator(f"tr[data-case-number='{cases['张卫东'].case_number}'] .card-badge")).to_have_text("红牌")
    expect(page.locator(f"tr[data-case-number='{cases['赵淑珍'].case_number}'] .card-badge")).to_have_count(0)
    shot(page, "30-inbox-cards", full_page=True)

    page.locator("#filter-red").click()
    expect(page).to_have_url(re.compile(r"card=red"))
    rows = page.locator("#inbox-table tbody tr")
    assert {rows.nth(i).get_attribute("data-card") for i in range(rows.count())} == {"red"}
    shot(page, "31-inbox-overdue-filter")

    page.locator("#notifications-link").click()
    expect(page.locator("h1")).to_have_text("提醒")
    expect(page.locator("#notifications tr.notification-unread")).to_have_count(count)
    expect(page.locator("#notifications")).to_contain_text(f"红牌：{cases['欧阳秀英'].case_number}")
    shot(page, "32-notifications", full_page=True)

    first = page.locator("#notifications tr.notification-unread").first
    first.get_by_role("button", name="标为已读").click()
    expect(page.locator("#unread-count")).to_have_text(str(count - 1))
    page.locator("#notifications tr", has_text=f"红牌：{cases['欧阳秀英'].case_number}").first.get_by_role(
        "button", name="查看办件").click()
    expect(page.locator("#cards")).to_contain_text("红牌")
    expect(page.locator("#case-card .card-badge")).to_have_text("红牌")
    page.locator("#cards").scroll_into_view_if_needed()
    shot(page, "34-case-cards")

    page.goto("/notifications")
    page.locator("#mark-all-read").click()
    expect(page.locator(".flash-success")).to_contain_text("标为已读")
    expect(page.locator("#unread-count")).to_have_count(0)
    expect(page.locator("#notifications tr.notification-unread")).to_have_count(0)
    shot(page, "33-notifications-read")
    assert date(2026, 4, 15) == clock.local_now().date()
