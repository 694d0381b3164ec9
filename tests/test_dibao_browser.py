"""农村居民最低生活保障 in the browser: the case page at the town's investigation and during the 公示, the diagram
legible, the investigation form, and the public guide with the property test and 57号's limits."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.procedures.deploy import current_version
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import applicant, fill
from tests.test_browser import base_url, browser, log_in, page  # noqa: F401  (fixtures)
from tests.test_dibao import ITEM, answer
from tests.test_engine import DONGPO

REASON = ("户主2024年因腰椎骨折丧失劳动能力，配偶患慢性肾病需长期透析，两个孩子在校读书；"
          "家庭仅靠三亩承包地收入，年人均收入低于本县农村低保标准，特申请最低生活保障。")


def test_case_page_at_the_investigation_and_during_the_publicity(page: Page,  # noqa: F811
                                                                 sqlite_services: Services) -> None:
    svc = sqlite_services
    with svc.db.read() as session:
        schema = current_version(session, ITEM).forms["application.schema.json"]
    data = fill(schema) | {"household_size": 4, "annual_income_per_capita": 3600, "has_seriously_ill_member": True,
                           "reason": REASON}
    person = applicant(DONGPO) | {"name": "诸葛秀梅"}
    case = svc.cases.start_case(user_id(svc, "dongpo_agent"), ITEM, DONGPO, person, data).case
    answer(svc, case, "village_review", village_decision="reject",
           village_opinion="民主评议时部分村民代表认为其子女可赡养，建议乡镇核实")

    log_in(page, "qingshui_civil")
    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator(".djs-element.bm-completed[data-element-id='village_review']")).to_have_count(1)
    expect(diagram.locator(".djs-element.bm-active[data-element-id='town_investigation']")).to_have_count(1)
    expect(page.locator("#open-tasks")).to_contain_text("家庭经济状况调查")
    # The committee's 不建议 is on record, yet the case is at the town.
    expect(page.locator("body")).to_contain_text("不建议纳入")
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "155-dibao-case-page-investigation.png"), full_page=True)
    diagram.screenshot(path=str(ARTIFACTS / "156-dibao-diagram.png"))

    page.locator("#open-tasks a").first.click()
    expect(page.locator("body")).to_contain_text("调查人员")
    expect(page.locator("body")).to_contain_text("财产是否符合规定")
    page.screenshot(path=str(ARTIFACTS / "157-dibao-investigation-form.png"), full_page=True)

    answer(svc, case, "town_investigation", investigators="李明、张华", investigated_on="2026-03-04",
           property_findings="无存款；无机动车；自住砖混房一处；无经营")
    answer(svc, case, "town_review", town_opinion="家庭人均收入低于标准，财产符合规定，拟纳入")
    clock.travel(timedelta(days=3))
    page.goto(f"/cases/{case.id}")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator(".djs-element.bm-active[data-element-id='Timer_village_publicity']")).to_have_count(1)
    expect(page.locator("#clock-pauses")).to_contain_text("公示")
    expect(page.locator("#clock-paused")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "158-dibao-case-page-publicity.png"), full_page=True)

    page.goto(f"/guide/{ITEM}")
    guide = page.locator("body")
    expect(guide).to_contain_text("30个工作日")
    expect(guide).to_contain_text("机动车")
    expect(guide).to_contain_text("民发〔2021〕57号")
    page.screenshot(path=str(ARTIFACTS / "159-dibao-public-guide.png"), full_page=True)
