"""In a real browser: a 代办 case carried village → town → back (委托, 传递, 办结, 回交, 签收, the applicant's rating
on the public query page), and an enquiry handed from the village agent to the town window under 首问负责.
Screenshots 125–129 land in test-artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.test_browser import base_url, browser, log_in, log_out, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import drive, form, holder, open_tasks, start


def test_a_proxy_case_goes_to_the_town_and_back_to_the_applicant(page: Page,  # noqa: F811
                                                                 sqlite_services: Services) -> None:
    case = start(sqlite_services, name="欧阳秀英")
    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#first-contact")).to_contain_text("东坡村")
    expect(page.locator("#proxy-none")).to_be_visible()
    # 传递 is not offered before the 委托 is recorded.
    expect(page.locator("#proxy-form-handed_over")).to_have_count(0)

    entrusted = {"principal": "欧阳建华", "matter": "代为申请农村居民最低生活保障，并代领审批结果和低保证",
                 "phone": "13981234567", "at": "2026-03-02T08:30"}
    fill_step(page, "entrusted", entrusted)
    # A principal who is not the applicant must say how they are related: refused, nothing recorded.
    expect(page.locator(".flash-error")).to_contain_text("欧阳建华不是申请人本人：请填写与申请人欧阳秀英的关系")
    expect(page.locator("#proxy-timeline")).to_have_count(0)
    fill_step(page, "entrusted", {**entrusted, "relation": "儿子（在外务工，委托代办员全程代办）"})
    expect(page.locator(".flash-success")).to_contain_text("已登记委托")

    fill_step(page, "handed_over", {"office": "清水镇便民服务中心 民政社保窗口", "method": "代办员每周二集中送达"})
    expect(page.locator(".flash-success")).to_contain_text("已登记传递")
    timeline = page.locator("#proxy-timeline li")
    expect(timeline).to_have_count(2)
    expect(timeline.first).to_contain_text("2026-03-02 08:30")
    expect(page.locator("#history")).to_contain_text("代办传递")
    page.locator("#proxy").scroll_into_view_if_needed()
    shot(page, "125-proxy-entrusted-and-handed-over")
    # Not yet completed: 回交 is not offered.
    expect(page.locator("#proxy-form-returned")).to_have_count(0)
    log_out(page)

    # The town's civil-affairs clerk works the case and sees who carried it there; no form is offered them.
    drive_to_town(sqlite_services, case.id)
    log_in(page, "qingshui_civil")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#proxy-timeline")).to_contain_text("清水镇便民服务中心 民政社保窗口")
    # They handle the case (their post has its step), so they see the principal's number in clear.
    expect(page.locator("#proxy-timeline")).to_contain_text("13981234567")
    expect(page.locator(".proxy-form")).to_have_count(0)
    log_out(page)

    final, _ = drive(sqlite_services, case)
    assert final.status == "completed"
    log_in(page, "dongpo_agent")
    waiting = page.locator("#awaiting-return")
    expect(waiting.locator(f"tr[data-case-number='{case.case_number}']")).to_be_visible()
    waiting.scroll_into_view_if_needed()
    shot(page, "127-inbox-awaiting-return")
    waiting.locator(f"tr[data-case-number='{case.case_number}']").get_by_role("link", name="登记回交").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case.id}#proxy$"))
    fill_step(page, "returned", {"handed_back": "青山县民政局低保审批决定书、农村居民最低生活保障证",
                                 "method": "送达申请人家中"})
    expect(page.locator(".flash-success")).to_contain_text("已登记回交")
    page.locator("#proxy-form-received").get_by_role("button", name="登记签收").click()
    expect(page.locator(".flash-success")).to_contain_text("已登记签收")
    expect(page.locator("#proxy-timeline li")).to_have_count(4)
    expect(page.locator("#proxy-timeline li").last).to_contain_text("欧阳秀英")
    expect(page.locator(".proxy-form")).to_have_count(0)
    page.locator("#proxy").screenshot(path=str(shot_path("128-proxy-record-complete")))
    page.goto("/inbox")
    expect(page.locator(f"#awaiting-return tr[data-case-number='{case.case_number}']")).to_have_count(0)
    log_out(page)

    # At home with the decision, the applicant looks the case up on the public page and rates the service.
    tail = case.applicant_id_number[-4:]
    page.goto("/query")
    page.fill("#q-number", case.case_number)
    page.fill("#q-tail", tail)
    page.click("#query-submit")
    expect(page.locator("#query-status")).to_contain_text("已办结")
    rating = page.locator("#public-rating-form")
    expect(rating.locator("input[name=case_number]")).to_have_value(case.case_number)
    rating.locator("input[name=id_last4]").fill(tail)
    rating.locator("input[value=满意]").check()
    rating.locator("textarea[name=comment]").fill("代办员送上门，不用跑镇上")
    rating.get_by_role("button").click()
    expect(page.locator("#public-feedback")).to_contain_text("感谢您的评价")
    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#rating-level")).to_have_text("满意")


def fill_step(opened: Page, kind: str, values: dict[str, str]) -> None:
    form = opened.locator(f"#proxy-form-{kind}")
    for name, value in values.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()


def drive_to_town(svc: Services, case_id: int) -> None:
    """The village committee has given its opinion, so the town's investigation is open."""
    task = open_tasks(svc, case_id)[0]
    svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
    assert open_tasks(svc, case_id)[0].element_id == "town_investigation"


def shot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_an_enquiry_is_handed_to_the_town_window_and_answered(page: Page) -> None:  # noqa: F811
    log_in(page, "dongpo_agent")
    page.get_by_role("link", name="咨询登记").click()
    page.fill("#person_name", "司马玉兰")
    page.fill("#contact", "13990881234")
    page.fill("#matter", "女儿在成都务工，想咨询为外孙办理户口迁入和城乡居民医保参保需要带哪些材料，能否由村里代办")
    page.get_by_role("button", name="登记").click()
    expect(page.locator(".flash-success")).to_contain_text("由您首问负责")
    page.select_option("#post", label="清水镇 · 便民服务中心窗口")
    page.fill("#note", "户口迁入须本人到派出所，医保参保由镇窗口答复")
    page.get_by_role("button", name="转办").last.click()
    expect(page.locator("#enquiry-status")).to_have_text("已转办待接办")
    expect(page.locator("#enquiry-owner")).to_contain_text("待接办")
    page.goto("/enquiries?scope=place")
    expect(page.locator("#enquiry-list tr", has_text="司马玉兰")).to_contain_text("已转办待接办")
    shot(page, "126-enquiries-register", full_page=True)
    log_out(page)

    log_in(page, "qingshui_window")
    row = page.locator("#inbox-enquiries tr", has_text="司马玉兰")
    expect(row).to_be_visible()
    row.get_by_role("link", name="查看").click()
    page.get_by_role("button", name="接办").click()
    expect(page.locator(".flash-success")).to_contain_text("已接办，现由您负责")
    page.select_option("#answer_method", "电话解答")
    page.fill("#answer", "医保参保带户口簿和身份证到镇便民服务中心社保窗口办理，可由村代办员代办；"
                         "户口迁入须本人到派出所")
    page.locator("#enquiry-answer-submit").click()
    expect(page.locator("#enquiry-status")).to_have_text("已答复")
    expect(page.locator("#enquiry-trail li")).to_have_count(4)
    shot(page, "129-enquiry-handed-on-and-answered", full_page=True)
