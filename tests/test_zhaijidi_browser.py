"""宅基地 in the browser: the case page at the town's parallel reviews with its eight-lane diagram legible, and the
months of building after the licence that do not turn the case red."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import applicant
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import DONGPO
from tests.test_zhaijidi import APPLICATION, ITEM, REVIEWS, do, review, to_reviews

REASON = "儿子成家分户，与父母同住一处两间砖木结构老房，人均住房面积不足，现申请新建住宅一处，原老房留给父母居住"


def test_case_page_at_the_parallel_reviews_and_after_the_licence(page: Page,  # noqa: F811
                                                                  sqlite_services: Services) -> None:
    svc = sqlite_services
    person = applicant(DONGPO) | {"name": "欧阳建国"}
    case = svc.cases.start_case(user_id(svc, "dongpo_agent"), ITEM, DONGPO, person,
                                APPLICATION | {"reason": REASON}).case
    to_reviews(svc, case.id)
    do(svc, case.id, "land_survey", survey_attendance="东坡村三组组长、申请人到场指认四至")

    log_in(page, "qingshui_agriculture")
    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    for element in ("village_review", "Timer_village_publicity", "intake", "land_survey"):
        expect(diagram.locator(f".djs-element.bm-completed[data-element-id='{element}']")).to_have_count(1)
    for element in ("agriculture_review", "planning_review"):
        expect(diagram.locator(f".djs-element.bm-active[data-element-id='{element}']")).to_have_count(1)
    expect(page.locator("#open-tasks")).to_contain_text("农业农村审查")
    expect(page.locator("#open-tasks")).to_contain_text("清水镇 农业农村办")
    shot(page, "150-zhaijidi-case-page-parallel-reviews", full_page=True)
    diagram.screenshot(path=str(ARTIFACTS / "151-zhaijidi-diagram.png"))

    # The reviews agree, the town approves and issues the 批准书: the decision is there while building goes on.
    review(svc, case.id, order=[step for step in REVIEWS if step != "land_survey"])
    do(svc, case.id, "town_review", approved_area_sqm=115.0)
    do(svc, case.id, "issue_licences", homestead_certificate_no="清水宅批〔2026〕18号",
       planning_permit_no="乡字第510123202600018号")
    do(svc, case.id, "setting_out")
    clock.travel(timedelta(days=120))
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#open-tasks")).to_contain_text("竣工验收")
    expect(page.locator("#clock-paused")).to_be_visible()
    expect(page.locator(".kv .badge-danger")).to_have_count(0)
    expect(page.locator("#document-list")).to_contain_text("准予许可决定书")
    page.locator("#document-list").scroll_into_view_if_needed()
    shot(page, "152-zhaijidi-building-after-the-licence", full_page=True)

    page.locator("#document-list a").first.click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.id}/documents/\d+$"))
    expect(page.locator("body")).to_contain_text("准予许可决定书")
    shot(page, "153-zhaijidi-approval-decision", full_page=True)

    page.goto(f"/guide/{ITEM}")
    expect(page.locator("body")).to_contain_text("20个工作日")
    expect(page.locator("body")).to_contain_text("云农经〔2020〕5号")
    shot(page, "154-zhaijidi-public-guide", full_page=True)

