"""The public window in a real browser: the guide's index, an item with its diagram (and as it prints), the query of
a real case, a home visit booked by a citizen and served from the village agent's inbox and day list."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import start


def test_guide_item_diagram_query_and_a_booking_served(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    case = start(sqlite_services, name="司马慧琳")

    page.goto("/guide")
    expect(page.locator("#staff-login")).to_be_visible()
    expect(page.locator(".mainnav")).to_have_count(0)
    civil = page.locator(".guide-category[data-category='民政']")
    expect(civil).to_contain_text("农村居民最低生活保障")
    expect(civil).to_contain_text("特困人员救助供养")
    expect(page.locator(".guide-category[data-category='国土']")).to_contain_text("农村居民住宅用地(宅基地)审批")
    shot(page, "83-public-guide-index", full_page=True)

    page.locator("a[href='/guide/MZ-DIBAO']").click()
    expect(page).to_have_url(re.compile(r"/guide/MZ-DIBAO$"))
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true")
    expect(page.locator("#diagram .djs-element").first).to_be_visible()
    expect(page.locator("#where-to-apply")).to_contain_text("青山县清水镇正街126号镇人民政府一楼")
    expect(page.locator(".guide")).to_contain_text("户主书面申请书")
    shot(page, "84-public-guide-item", full_page=True)
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#print-item")).to_be_hidden()
    shot(page, "85-public-guide-item-print", full_page=True)
    page.emulate_media(media="screen")

    page.click("#public-nav-query")
    page.fill("#q-number", case.case_number)
    page.fill("#q-tail", case.applicant_id_number[-4:])
    page.click("#query-submit")
    result = page.locator("#query-result")
    expect(result.locator("#query-number")).to_have_text(case.case_number)
    expect(result.locator("#query-status")).to_have_text("办理中")
    expect(result.locator("#query-steps")).to_have_text("村委会协助并提出意见")
    expect(result.locator("#query-promised")).to_have_text(case.promised_date.isoformat())
    expect(page.locator("body")).not_to_contain_text("司马慧琳")
    expect(page.locator("body")).not_to_contain_text(case.applicant_phone)
    shot(page, "86-public-query-result")

    page.click("#public-nav-book")
    page.check("#kind-home")
    page.select_option("#b-item", "MZ-TEKUN")
    page.select_option("#b-village", "510123101201")
    page.fill("#b-day", "2026-03-06")
    page.select_option("#b-slot", "afternoon")
    page.fill("#b-name", "欧阳秀珍")
    page.fill("#b-phone", "13981234567")
    page.fill("#b-note", "老人八十五岁独居，腿脚不便，请代办员上门代为申请特困人员救助供养；村口第三户，门前有棵黄桷树")
    page.click("#booking-submit")
    expect(page.locator("#booking-done")).to_contain_text("清水镇 · 东坡村")
    expect(page.locator("#booked-day")).to_have_text("2026-03-06 下午")
    expect(page.locator("body")).not_to_contain_text("欧阳秀珍")
    shot(page, "87-public-booking-done", full_page=True)

    log_in(page, "dongpo_agent")
    row = page.locator("#inbox-appointments tr", has_text="欧阳秀珍")
    expect(row).to_contain_text("13981234567")
    expect(row).to_contain_text("上门服务")
    shot(page, "88-inbox-appointments", full_page=True)
    page.click("#appointments-day-link")
    page.fill("#day-form input[name=day]", "2026-03-06")
    page.click("#day-form button[type=submit]")
    row = page.locator("#day-appointments tr", has_text="欧阳秀珍")
    row.locator("button[data-mark=done]").click()
    expect(page.locator(".flash-success")).to_contain_text("已办理")
    expect(page.locator("#day-appointments tr", has_text="欧阳秀珍")).to_contain_text("已办理")
    shot(page, "89-appointments-day-list", full_page=True)
