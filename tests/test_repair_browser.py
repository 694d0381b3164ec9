"""The repair of a failed step in a real browser: the clerk's message, the incident list, a refused mapping, the
migration to a corrected version and the retry, and a cancellation with a reason. Screenshots 54–57."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine import clock
from engine.errors import StepHeld
from engine.services import Services
from tests.conftest import make_services
from tests.test_browser import browser, claim_and_open, log_in, log_out, page, served, shot  # noqa: F401 (fixtures used by name)
from tests.test_engine import form, holder, open_tasks, start
from tests.test_incidents import BROKEN_ITEM, deploy_broken, in_publicity
from tests.test_repair import APPROVE, BROKEN, ITEM, publish

OPINION = ("经村民代表会议民主评议并入户核查：申请人家庭共三口人，配偶长期患病卧床，子女在校就读，"
           "家庭人均月收入低于本县农村低保标准，材料齐全，同意上报乡镇审核")


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    # Its own database: the incident list must show this test's cases, and the fix is published to it.
    services = make_services("sqlite", tmp_path_factory.mktemp("repair_browser"), "bianmin_repair_browser")
    yield services
    services.db.dispose()


@pytest.fixture(scope="module")
def base_url(svc: Services) -> Iterator[str]:
    with served(svc) as url:
        yield url


def test_an_administrator_repairs_a_failed_step_in_the_browser(page: Page, svc: Services,  # noqa: F811
                                                               tmp_path: Path) -> None:
    # A 公示 whose timed path fails, for the list to show both kinds.
    deploy_broken(svc, tmp_path / "tally")
    in_publicity(svc, BROKEN_ITEM, name="李桂芳")
    clock.travel(timedelta(days=8))
    svc.cases.run_due_timers()
    publish(svc, tmp_path / "broken", BROKEN)
    stuck = start(svc, ITEM, name="欧阳秀英")
    other = start(svc, ITEM, "510123101202", "hewan_agent", "司马建国")
    [task] = open_tasks(svc, other.id)
    with pytest.raises(StepHeld):
        svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))

    # The clerk approves the village review; the path after it fails and the input is kept.
    log_in(page, "dongpo_committee")
    claim_and_open(page, stuck.case_number)
    page.check("input[name=f-village_decision][value=approve]")
    page.fill("#f-village_opinion", OPINION)
    page.click("#submit-task")
    expect(page.locator(".flash-error")).to_contain_text("您填写的内容已保存，系统管理员已收到通知")
    expect(page.locator("#task-notice")).to_contain_text("初审是否同意")
    # The form shows what was kept: the clerk may wait for the repair or change an answer and send it again.
    expect(page.locator("#f-village_opinion")).to_have_value(OPINION)
    shot(page, "54-step-failed-input-kept", full_page=True)
    log_out(page)

    # The administrator is told, and finds both kinds in the list.
    log_in(page, "admin")
    page.get_by_role("link", name="异常办件").click()
    table = page.locator("#incidents")
    row = table.locator("tr", has_text=stuck.case_number)
    expect(row).to_contain_text("提交后出错")
    expect(row).to_contain_text("待管理员修复")
    expect(table.locator("tr", has_text="李桂芳")).to_contain_text("定时器到期")
    shot(page, "55-incidents-with-failed-steps", full_page=True)

    # A corrected version is published; a mapping to an element it does not have is refused.
    publish(svc, tmp_path / "fixed", APPROVE)
    row.get_by_role("link", name="修复").click()
    panel = page.locator("#repair")
    expect(panel).to_contain_text("初审是否同意")
    expect(panel).to_contain_text("village_score")
    mapping = panel.locator("input[name='map:village_review']")
    mapping.fill("village_check")
    panel.get_by_role("button", name="检查并迁移").click()
    expect(page.locator(".flash-error")).to_contain_text("没有环节“village_check”")
    expect(page.locator("#case-status")).to_have_text("办理中")
    page.locator("#repair-kept summary").click()
    expect(page.locator("#repair-kept")).to_contain_text("民主评议")
    shot(page, "56-repair-panel-mapping-refused", full_page=True)

    # Migrated with the same ids, then retried: the kept approval goes through to the 公示.
    panel.get_by_role("button", name="检查并迁移").click()
    expect(page.locator(".flash-success")).to_contain_text("办件已迁移到 v2")
    page.locator("#repair").get_by_role("button", name="按保存的内容重试").click()
    expect(page.locator(".flash-success")).to_contain_text("已按保存的内容重试")
    expect(page.locator("#repair")).to_have_count(1)  # an administrator's panel stays, without a failure
    expect(page.locator("#repair-failure")).to_have_count(0)
    expect(page.locator("#open-tasks")).to_contain_text("初审公示7天")
    history = page.locator("#history")
    for kind in ("环节出错（转异常办件）", "迁移流程版本", "管理员重试", "开始计时"):
        expect(history).to_contain_text(kind)
    expect(page.locator("#step-data")).to_contain_text("民主评议")
    shot(page, "57-case-migrated-and-retried", full_page=True)

    # The other case is cancelled: refused without a reason, then done with one.
    page.goto(f"/cases/{other.id}")
    page.locator("#repair-cancel").get_by_role("button", name="撤销办件").click()
    expect(page.locator(".flash-error")).to_contain_text("撤销办件须填写原因")
    page.fill("#repair-cancel textarea[name=reason]", "申请人已书面撤回申请（户籍迁往邻县），经村委会电话核实")
    page.locator("#repair-cancel").get_by_role("button", name="撤销办件").click()
    expect(page.locator("#case-status")).to_have_text("已撤销")
    expect(page.locator("#history")).to_contain_text("撤销办件")
    expect(page).to_have_url(re.compile(rf"/cases/{other.id}"))
