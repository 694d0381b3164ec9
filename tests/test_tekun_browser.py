"""特困人员救助供养 in the browser: the case page during the village 公示 and after an objection sent it back to the
town's 调查核实, the diagram legible at 1366 px, and the public guide (screenshots 160–164)."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import applicant
from tests.test_browser import base_url, browser, log_in, page  # noqa: F401  (fixtures)
from tests.test_engine import DONGPO
from tests.test_tekun import ITEM, REPRESENTATIVE, application, work

REASON = ("本人现年七十六岁，老伴早年去世，无子女，患慢性支气管炎多年，已无力耕种承包地，"
          "靠侄子和邻居接济度日，本人行动不便，委托侄子代为申请特困人员救助供养。")


def test_case_page_during_publicity_and_after_an_objection(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    svc = sqlite_services
    page.set_viewport_size({"width": 1366, "height": 900})
    data = application(svc) | REPRESENTATIVE | {"reason": REASON, "income_source": "无固定收入，靠亲友接济"}
    person = applicant(DONGPO) | {"name": "欧阳桂英"}
    case = svc.cases.start_case(user_id(svc, "dongpo_agent"), ITEM, DONGPO, person, data).case
    work(svc, case, "village_review", village_opinion="申请人独居，无子女，丧偶多年，情况属实")
    work(svc, case, "town_investigation", self_care="partial", proposed_support_mode="dispersed")
    work(svc, case, "town_review", town_opinion="经入户调查、邻里访问和信息核对，符合特困人员认定条件，拟纳入分散供养")
    clock.travel(timedelta(days=3))

    log_in(page, "qingshui_civil")
    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    for element in ("village_review", "town_investigation", "town_review"):
        expect(diagram.locator(f".djs-element.bm-completed[data-element-id='{element}']")).to_have_count(1)
    expect(diagram.locator(".djs-element.bm-active[data-element-id='Timer_village_notice']")).to_have_count(1)
    # Who applied on the person's behalf, as the window recorded it (the town handles the case: numbers in clear).
    body = page.locator("body")
    expect(body).to_contain_text("亲属或他人代为申请")
    expect(body).to_contain_text("欧阳志强")
    expect(body).to_contain_text("侄子")
    # Three days into the 公示 the clock is held: it does not count against the 25 working days.
    expect(page.locator("#clock-paused")).to_be_visible()
    expect(page.locator("#clock-pauses")).to_contain_text("公示")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "160-tekun-case-page-publicity.png"), full_page=True)
    diagram.scroll_into_view_if_needed()
    diagram.screenshot(path=str(ARTIFACTS / "161-tekun-diagram.png"))

    clock.travel(timedelta(days=4))  # the seventh day: the 公示 is over
    assert svc.cases.run_due_timers() >= 1
    work(svc, case, "publicity_result", publicity_decision="objection",
         objection_summary="有村民反映申请人侄子每月给付生活费，需核实赡养、扶养情况")
    page.goto(f"/cases/{case.id}")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator(".djs-element.bm-active[data-element-id='town_investigation']")).to_have_count(1)
    expect(page.locator("#open-tasks")).to_contain_text("乡镇调查核实")
    page.screenshot(path=str(ARTIFACTS / "162-tekun-case-page-reinvestigation.png"), full_page=True)

    [task_link] = page.locator("#open-tasks a[href*='/tasks/']").all()[:1]
    task_link.click()
    expect(page.locator("#task-form")).to_contain_text("生活自理能力评估")
    page.screenshot(path=str(ARTIFACTS / "163-tekun-investigation-form.png"), full_page=True)

    page.goto(f"/guide/{ITEM}")
    expect(page.locator("body")).to_contain_text("25个工作日")
    expect(page.locator("body")).to_contain_text("委托村民委员会或者他人代为提出申请")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true")
    page.screenshot(path=str(ARTIFACTS / "164-tekun-public-guide.png"), full_page=True)
