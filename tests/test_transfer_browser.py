"""转办 in the browser: 清水镇's civil-affairs clerk hands a 低保 family's investigation to the county's civil-affairs
bureau with the reason; the county finds it marked 转办 in its inbox, reads why on the task page and completes it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant
from tests.test_browser import base_url, browser, claim_and_open, log_in, log_out, page, shot  # noqa: F401
from tests.test_engine import DONGPO, form, open_tasks

REASON = ("申请人欧阳秀兰户籍在东坡村，但自2023年起随女儿常住县城滨江路社区，家庭收入和名下车辆、存款须由县民政局"
          "会同县公安局、县不动产登记中心和人民银行县支行统一核对；乡镇无权查询上述信息，故转县民政局社会救助股办理。")
APPLICATION = {"household_size": 2, "annual_income_per_capita": 4638, "has_disabled_member": False,
               "has_seriously_ill_member": True,
               "reason": "本人68岁，患类风湿性关节炎和高血压多年，丧失劳动能力；老伴2022年病故，现与外孙同住，"
                         "仅靠每月基础养老金和女儿少量接济生活，医药费开支大，生活十分困难，特申请农村最低生活保障。"}
FINDINGS = ("经县民政局会同公安、不动产登记、人民银行核对：申请人名下无机动车、无商品房，银行存款合计3,200元；"
            "女儿欧阳丽在县城务工，月收入2,100元，已依法计入赡养费用。家庭月人均收入386.5元，低于本县低保标准。")


def test_a_town_clerk_transfers_to_the_county_which_completes_it(page: Page,  # noqa: F811
                                                                sqlite_services: Services) -> None:
    svc = sqlite_services
    case = svc.cases.start_case(user_id(svc, "dongpo_agent"), "MZ-DIBAO", DONGPO, applicant(DONGPO) | {
        "name": "欧阳秀兰", "phone": "13808161234"}, APPLICATION).case
    [village] = open_tasks(svc, case.id)
    svc.cases.complete(user_id(svc, "dongpo_committee"), village.id, form(svc, village, "approve") | {
        "village_opinion": "经村民代表会议民主评议，申请人年老体弱、常年患慢性病，家庭生活确有困难，同意上报乡镇审核"})
    page.set_viewport_size({"width": 1366, "height": 900})

    # The town clerk takes the investigation, then hands it to the county bureau with the reason.
    log_in(page, "qingshui_civil")
    claim_and_open(page, case.case_number)
    page.locator("#transfer summary").click()
    options = page.locator("#transfer-post option")
    expect(options).to_contain_text(["东坡村 · 村委会", "清水镇 · 分管领导", "青山县 · 县民政局"])
    expect(page.locator("#transfer-post")).not_to_contain_text("石桥镇")
    page.select_option("#transfer-post", label="青山县 · 县民政局")
    page.fill("#transfer-reason", REASON)
    shot(page, "170-transfer-form", full_page=True)
    page.click("#transfer-submit")
    expect(page.locator(".flash-success")).to_contain_text("已转办至青山县 · 县民政局")
    expect(page.locator(f"tr[data-case-number='{case.case_number}']")).to_have_count(0)
    shot(page, "171-transferred-inbox")
    log_out(page)

    # The county bureau finds it waiting for its post, marked 转办, and reads why on the task page.
    log_in(page, "county_civil")
    page.goto(f"/inbox?tab=post&q={case.case_number}")
    row = page.locator(f"tr[data-case-number='{case.case_number}']")
    expect(row.locator(".arrival-badge")).to_have_text("转办")
    expect(row).to_contain_text("家庭经济状况调查")
    shot(page, "172-county-inbox-with-transfer-mark")
    claim_and_open(page, case.case_number)
    note = page.locator("#arrival-note")
    expect(note).to_contain_text("转办至本岗位")
    expect(note).to_contain_text("人民银行县支行统一核对")
    page.fill("#f-investigators", "县民政局社会救助股 王建国、刘秀兰")
    page.fill("#f-investigated_on", "2026-03-03")
    for name in ("home_visit", "neighbour_visit", "information_check", "income_below_standard",
                 "property_within_rule"):
        page.check(f"input[name=f-{name}][value=true]")
    page.fill("#f-income_per_capita_monthly", "386.5")
    page.fill("#f-property_findings", "名下无机动车、无商品房，银行存款合计3,200元，符合财产规定")
    page.fill("#f-investigation_findings", FINDINGS)
    shot(page, "173-transferred-task-page", full_page=True)
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")
    assert [task.element_id for task in open_tasks(svc, case.id)] == ["town_review"]

    # The history names both posts and the reason.
    page.goto(f"/cases/{case.id}")
    history = page.locator("#history")
    expect(history).to_contain_text("转办")
    expect(history).to_contain_text("青山县 · 县民政局")
    expect(history).to_contain_text(re.compile("清水镇 · 民政办"))
    history.scroll_into_view_if_needed()
    shot(page, "174-case-history-with-transfer", full_page=True)
