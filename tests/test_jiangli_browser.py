"""农村部分计划生育家庭奖励扶助 in the browser: the case page's diagram at the county's 确认 step and the public
guide (screenshots 134–136)."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import applicant
from tests.test_browser import DONGPO, base_url, browser, log_in, page, shot  # noqa: F401 (fixtures used by name)
from tests.test_engine import form, holder, open_tasks

CODE = "WJ-JIANGFU"
APPLICATION = {
    "spouse_name": "欧阳建国",
    "residence_type": "agricultural",
    "children_status": "two_daughters",
    "children_detail": "长女欧阳丽娟，1982年7月出生，已出嫁至邻县；次女欧阳丽萍，1986年11月出生，现在广东省东莞市务工",
    "no_policy_violation": True,
    "note": "本人与配偶均为东坡村第三村民小组农业户口，1986年后落实长效节育措施，未再生育",
}


def at_county_step(svc: Services) -> int:
    """A case whose village and town steps and both notices are over, waiting for the county's 确认."""
    person = applicant(DONGPO) | {"name": "司马秀英"}
    case = svc.cases.start_case(user_id(svc, "dongpo_agent"), CODE, DONGPO, person, APPLICATION).case
    for _ in range(2):
        [task] = open_tasks(svc, case.id)
        svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
        clock.travel(timedelta(days=8))
        svc.cases.run_due_timers()
    return case.id


def test_case_page_diagram_at_the_county_and_the_public_guide(page: Page,  # noqa: F811
                                                              sqlite_services: Services) -> None:
    case_id = at_county_step(sqlite_services)
    log_in(page, "county_health")
    page.goto(f"/cases/{case_id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    for element in ("village_review", "Timer_village_publicity", "town_review", "Timer_town_publicity"):
        expect(diagram.locator(f".djs-element.bm-completed[data-element-id='{element}']")).to_have_count(1)
    expect(diagram.locator(".djs-element.bm-active[data-element-id='county_confirm']")).to_have_count(1)
    expect(page.locator("body")).to_contain_text("司马秀英")
    shot(page, "134-jiangli-case-page", full_page=True)
    diagram.screenshot(path=str(ARTIFACTS / "135-jiangli-diagram-at-county.png"))

    page.goto(f"/guide/{CODE}")
    expect(page.locator("body")).to_contain_text("财教〔2011〕623号")
    expect(page.locator("body")).to_contain_text("近期免冠一寸照片")
    shot(page, "136-jiangli-public-guide", full_page=True)
