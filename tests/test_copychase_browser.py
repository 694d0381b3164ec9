"""抄送 and 催办 in the browser: the town's civil affairs clerk copies a 低保 case to two county posts, the county
disabled persons' federation finds it in 抄送我的 and reads it read-only; the supervisor chases the town's step from
the case page and finds the chase counted on the desk."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine import clock
from engine.models import Case, OrgUnit, Task
from engine.services import Services
from engine.tasks import copy
from engine.tasks.copy import Post
from tests.test_browser import base_url, browser, log_in, log_out, page, shot  # noqa: F401  (fixtures)
from tests.test_copychase import actor as reader
from tests.test_engine import form, holder, open_tasks, start

NOTE = ("申请人之子欧阳建国为二级肢体残疾，已持第二代残疾人证，家庭无其他劳动力；请县残联同步掌握情况，"
        "核对是否已享受困难残疾人生活补贴和重度残疾人护理补贴，必要时启动主动服务。")
CHASE = ("该户已在村公示栏张贴初审意见，群众反映强烈；家庭经济状况调查已超过十个工作日未入户，"
         "请于本周五前完成入户调查、邻里访问和信息核对，并在系统中提交调查结论。")


def at_town(svc: Services, name: str) -> tuple[Case, Task]:
    """A 低保 case waiting at the town's investigation, and that task."""
    case = start(svc, name=name)
    [village] = open_tasks(svc, case.id)
    svc.cases.complete(holder(svc, village), village.id, form(svc, village, "approve") | {
        "village_opinion": "经村民代表会议民主评议，到会代表二十一人，一致认为该户家庭困难情况属实，同意推荐"})
    [town] = open_tasks(svc, case.id)
    return case, town


def test_copied_to_a_county_post_read_there_and_chased_by_the_supervisor(page: Page,  # noqa: F811
                                                                         sqlite_services: Services) -> None:
    svc = sqlite_services
    with svc.db.read() as session:
        county = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "510123"))
    # Earlier copies to the same post, so 抄送我的 shows a read one beside the new.
    for name, note in (("司马春兰", "该户户主长期卧床，请县残联核实残疾等级评定进度"), ("诸葛桂芳", "")):
        earlier, town = at_town(svc, name)
        [made] = svc.cases.copy_case(holder(svc, town), town.id, [Post("county_disabled_federation", county)], note)
    with svc.db.write() as session:
        copy.mark_read(session, reader(svc, "county_disabled"), made.id, clock.now())
    case, town = at_town(svc, "欧阳秀英")
    case_id, number, task_id = case.id, case.case_number, town.id

    log_in(page, "qingshui_civil")
    page.goto(f"/tasks/{task_id}")
    page.locator("#copy summary").click()
    page.get_by_label("青山县 县残联").check()
    page.get_by_label("青山县 县民政局").check()
    page.fill("#copy-note", NOTE)
    shot(page, "180-copy-form", full_page=True)
    page.click("#copy-submit")
    expect(page.locator(".flash, .alert-success").first).to_contain_text("已抄送给 2 个岗位")
    log_out(page)

    log_in(page, "county_disabled")
    page.goto("/inbox")
    expect(page.locator("#tab-copies")).to_contain_text("抄送我的")
    page.click("#tab-copies")
    row = page.locator(f"#copies-table tr[data-case-number='{number}']")
    expect(row).to_contain_text("欧阳秀英")
    expect(row).to_contain_text("未读")
    expect(row).to_contain_text("家庭经济状况调查")
    shot(page, "181-copied-to-me", full_page=True)
    row.get_by_role("link", name=number).click()
    expect(page.locator("#copied-note")).to_contain_text("抄送给本岗位，仅供查阅")
    expect(page.locator("#copied-note")).to_contain_text("二级肢体残疾")
    expect(page.locator("#open-tasks .btn")).to_have_count(0)
    shot(page, "182-copied-case-read-only")
    page.goto("/copies")
    expect(page.locator(f"#copies-table tr[data-case-number='{number}']")).to_contain_text("已读")
    log_out(page)

    log_in(page, "supervisor")
    page.goto(f"/cases/{case_id}")
    page.locator(f"#chase-{task_id} summary").click()
    page.fill(f"#chase-note-{task_id}", CHASE)
    shot(page, "183-chase-from-case-page")
    page.locator(f"#chase-{task_id} .chase-submit").click()
    expect(page.locator(".flash, .alert-success").first).to_contain_text("已催办")
    expect(page.locator("#case-chases")).to_contain_text("本周五前完成入户调查")
    expect(page.locator("#case-copies")).to_contain_text("青山县 县残联")
    expect(page.locator("#history")).to_contain_text("催办")
    page.locator("#case-copies").scroll_into_view_if_needed()
    shot(page, "184-case-copies-and-chases")
    page.goto("/supervision")
    expect(page.locator("#desk-chases-table")).to_contain_text("清水镇 民政办")
