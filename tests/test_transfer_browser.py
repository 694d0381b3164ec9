"""转办 and 委派 in the browser: 清水镇's civil-affairs clerk hands a 低保 family's investigation to the county's
civil-affairs bureau with the reason; the county finds it marked 转办 in its inbox, reads why on the task page and
completes it. The clerk finds what they delegated under 委派中 and takes one back."""

from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import user_id
from tests.procedures import applicant
from tests.test_browser import base_url, browser, claim_and_open, log_in, log_out, page, shot  # noqa: F401
from tests.test_engine import DONGPO, form, open_tasks

HEWAN = "510123101202"

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


# Three families' investigations the clerk hands to colleagues: (village, applicant, colleague, what is asked).
DELEGATIONS = [
    (DONGPO, "拓跋秀英", "qingshui_window",
     "申请人独居，长期卧床，请于本周内会同东坡村村委会入户核实家庭实际居住情况和收入来源，拍照留存后填写调查意见交我审核。"),
    (HEWAN, "拓跋国庆", "qingshui_civil_b",
     "申请人之子在外省务工，请向其务工单位函询近十二个月工资发放情况，并核对名下银行账户流水后填写调查意见。"),
    (DONGPO, "拓跋春梅", "qingshui_window",
     "请核对申请人家庭成员名下车辆、房产登记信息和残疾人证等级，邻里访问不少于三户，结果填入调查表后交回。"),
]


def test_the_clerk_finds_what_is_delegated_and_takes_one_back(page: Page,  # noqa: F811
                                                              sqlite_services: Services) -> None:
    svc = sqlite_services
    clerk = user_id(svc, "qingshui_civil")
    cases = []
    for village, name, colleague, reason in DELEGATIONS:
        prefix = "dongpo" if village == DONGPO else "hewan"
        case = svc.cases.start_case(user_id(svc, f"{prefix}_agent"), "MZ-DIBAO", village, applicant(village) | {
            "name": name, "phone": "13908162345"}, APPLICATION).case
        [step] = open_tasks(svc, case.id)
        svc.cases.complete(user_id(svc, f"{prefix}_committee"), step.id, form(svc, step, "approve"))
        [town] = open_tasks(svc, case.id)
        svc.cases.delegate(clerk, town.id, user_id(svc, colleague), reason)
        cases.append((case, town))
        clock.travel(timedelta(minutes=47))
    page.set_viewport_size({"width": 1366, "height": 900})

    log_in(page, "qingshui_civil")
    tab = page.locator("#tab-delegated")
    expect(tab).to_contain_text("委派中")
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    table = page.locator("#inbox-table")
    expect(table.locator("thead")).to_contain_text("受委派人")
    for (case, _), (_, name, _, _) in zip(cases, DELEGATIONS, strict=True):
        row = page.locator(f"tr[data-case-number='{case.case_number}']")
        expect(row).to_contain_text(name)
        expect(row.get_by_role("link", name="查看 / 收回委派")).to_be_visible()
    shot(page, "195-delegated-list")
    # Nothing squeezed at 1366 px: the table fits the page; the item, the step and the shorter colleague's name
    # each keep one line (the post's long display name may take two).
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    for case, _ in cases:
        lines = page.locator(f"tr[data-case-number='{case.case_number}']").evaluate("""row => [1, 5, 6].map(i => {
            const range = document.createRange();
            range.selectNodeContents(row.cells[i].firstChild);
            return range.getClientRects().length;
        })""")
        assert lines[:2] == [1, 1] and lines[2] <= 2, lines

    # The link opens the task page, where the clerk reads what was asked and takes it back.
    case, town = cases[1]
    page.locator(f"tr[data-case-number='{case.case_number}']").get_by_role("link", name="查看 / 收回委派").click()
    expect(page.locator("#arrival-note")).to_contain_text("务工单位函询")
    page.click("#recall-delegation")
    expect(page.locator(".flash-success")).to_contain_text("已收回委派")
    page.goto("/inbox?tab=delegated")
    expect(page.locator(f"tr[data-case-number='{case.case_number}']")).to_have_count(0)
    expect(page.locator(f"tr[data-case-number='{cases[0][0].case_number}']")).to_be_visible()
    page.locator("#tab-mine").click()
    expect(page.locator(f"tr[data-case-number='{case.case_number}']")).to_be_visible()
