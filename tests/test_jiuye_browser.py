"""In a real browser: a 就业失业登记 case sent up by the village agent after 补正 and registered by the county
人社局 post; the case page draws the two-lane diagram. Screenshots 142–144 land in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import applicant
from tests.test_browser import base_url, browser, claim_and_open, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import DONGPO, holder, open_tasks

APPLICATION = {"registration_kind": "unemployment", "residence": "resident",
               "last_employer": "青山县清水镇红星机械厂（2025年12月关停，劳动合同已解除）",
               "status_since": "2026-01-15",
               "job_wish": "机械维修或叉车驾驶，希望在青山县城或清水镇工业园区就近就业，可接受倒班"}


def test_county_hr_registers_a_case_the_village_agent_carried(page: Page,  # noqa: F811
                                                              sqlite_services: Services) -> None:
    svc = sqlite_services
    person = applicant(DONGPO) | {"name": "欧阳建国"}
    case = svc.cases.start_case(user_id(svc, "dongpo_agent"), "RS-JIUYE", DONGPO, person, APPLICATION).case
    [intake] = open_tasks(svc, case.id)
    agent = holder(svc, intake)
    svc.cases.complete(agent, intake.id, {
        "intake_decision": "correct", "intake_opinion": "身份证、1寸照片已收，缺原单位出具的失业证明",
        "intake_missing": "青山县清水镇红星机械厂出具的解除劳动合同证明（加盖公章）"})
    [supplement] = open_tasks(svc, case.id)
    clock.travel(timedelta(days=3))  # the applicant brings the missing paper on Thursday
    svc.cases.complete(agent, supplement.id, {"supplement_note": "申请人已补交红星机械厂解除劳动合同证明原件"})
    [again] = open_tasks(svc, case.id)
    svc.cases.complete(agent, again.id, {
        "intake_decision": "approve", "intake_opinion": "失业证明、身份证、1寸照片1张齐全，报送县人社局登记"})

    log_in(page, "county_hr")
    claim_and_open(page, case.case_number)
    expect(page.locator("#task-form")).to_contain_text("审核结论")
    shot(page, "143-jiuye-county-register-form", full_page=True)
    page.check("input[name=f-register_decision][value=approve]")
    page.fill("#f-register_opinion", "失业证明属实，处于无业状态、有就业要求，准予失业登记，发放《就业创业证》")
    page.fill("#f-certificate_number", "5101230260302001")
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")

    page.goto(f"/cases/{case.id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    for element in ("agent_intake", "supplement", "county_register"):
        expect(diagram.locator(f".djs-element.bm-completed[data-element-id='{element}']")).to_have_count(1)
    expect(diagram).to_contain_text("县人力资源和社会保障局")
    diagram.screenshot(path=str(ARTIFACTS / "142-jiuye-diagram-registered.png"))
    shot(page, "144-jiuye-case-page-registered", full_page=True)


def test_public_guide_names_the_seed_limit_and_the_renamed_card(page: Page) -> None:  # noqa: F811
    page.goto("/guide/RS-JIUYE")
    body = page.locator("main")
    expect(body).to_contain_text("15")
    expect(body).to_contain_text("人社部发〔2014〕97号")
    expect(body).to_contain_text("《就业创业证》（原《就业失业登记证》）")
    shot(page, "145-jiuye-public-guide", full_page=True)
