"""乡村建设规划许可证 in a real browser: the case page draws the four-lane 联办 diagram with the parallel reviews
marked as they stand."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.test_browser import base_url, browser, log_in, page  # noqa: F401
from tests.test_engine import form, holder, open_tasks
from tests.test_jianshe import register


def test_the_case_page_shows_one_review_done_and_the_other_running(page: Page,  # noqa: F811
                                                                   sqlite_services: Services) -> None:
    case = register(sqlite_services)
    [land] = [task for task in open_tasks(sqlite_services, case.id) if task.element_id == "land_review"]
    sqlite_services.cases.complete(holder(sqlite_services, land), land.id, form(sqlite_services, land, "approve")
                                   | {"land_opinion": "拟建位置符合东坡村村庄规划，未占用永久基本农田，宅基地权属清楚"})
    log_in(page, "qingshui_planning")
    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator(".djs-element.bm-completed[data-element-id='land_review']")).to_have_count(1)
    expect(diagram.locator(".djs-element.bm-active[data-element-id='building_review']")).to_have_count(1)
    for lane in ("国土所", "村镇规划建设办", "便民服务中心窗口", "分管领导"):
        expect(diagram).to_contain_text(lane)
    expect(page.locator("#open-tasks")).to_contain_text("建设审查（住建）")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "130-jianshe-case-page.png"), full_page=True)
    diagram.screenshot(path=str(ARTIFACTS / "131-jianshe-diagram.png"))


def test_the_public_guide_names_both_departments_and_where_the_days_come_from(page: Page) -> None:  # noqa: F811
    page.goto("/guide/ZJ-XCGHXK")
    body = page.locator("main")
    for text in ("乡村建设规划许可证", "10", "20", "《中华人民共和国城乡规划法》第四十一条", "国土所（自然资源）",
                 "村镇规划建设办（住建）", "设计施工图", "土地权属的证明文件", "免费"):
        expect(body).to_contain_text(text)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "132-jianshe-public-guide.png"), full_page=True)
