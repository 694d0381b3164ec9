"""Documents in the browser: the case page's 文书 card opens the decision as a printable page that prints alone."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import form, holder, open_tasks, start

REASONS = ("经入户调查和家庭经济状况信息核对，申请人家庭成员名下登记有小型轿车一辆，长子在外务工有稳定收入，"
           "家庭人均收入高于当地最低生活保障标准，不符合最低生活保障条件。")


def refuse_at_town(svc: Services) -> int:
    """A 低保 case of 欧阳晓明 that the village passes and the town's civil-affairs post refuses with its reasons."""
    case = start(svc, "MZ-DIBAO", name="欧阳晓明")
    for _ in range(6):
        tasks = open_tasks(svc, case.id)
        if not tasks:
            clock.travel(timedelta(days=8))
            svc.cases.run_due_timers()
            continue
        [task] = tasks
        decision = "reject" if task.element_id == "town_review" else "approve"
        data = form(svc, task, decision)
        data.update({name: REASONS for name in data if name.endswith("_opinion") and decision == "reject"})
        svc.cases.complete(holder(svc, task), task.id, data)
        if decision == "reject":
            return case.id
    raise AssertionError("the town review never came")


def test_the_refusal_is_listed_opened_and_printed_without_the_page_around_it(
        page: Page, sqlite_services: Services) -> None:  # noqa: F811
    case_id = refuse_at_town(sqlite_services)
    log_in(page, "qingshui_civil")
    page.goto(f"/cases/{case_id}")
    card = page.locator("#case-documents")
    expect(card.locator("tbody tr")).to_have_count(1)
    expect(card).to_contain_text("不予批准决定书")
    expect(card).to_contain_text("清水镇不准〔2026〕")
    expect(card).to_contain_text("清水镇人民政府")
    card.scroll_into_view_if_needed()
    shot(page, "96-case-page-documents-card")

    card.get_by_role("link", name="查看 / 打印").click()
    sheet = page.locator("#document")
    expect(sheet.locator("h1")).to_have_text("不予批准决定书")
    expect(page.locator("#document-reasons")).to_have_text(REASONS)
    expect(page.locator("#document-rights")).to_contain_text("60 日内向青山县人民政府申请行政复议")
    expect(page.locator("#document-rights")).to_contain_text("6 个月内向青山县人民法院提起行政诉讼")
    expect(page.locator("nav, .topbar")).to_have_count(0)
    expect(page.get_by_role("button", name="打印")).to_be_visible()
    # The sheet is A4 wide on screen, centred, with the stylesheet's serif CJK font.
    box = sheet.bounding_box()
    assert box is not None and 780 < box["width"] < 800 and abs((1366 - box["width"]) / 2 - box["x"]) < 20
    shot(page, "95-refusal-decision-printable-page", full_page=True)

    # 打印 opens the browser's dialog; as printed, the toolbar is gone and the sheet has no frame.
    page.evaluate("window.print = () => { document.body.dataset.printed = 'yes'; }")
    page.get_by_role("button", name="打印").click()
    expect(page.locator("body")).to_have_attribute("data-printed", "yes")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    expect(page.locator(".toolbar")).to_be_hidden()
    shot(page, "97-refusal-decision-as-printed", full_page=True)
