"""The window in a real browser: a missing material, the one-time notice, the applicant's return and the receipt;
a refusal in the register; an immediate case; a duplicate application refused; the intake list under §32."""

from __future__ import annotations

import re
from datetime import datetime

from playwright.sync_api import Page, expect

from engine import clock
from tests.procedures import applicant
from tests.test_browser import (  # noqa: F401  (the browser fixtures)
    DONGPO,
    base_url,
    browser,
    choose_item,
    log_in,
    log_out,
    page,
    shot,
)

REASON = ("户主王德明患尿毒症长期透析，妻子双下肢残疾无劳动能力，儿子在读高中，家庭无稳定收入来源，"
          "去年因病支出医疗费用四万余元，生活十分困难，特申请农村居民最低生活保障")


def fill_application(tab: Page, person: dict[str, str]) -> None:
    tab.fill("#applicant_name", person["name"])
    tab.fill("#applicant_id_number", person["id_number"])
    tab.fill("#applicant_phone", person["phone"])
    tab.fill("#f-household_size", "4")
    tab.fill("#f-annual_income_per_capita", "2400")
    tab.check("input[name=f-has_disabled_member][value=true]")
    tab.check("input[name=f-has_seriously_ill_member][value=true]")
    tab.fill("#f-reason", REASON)


def tick(tab: Page, material: str, copies: str = "1", original: bool = False) -> None:
    row = tab.locator(f"#checklist tr[data-material='{material}']")
    row.locator("input[name$='_received']").check()
    row.locator("input[name$='_copies']").fill(copies)
    if original:
        row.locator("input[name$='_original']").check()


def test_notice_return_receipt_refusal_immediate_and_duplicate(page: Page) -> None:  # noqa: F811
    person = applicant(DONGPO) | {"name": "王德明"}
    log_in(page, "dongpo_agent")
    page.goto("/cases/new")
    choose_item(page, "MZ-DIBAO")
    fill_application(page, person)
    tick(page, "户主书面申请书")
    tick(page, "户口簿及家庭成员身份证复印件", "4", original=True)
    tick(page, "重病、重残等其他有关证明材料", "2")
    page.locator("#checklist tr[data-material='家庭收入证明'] input[name$='_note']").fill(
        "近12个月家庭收入情况，由村委会出具并加盖公章")
    shot(page, "100-intake-checklist", full_page=True)

    # Accepting with a material missing is refused, naming it.
    page.click("#submit-case")
    expect(page.locator("#form-errors")).to_contain_text("缺少家庭收入证明")
    page.click("#outcome-supplement")
    expect(page.locator(".flash-success")).to_contain_text("已出具一次性告知书")
    expect(page.locator("#case-status")).to_have_text("待补正")
    expect(page.locator("#window-missing")).to_contain_text("家庭收入证明")
    expect(page.locator("#window-missing")).to_contain_text("加盖公章")
    number = re.search(r"MZ-DIBAO-\d{8}-\d{4}", page.locator("h1").inner_text())
    assert number
    shot(page, "101-case-awaiting-supplement", full_page=True)

    # A second notice is not offered: 一次性 means all at once.
    expect(page.locator("#window-form #outcome-supplement")).to_have_count(0)

    # The applicant comes back with the income certificate: the same case is accepted with a receipt.
    page.locator("#window-form #tick-all").click()
    page.locator("#window-form #submit-case").click()
    expect(page.locator(".flash-success")).to_contain_text(f"已受理，办件编号 {number.group(0)}")
    expect(page.locator("#case-status")).to_have_text("办理中")
    expect(page.locator("main")).to_contain_text("收件回执单")
    shot(page, "102-case-accepted-with-receipt", full_page=True)

    # The same applicant applying again while the case is open is refused, naming it.
    page.goto("/cases/new")
    choose_item(page, "MZ-DIBAO")
    fill_application(page, person)
    page.click("#tick-all")
    page.click("#submit-case")
    expect(page.locator("#form-errors")).to_contain_text(f"已有本事项的办件 {number.group(0)}（办理中）")
    shot(page, "103-duplicate-refused")

    # 不予受理 with reasons, entered in the refusal register.
    page.goto("/cases/new")
    choose_item(page, "MZ-DIBAO")
    fill_application(page, applicant(DONGPO) | {"name": "阿依古丽·买买提"})
    page.click("#tick-all")
    page.locator("#refusal summary").click()
    page.fill("#reasons", "申请人户籍已于2025年迁出本村，不属本村（社区）受理范围，请向现户籍所在地提出申请")
    page.fill("#basis", "《社会救助暂行办法》第十一条；《最低生活保障审核确认办法》第八条")
    page.click("#outcome-refuse")
    expect(page.locator("#case-status")).to_have_text("不予受理")
    expect(page.locator("#window-refusal")).to_contain_text("户籍已于2025年迁出本村")
    shot(page, "104-not-accepted", full_page=True)

    # 即办件: 老年人优待证 accepted and completed on one screen.
    page.goto("/cases/new")
    choose_item(page, "MZ-YOUDAI")
    elder = applicant(DONGPO) | {"name": "欧阳秀英"}
    page.fill("#applicant_name", elder["name"])
    page.fill("#applicant_id_number", elder["id_number"])
    page.fill("#applicant_phone", elder["phone"])
    page.fill("#f-age", "72")
    page.check("input[name=f-household_here][value=true]")
    page.click("#tick-all")
    page.check("input[name=f-handle_decision][value=approve]")
    page.fill("#f-handle_opinion", "身份证复印件与本人一致，年满65周岁，户籍在本村，照片符合要求，当场发放优待证")
    shot(page, "105-immediate-one-screen", full_page=True)
    page.click("#submit-case")
    expect(page.locator(".flash-success")).to_contain_text("已当场受理并办结")
    expect(page.locator("#case-status")).to_have_text("已办结")
    shot(page, "106-immediate-completed", full_page=True)

    # 收件待审: on working day 3 the intake list warns of §32.
    page.goto("/cases/new")
    choose_item(page, "MZ-DIBAO")
    fill_application(page, applicant(DONGPO) | {"name": "John O'Neil"})
    tick(page, "户主书面申请书")
    page.click("#outcome-receive")
    expect(page.locator("#case-status")).to_have_text("收件待审")
    expect(page.locator("#window-s32")).to_contain_text("逾期视为受理日 2026-03-09")
    expect(page.locator("#window-s32")).to_contain_text("距视为受理还有 5 个工作日")
    shot(page, "109-received-section32", full_page=True)
    clock.set_now(datetime(2026, 3, 5, 10, 0, tzinfo=clock.SHANGHAI))
    page.goto("/intake")
    expect(page.locator("#intake-list")).to_contain_text("John O'Neil")
    expect(page.locator("#intake-list [data-s32]").first).to_contain_text("2026-03-09 视为受理")
    shot(page, "107-intake-list", full_page=True)
    log_out(page)

    log_in(page, "supervisor")
    page.goto("/supervision/refusals")
    expect(page.locator("#refusals")).to_contain_text("阿依古丽·买买提")
    expect(page.locator("#refusals")).to_contain_text("东坡村代办员")
    shot(page, "108-refusal-register", full_page=True)
