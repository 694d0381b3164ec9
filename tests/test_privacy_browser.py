"""Personal data in the browser: a clerk of another post reveals an applicant's ID number with a reason, and the
auditor finds that reveal on /audit/reveals."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from engine.idcard import mask_id_number
from engine.services import Services
from tests.test_browser import base_url, browser, log_in, log_out, page, shot  # noqa: F401  (fixtures)
from tests.test_privacy_web import SPOUSE_ID, start_with_household


def test_a_clerk_reveals_with_a_reason_and_the_auditor_sees_it(page: Page,  # noqa: F811
                                                               sqlite_services: Services, tmp_path: Path) -> None:
    case = start_with_household(sqlite_services, tmp_path)
    masked = mask_id_number(case.applicant_id_number)

    # 清水镇国土所 sees the town's 低保 case but has no step on it: every number is masked.
    log_in(page, "qingshui_land")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#pii-applicant_id_number")).to_have_text(masked)
    expect(page.locator("#pii-applicant_phone")).to_have_text(case.applicant_phone[:3] + "****"
                                                              + case.applicant_phone[-4:])
    expect(page.locator("body")).not_to_contain_text(SPOUSE_ID)
    expect(page.locator("body")).to_contain_text("510123********0027")
    expect(page.locator("#reveal-application-spouse_id summary")).to_have_text("查看完整")
    shot(page, "70-case-page-masked-for-another-post", full_page=True)

    # 查看完整 opens the form: a reason must be chosen (the browser refuses an empty choice) and confirmed.
    form = page.locator("#reveal-applicant_id_number")
    form.locator("summary").click()
    form.get_by_role("button", name="确认查看").click()
    expect(page.locator("#pii-applicant_id_number")).to_have_text(masked)
    form.locator("select[name=reason]").select_option("核实身份")
    shot(page, "71-reveal-reason-chosen")
    form.get_by_role("button", name="确认查看").click()
    expect(page.locator(".flash-success")).to_contain_text("已按“核实身份”显示完整的申请人身份证号码")
    expect(page.locator("#pii-applicant_id_number")).to_have_text(case.applicant_id_number)
    expect(page.locator("#reveal-applicant_id_number")).to_have_count(0)
    expect(page.locator("#reveal-applicant_phone")).to_have_count(1)
    shot(page, "72-revealed-for-this-page")
    # Coming back shows it masked again: the reveal was for that page.
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#pii-applicant_id_number")).to_have_text(masked)
    log_out(page)

    log_in(page, "auditor")
    page.click("#nav-reveals")
    page.fill("#reveal-filters input[name=case]", case.case_number)
    page.click("#reveal-filters button[type=submit]")
    row = page.locator(f"#reveal-log tr[data-case='{case.case_number}']")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("清水镇国土所")
    expect(row).to_contain_text(case.applicant_name)
    expect(row).to_contain_text(masked)
    expect(row).to_contain_text("申请人身份证号码")
    expect(row).to_contain_text("核实身份")
    expect(row).to_contain_text("127.0.0.1")
    expect(page.locator("#reveal-log")).not_to_contain_text(case.applicant_id_number)
    shot(page, "73-auditor-reveal-log", full_page=True)
    # The auditor handles nothing: the case page masks for them too.
    row.get_by_role("link", name=case.case_number).click()
    expect(page.locator("#pii-applicant_id_number")).to_have_text(masked)
    log_out(page)

    # The committee's step is open: it handles the case and reads everything in clear, with nothing to reveal.
    log_in(page, "dongpo_committee")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#pii-applicant_id_number")).to_have_text(case.applicant_id_number)
    expect(page.locator("body")).to_contain_text(SPOUSE_ID)
    expect(page.locator("details.reveal")).to_have_count(0)
    shot(page, "74-case-page-clear-for-the-handler", full_page=True)
