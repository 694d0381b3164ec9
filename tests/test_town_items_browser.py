"""The town's 林木采伐许可证 in a real browser: the forestry post works it from the inbox; the case page's diagram."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.cases.outcomes import Window
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import applicant
from tests.test_browser import base_url, browser, claim_and_open, log_in, page, shot  # noqa: F401
from tests.test_town_items import CAIFA, DONGPO, LOGGING, YOUDAI, YOUDAI_MATERIALS, ticks


def test_forestry_post_licenses_and_the_case_page_draws_two_lanes(page: Page,  # noqa: F811
                                                                   sqlite_services: Services) -> None:
    person = applicant(DONGPO) | {"name": "欧阳建国"}
    case = sqlite_services.cases.start_case(user_id(sqlite_services, "qingshui_window"), CAIFA, DONGPO, person,
                                            LOGGING, Window(ticks())).case
    log_in(page, "qingshui_forestry")
    claim_and_open(page, case.case_number)
    page.check("input[name=f-review_decision][value=approve]")
    page.fill("#f-approved_count", "24")
    page.fill("#f-review_opinion", "经现场查验，林权证四至与实地一致，杉木24株均在承包林地内，胸径符合采伐技术规程，"
                                   "准予采伐；采伐后须于次年春季完成补植")
    shot(page, "146-caifa-forestry-review-form", full_page=True)
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")

    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator(".djs-element.bm-completed[data-element-id='forestry_review']")).to_have_count(1)
    expect(page.locator("body")).to_contain_text("林木采伐许可证核发")
    expect(page.locator("#step-data")).to_contain_text("杉木24株")
    shot(page, "147-caifa-case-page-diagram", full_page=True)
    diagram.screenshot(path=str(ARTIFACTS / "148-caifa-diagram.png"))


def test_youdai_case_page_after_the_spot_decision(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    step = sqlite_services.cases.handle_immediate(
        user_id(sqlite_services, "dongpo_agent"), YOUDAI, DONGPO, applicant(DONGPO) | {"name": "司马秀英"},
        {"age": 78, "household_here": True}, Window(YOUDAI_MATERIALS),
        {"handle_decision": "approve", "handle_opinion":
                                               "身份证复印件与照片核对无误，户籍在东坡村，年满65周岁，当场发证"})
    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{step.case.id}")
    expect(page).to_have_url(re.compile(rf"/cases/{step.case.id}$"))
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator(".djs-element.bm-completed[data-element-id='handle']")).to_have_count(1)
    shot(page, "149-youdai-case-page-diagram", full_page=True)

