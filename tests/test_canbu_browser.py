"""残疾人两项补贴 in the browser: the case page's diagram while the hospital assesses the grade, the clock paused."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import applicant
from tests.test_browser import base_url, browser, log_in, page  # noqa: F401  (fixtures)
from tests.test_canbu import ITEM, application, decide
from tests.test_clock import complete
from tests.test_engine import DONGPO

REASON = ("申请人2019年因车祸致双下肢截瘫，持第二代残疾人证（肢体残疾一级），长期卧床，"
          "日常起居、进食、如厕均需配偶照料；家庭为农村最低生活保障户，配偶务农，儿子在外务工，家庭年人均收入较低，特申请困难残疾人生活补贴和重度残疾人护理补贴。")


def test_case_page_shows_the_assessment_step_and_the_paused_clock(page: Page,  # noqa: F811
                                                                  sqlite_services: Services) -> None:
    svc = sqlite_services
    data = application(svc) | {"subsidy_type": "both", "disability_category": "physical", "disability_grade": "1",
                               "in_dibao_family": True, "needs_long_term_care": True, "applied_by": "village",
                               "certificate_number": "51012319800314252X41", "reason": REASON}
    person = applicant(DONGPO) | {"name": "欧阳秀英"}
    case = svc.cases.start_case(user_id(svc, "dongpo_agent"), ITEM, DONGPO, person, data).case
    complete(svc, "town_review", case.id)
    decide(svc, case, "federation_review", "assess")
    clock.travel(timedelta(days=9))

    log_in(page, "county_disabled")
    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    for element in ("town_review", "federation_review"):
        expect(diagram.locator(f".djs-element.bm-completed[data-element-id='{element}']")).to_have_count(1)
    expect(diagram.locator(".djs-element.bm-active[data-element-id='assessment']")).to_have_count(1)
    expect(page.locator("#open-tasks")).to_contain_text("残疾等级评定（县人民医院）")
    expect(page.locator("#clock-pauses")).to_contain_text("鉴定")
    # Nine days on, past the first promised date, yet not overdue: the assessment holds the clock.
    expect(page.locator("#clock-paused")).to_be_visible()
    expect(page.locator(".kv .badge-danger")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "138-canbu-case-page-assessment.png"), full_page=True)
    diagram.screenshot(path=str(ARTIFACTS / "139-canbu-diagram.png"))

    complete(svc, "assessment", case.id)
    page.goto(f"/cases/{case.id}")
    pauses = page.locator("#clock-pauses tbody tr")
    expect(pauses).to_have_count(1)
    expect(pauses.nth(0).locator("td").nth(3)).to_have_text("7")
    page.locator("#clock-pauses").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "140-canbu-clock-paused-for-assessment.png"))

    page.goto(f"/guide/{ITEM}")
    expect(page.locator("body")).to_contain_text("5个工作日")
    page.screenshot(path=str(ARTIFACTS / "141-canbu-public-guide.png"), full_page=True)
