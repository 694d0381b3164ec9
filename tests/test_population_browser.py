"""人口库查询 in a real browser: a village agent looks the applicant up while accepting a 低保 application, sees the
household, gets the name and 家庭人口 filled, and accepts the case; a wrong number is said in the panel."""

from __future__ import annotations

from dataclasses import replace

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.procedures import applicant
from tests.test_browser import DONGPO, base_url, browser, choose_item, log_in, page, shot  # noqa: F401
from tests.test_intake_browser import REASON
from tests.test_population import ADDRESS, household, register_server


def test_the_agent_fills_the_form_from_the_register_and_accepts(page: Page,  # noqa: F811
                                                                sqlite_services: Services) -> None:
    number = applicant(DONGPO)["id_number"]
    kept = sqlite_services.settings
    with register_server() as (register, url):
        register.households[number] = household(number, "宗政")
        # As BIANMIN_POPULATION_URL would configure it, on the running app, for this test only.
        sqlite_services.settings = replace(kept, population_url=url, population_key_secret="population_key_browser")
        try:
            log_in(page, "dongpo_agent")
            page.goto("/cases/new")
            choose_item(page, "MZ-DIBAO")
            page.fill("#applicant_id_number", number)
            page.get_by_role("button", name="查询人口库").click()

            members = page.locator("#population-members tbody tr")
            expect(members).to_have_count(4)
            expect(members.nth(1)).to_contain_text("热依拉·阿不都热合曼")
            expect(members.nth(1)).to_contain_text("510123********")
            expect(page.locator("#population-address")).to_have_text(ADDRESS)
            expect(page.locator("#population-status")).to_contain_text("已按人口库填入，请与申请人核对")
            expect(page.locator("#applicant_name")).to_have_value("宗政明远")
            expect(page.locator("#f-household_size")).to_have_value("4")
            assert [r["body"] for r in register.requests] == [{"id_number": number}]
            page.fill("#applicant_phone", "13982265517")
            page.fill("#f-annual_income_per_capita", "2400")
            page.check("input[name=f-has_disabled_member][value=false]")
            page.check("input[name=f-has_seriously_ill_member][value=true]")
            page.fill("#f-reason", REASON)
            page.locator("#population-panel").scroll_into_view_if_needed()
            shot(page, "191-population-household-filled", full_page=True)

            # A mistyped number: the panel says why, and what was typed stays.
            page.fill("#applicant_id_number", number[:17] + ("1" if number[17] != "1" else "2"))
            expect(page.locator("#population-panel")).to_be_hidden()
            page.get_by_role("button", name="查询人口库").click()
            expect(page.locator("#population-status")).to_contain_text("身份证号码校验位不正确")
            expect(page.locator("#population-result")).to_be_hidden()
            expect(page.locator("#applicant_name")).to_have_value("宗政明远")
            expect(page.locator("#f-household_size")).to_have_value("4")
            expect(page.locator("#f-reason")).to_have_value(REASON)
            page.evaluate("window.scrollTo(0, 0)")
            shot(page, "192-population-lookup-refused")
            assert len(register.requests) == 1

            page.fill("#applicant_id_number", number)
            page.click("#tick-all")
            page.click("#submit-case")
            expect(page.locator(".flash-success")).to_contain_text("已受理，办件编号")
            expect(page.locator("main")).to_contain_text("宗政明远")
        finally:
            sqlite_services.settings = kept
