"""退回 and 撤回 in the browser: the town leader sends one of 宅基地's three parallel reviews back with a reason, its
reviewer finds it with the reason and the earlier answer, and a reviewer withdraws a review before the leader acts."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.test_browser import base_url, browser, log_in, log_out, page  # noqa: F401  (fixtures)
from tests.test_zhaijidi import APPLICATION, do, open_steps, register, review, to_reviews

REASON = ("规划审查意见只写“同意”，未说明拟建位置是否在村庄规划确定的居民点范围内、层数和高度是否符合要求；"
          "请对照《东坡村村庄规划（2021—2035年）》逐项核对后重新出具意见。")


def test_one_parallel_review_sent_back_and_another_withdrawn(page: Page,  # noqa: F811
                                                             sqlite_services: Services) -> None:
    svc = sqlite_services
    case = register(svc, location=APPLICATION["location"] + "（原村小学旧址西侧约三十米，紧邻村道）")
    to_reviews(svc, case.id)
    review(svc, case.id, {"planning_review": {"planning_opinion": "同意"}})
    assert open_steps(svc, case.id) == ["town_review"]
    page.set_viewport_size({"width": 1366, "height": 900})
    ARTIFACTS.mkdir(exist_ok=True)

    log_in(page, "qingshui_leader")
    page.goto(f"/cases/{case.id}")
    page.locator("#open-tasks a").first.click()
    page.locator("#send-back summary").click()
    options = page.locator("#send-back-target option")
    expect(options).to_contain_text(["并行办理的各环节全部重办", "农业农村审查", "现场勘察及用地审查", "规划审查"])
    page.select_option("#send-back-target", label="规划审查")
    page.fill("#send-back-reason", REASON)
    page.screenshot(path=str(ARTIFACTS / "168-send-back-form.png"), full_page=True)
    page.click("#send-back-submit")
    expect(page.locator(".flash, .alert-success").first).to_contain_text("规划审查")
    assert open_steps(svc, case.id) == ["planning_review"]
    log_out(page)

    # The planning reviewer gets it back as theirs, sees why, and finds their earlier answer in the form.
    log_in(page, "qingshui_planning")
    page.goto("/inbox?tab=mine")
    expect(page.locator("main")).to_contain_text(case.case_number)
    page.screenshot(path=str(ARTIFACTS / "169-sent-back-in-inbox.png"), full_page=True)
    page.goto(f"/cases/{case.id}")
    page.locator("#open-tasks a").first.click()
    expect(page.locator("#arrival-note")).to_contain_text("对照《东坡村村庄规划")
    expect(page.locator("#arrival-note")).to_contain_text("退回")
    page.screenshot(path=str(ARTIFACTS / "185-sent-back-task-page.png"), full_page=True)

    # The reviewer answers again, then withdraws it from the case page before the leader has acted.
    do(svc, case.id, "planning_review",
       planning_opinion="拟建位置在村庄规划确定的东坡村三组居民点范围内，两层，檐口高度7.2米，符合规划要求")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#withdraw")).to_be_visible()
    page.fill("#withdraw-reason", "层数写错，应为两层半，需更正后重新提交")
    page.screenshot(path=str(ARTIFACTS / "186-withdraw-on-case-page.png"), full_page=True)
    page.click("#withdraw-submit")
    expect(page.locator("#arrival-note")).to_contain_text("撤回")
    assert open_steps(svc, case.id) == ["planning_review"]
    # The history says who sent back and withdrew, and why.
    page.goto(f"/cases/{case.id}")
    history = page.locator("body")
    expect(history).to_contain_text("退回")
    expect(history).to_contain_text("层数写错")
