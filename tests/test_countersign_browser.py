"""会签 in a real browser: three town posts each sign their share of 乡镇联合审核 from their own inbox, each seeing who
signed before them; the case page lists who signed how and the diagram notes each signed step's tally; the village
committee adds the town's civil-affairs office to sign before it (加签) and gets the task back with its answer."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from engine.models import User
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.test_browser import base_url, browser, claim_and_open, log_in, log_out, page, shot  # noqa: F401  (fixtures)
from tests.test_countersign import answer, signers, to_step, village_task
from tests.test_engine import holder

# What the town's three posts write: long, as such opinions are.
OPINIONS = {
    "qingshui_health": "经与村卫生室核实，申请人之妻患尿毒症，需长期血液透析，医疗支出已占家庭收入的大部分，"
                       "医保报销后自付部分仍然较重，家庭因病致贫情况属实，同意报送集体研究。",
    "qingshui_leader": "申请材料齐全，入户调查和民主评议程序规范，初审公示期间无异议；家庭收入低于本地保障标准，"
                       "财产状况符合规定，同意。请民政办在集体研究时一并说明分类施保的意见。",
    "qingshui_civil": "经入户调查、邻里走访和信息核对，申请人家庭共同生活成员收入和财产状况与申报一致，"
                      "无机动车辆和商业用房，符合农村最低生活保障条件，同意纳入并按规定报送审批。",
}
MEETING_REFUSAL = ("集体研究时发现申请人之子在县城有个体经营登记，经营收入尚未核实，现有材料不足以认定"
                   "家庭收入低于保障标准，暂不同意，建议补充核实后重新研究。")


def sign_in_browser(tab: Page, username: str, case_number: str) -> None:
    """`username` takes their post's share from the inbox, sees the sign-off card, and approves with an opinion."""
    log_in(tab, username)
    claim_and_open(tab, case_number)
    expect(tab.locator("#sign-off")).to_contain_text("会签（共 3 个岗位，须全部同意）")
    tab.check("input[name=f-town_decision][value=approve]")
    tab.fill("#f-town_opinion", OPINIONS[username])


def test_three_posts_sign_a_joint_review_in_the_browser(page: Page,  # noqa: F811
                                                        sqlite_services: Services) -> None:
    case = to_step(sqlite_services, "李桂芳", "town_review")
    number = case.case_number

    sign_in_browser(page, "qingshui_health", number)
    card = page.locator("#sign-off")
    expect(card.locator("tr[data-post='town_health']")).to_contain_text("待签署")
    expect(card).to_contain_text("已签 0/3")
    shot(page, "175-countersign-first-signer-task-page", full_page=True)
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")
    log_out(page)

    sign_in_browser(page, "qingshui_leader", number)
    health = page.locator("#sign-off tr[data-post='town_health']")
    expect(health).to_contain_text("同意")
    expect(health).to_contain_text("因病致贫情况属实")
    expect(page.locator("#sign-off")).to_contain_text("已签 1/3：同意 1、不同意 0")
    shot(page, "176-countersign-second-signer-sees-the-first", full_page=True)
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")
    log_out(page)

    sign_in_browser(page, "qingshui_civil", number)
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")
    # The next step, a 2-of-3 meeting, opened; its leader refuses (recorded without the browser).
    leader = signers(sqlite_services, case.id, "town_meeting")["town_leader"]
    sqlite_services.cases.complete(holder(sqlite_services, leader), leader.id,
                                   answer(sqlite_services, leader, "reject") | {"meeting_opinion": MEETING_REFUSAL})

    page.goto(f"/cases/{case.id}")
    signatures = page.locator("#signatures")
    joint = signatures.locator(".signing[data-kind='all']")
    expect(joint).to_contain_text("已通过")
    for username, text in OPINIONS.items():
        expect(joint).to_contain_text(text[:20])
        expect(joint).to_contain_text(page_name(sqlite_services, username))
    meeting = signatures.locator(".signing[data-kind='ratio']")
    expect(meeting).to_contain_text("2/3 同意即通过")
    expect(meeting.locator("tr[data-post='town_leader']")).to_contain_text("不同意")
    expect(meeting.locator("tr[data-post='town_agriculture']")).to_contain_text("待签署")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator(".djs-overlays[data-container-id='town_review'] .bm-tally")).to_have_text("会签 3/3 已通过")
    expect(diagram.locator(".djs-overlays[data-container-id='town_meeting'] .bm-tally")).to_have_text("比例会签 1/3")
    expect(page.locator("#history")).to_contain_text("签署")
    shot(page, "177-case-page-signatures", full_page=True)
    diagram.scroll_into_view_if_needed()
    diagram.screenshot(path=str(ARTIFACTS / "178-diagram-sign-off-tallies.png"))


def page_name(svc: Services, username: str) -> str:
    with svc.db.read() as session:
        found = session.get(User, user_id(svc, username))
        assert found is not None
        return found.display_name


def test_the_committee_adds_a_signer_before_itself_in_the_browser(page: Page,  # noqa: F811
                                                                  sqlite_services: Services) -> None:
    case, task = village_task(sqlite_services, "赵德明")
    log_in(page, "dongpo_committee")
    claim_and_open(page, case.case_number)
    page.locator("#add-signer summary").click()
    page.select_option("#add-signer-post", label="清水镇 民政办")
    page.check("input[name=position][value=before]")
    page.fill("#add-signer-reason", "申请人家庭成员中有长期在外务工人员，收入情况村里无法核实，"
                                    "请乡镇民政办先通过信息核对平台查询后再由村委会初审。")
    page.click("#add-signer-submit")
    expect(page.locator(".flash-success")).to_contain_text("已加签：清水镇 民政办将先行签署")
    log_out(page)

    log_in(page, "qingshui_civil")
    claim_and_open(page, case.case_number)
    expect(page.locator("#added-signer-1")).to_contain_text("加签：")
    expect(page.locator("#added-signer-1")).to_contain_text("信息核对平台")
    page.check("input[name=f-village_decision][value=approve]")
    page.fill("#f-village_opinion", "经信息核对平台查询，该务工人员近一年无社保缴费和工资发放记录，"
                                    "收入以零星务工为主，与申报情况基本一致。")
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")
    log_out(page)

    log_in(page, "dongpo_committee")
    page.goto(f"/tasks/{task.id}")
    expect(page.locator("#signed-before-note")).to_contain_text("已在您之前签署")
    expect(page.locator("#f-village_opinion")).to_have_value(
        "经信息核对平台查询，该务工人员近一年无社保缴费和工资发放记录，收入以零星务工为主，与申报情况基本一致。")
    expect(page.locator("#added-signer-1")).to_contain_text("已签署")
    shot(page, "179-added-signer-answered-back-with-the-holder", full_page=True)
