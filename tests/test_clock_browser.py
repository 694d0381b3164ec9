"""The clock in the browser: a case page listing two paused intervals, and a task page with its step's due date."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.procedures import SEED_SHAPE, variant
from tests.test_browser import base_url, browser, log_in, page  # noqa: F401  (fixtures)
from tests.test_clock import complete, deploy
from tests.test_engine import open_tasks, start

ITEM = "CLOCK-UI"


def test_case_page_lists_pauses_and_task_page_shows_step_due(page: Page, sqlite_services: Services,  # noqa: F811
                                                              tmp_path: Path) -> None:
    svc = sqlite_services
    # Clock mechanics on the seed-shaped fixture: a 公示, then a 补正 pause at its town review.
    deploy(svc, variant(tmp_path, ITEM, source=SEED_SHAPE, properties={
        "town_review": {"clockPause": "补正"}, "county_approval": {"timeLimitWorkingDays": "5"}}))
    case = start(svc, ITEM, name="欧阳秀英")
    complete(svc, "village_review", case.id)
    clock.travel(timedelta(days=7))
    svc.cases.run_due_timers()
    clock.travel(timedelta(days=3))
    complete(svc, "town_review", case.id)
    [county] = open_tasks(svc, case.id)

    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    pauses = page.locator("#clock-pauses tbody tr")
    expect(pauses).to_have_count(2)
    expect(pauses.nth(0)).to_contain_text("公示")
    expect(pauses.nth(0)).to_contain_text("2026-03-02 09:00 – 2026-03-09 09:00")
    expect(pauses.nth(0).locator("td").nth(3)).to_have_text("5")
    expect(pauses.nth(1)).to_contain_text("补正")
    expect(pauses.nth(1).locator("td").nth(3)).to_have_text("3")
    # 30 working days from 2 March (2026-04-14), moved on by the 5 + 3 working days paused.
    expect(page.locator(".cards-3")).to_contain_text("2026-04-24")
    expect(page.locator("#history")).to_contain_text("恢复计时")
    expect(page.locator("#open-tasks")).to_contain_text("2026-03-19")
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#clock-pauses").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "20-case-clock-pauses.png"), full_page=True)

    page.get_by_role("button", name="退出").click()
    log_in(page, "county_civil")
    page.goto(f"/tasks/{county.id}")
    expect(page.locator("#step-due")).to_contain_text("2026-03-19 前（5 个工作日）")
    page.screenshot(path=str(ARTIFACTS / "21-task-step-due.png"))
    clock.travel(timedelta(days=8))
    page.reload()
    expect(page.locator("#step-due .badge-danger")).to_have_text("已超期")


def test_window_sees_a_case_waiting_for_its_acceptance(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    svc = sqlite_services
    case = start(svc, "ZR-ZHAIJIDI", name="司马建国")
    complete(svc, "village_review", case.id)
    clock.travel(timedelta(days=7, hours=1))  # the village's 公示, before 受理
    assert svc.cases.run_due_timers() >= 1
    log_in(page, "qingshui_window")
    page.get_by_role("tab", name=re.compile("岗位待办")).click()
    row = page.locator(f"tr[data-case-number='{case.case_number}']")
    # No promised date before 受理: the note itself, not “无法计算”.
    expect(row).to_contain_text("待“受理”环节受理后起算")
    page.screenshot(path=str(ARTIFACTS / "22-inbox-awaiting-acceptance.png"))
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#open-tasks")).to_contain_text("2026-03-16")
