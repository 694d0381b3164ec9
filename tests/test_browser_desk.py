"""The supervision desk and 延期 in a real browser, over a county with many long-named towns and a long item name.

A supervisor watches a case turn yellow, then red, on the desk as the clock moves; a village agent asks for an
extension on the case page and the town leader approves it from the 延期审批 page. Screenshots 35–39.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine import clock, scheduler
from engine.config import ROOT
from engine.models import OrgUnit
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests import test_browser
from tests.conftest import ARTIFACTS, make_services
from tests.test_browser import log_in, log_out, shot
from tests.test_engine import start

# The browser and the page come from the main browser tests; the page opens this module's own server.
browser, page = test_browser.browser, test_browser.page
LONG_ITEM = "MZ-DIBAO-BY"
LONG_NAME = "农村居民最低生活保障（含重病重残人员单独施保、低保边缘家庭认定及刚性支出困难家庭救助）"
# More towns than fit a chart's axis at their full names: the layout must hold.
MORE_TOWNS = ["青龙湾经济技术开发区管理委员会", "白马寺镇", "金沙江畔乡", "高坪街道办事处", "石牛坝镇", "云雾山彝族乡",
              "柏林镇", "双河口镇"]


@pytest.fixture(scope="module")
def desk_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: extra towns and items must not change what other browser tests see."""
    svc = make_services("sqlite", tmp_path_factory.mktemp("desk-web"), "bianmin_desk_web")
    folder = tmp_path_factory.mktemp("long-item") / "dibao"
    shutil.copytree(ROOT / "bpmn" / "dibao", folder)
    guide = (folder / "item.toml").read_text(encoding="utf-8")
    (folder / "item.toml").write_text(guide.replace('code = "MZ-DIBAO"', f'code = "{LONG_ITEM}"')
                                      .replace('name = "农村居民最低生活保障"', f'name = "{LONG_NAME}"'),
                                      encoding="utf-8")
    with svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)
        county = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "510123"))
        for number, name in enumerate(MORE_TOWNS, start=3):
            session.add(OrgUnit(code=f"510123{100 + number}000", name=name, level="town", parent_id=county))
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="module")
def base_url(desk_services: Services) -> Iterator[str]:
    with test_browser.served(desk_services) as url:
        yield url


def at(day: str) -> None:
    clock.set_now(datetime.fromisoformat(f"{day}T09:00:00+08:00"))


def test_a_supervisor_sees_a_case_turn_yellow_then_red(page: Page, desk_services: Services) -> None:
    quiet = start(desk_services, LONG_ITEM, name="欧阳春梅")
    watched = start(desk_services, LONG_ITEM, village="510123102201", agent="liulin_agent", name="司马建国")
    start(desk_services, name="王秀兰")
    log_in(page, "supervisor")
    page.click("#nav-desk")
    expect(page.locator("#desk-carded")).to_have_count(0)
    expect(page.locator("#desk-by-town")).to_contain_text("清水镇")

    # 2026-04-07: six working days before the promised 04-14, the yellow card's first day.
    at("2026-04-07")
    scheduler.tick(desk_services.cases)
    page.goto("/supervision?period=this_year")
    row = page.locator(f"#desk-carded tr[data-case-number='{watched.case_number}'][data-kind='case']")
    expect(row).to_contain_text("黄牌")
    expect(row).to_contain_text("柳林村 村委会")
    expect(page.locator("#desk-totals [data-kind=case][data-measure=yellow] .tile-n")).to_have_text("3")
    expect(page.locator("#chart-towns canvas")).to_have_count(1)
    shot(page, "35-desk-yellow-1366", full_page=True)

    # The day after the promised date: red, one day overdue.
    at("2026-04-15")
    scheduler.tick(desk_services.cases)
    page.goto("/supervision?period=this_year&card=red")
    row = page.locator(f"#desk-carded tr[data-case-number='{watched.case_number}'][data-kind='case']")
    expect(row).to_contain_text("红牌")
    expect(row.locator("td").last).to_have_text("1")
    expect(page.locator(f"#desk-carded tr[data-case-number='{quiet.case_number}']")).to_have_count(1)
    expect(page.locator("#desk-by-town tr[data-key='石桥镇']")).to_be_visible()
    expect(page.locator("#export-xlsx")).to_have_attribute("href", re.compile("period=this_year&card=red"))
    shot(page, "36-desk-red-1366", full_page=True)
    with page.expect_download() as download:
        page.click("#export-csv")
    saved = download.value.path()
    assert saved and LONG_NAME in Path(saved).read_text(encoding="utf-8-sig")


def test_an_extension_asked_by_a_clerk_and_approved_by_the_town_leader(page: Page, desk_services: Services) -> None:
    case = start(desk_services, LONG_ITEM, name="诸葛秀英")
    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    form = page.locator("#extension-form")
    form.locator("#extension-days").fill("5")
    form.locator("#extension-reason").fill("申请人家庭成员患重病住院，县医院出具的诊断证明须待出院后方能补交，入户核查需相应顺延")
    shot(page, "37-extension-asked-on-case-page", full_page=True)
    page.click("#extension-submit")
    expect(page.locator(".flash-success")).to_contain_text("已提交延期申请（5 个工作日）")
    expect(page.locator("#extension-list")).to_contain_text("待审批")
    log_out(page)

    log_in(page, "qingshui_leader")
    expect(page.locator("#nav-approvals .nav-count")).to_have_text("1")
    page.click("#nav-approvals")
    row = page.locator(f"#approvals tr[data-case-number='{case.case_number}']")
    expect(row).to_contain_text("诊断证明")
    row.locator("input[name=note]").fill("情况属实，同意延期")
    shot(page, "38-extension-approvals-page")
    row.get_by_role("button", name="批准", exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text("已批准延期 5 个工作日")
    expect(page.locator("#nav-approvals .nav-count")).to_have_count(0)
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#extension-list")).to_contain_text("已批准")
    expect(page.locator("#extension-list")).to_contain_text("情况属实，同意延期")
    expect(page.locator("#history")).to_contain_text("延期批准")
    # Five working days after 04-14.
    expect(page.locator(".cards-3")).to_contain_text("2026-04-21")
    shot(page, "39-extension-approved-case-page", full_page=True)
    assert (ARTIFACTS / "39-extension-approved-case-page.png").exists()


def test_screens_hold_their_layout(page: Page) -> None:
    """Nothing on the desk is wider than the window."""
    log_in(page, "supervisor")
    page.goto("/supervision?period=this_year")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
