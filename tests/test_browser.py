"""A real browser (Debian's chromium through Playwright) against a real WSGI server over the demo database.

A village agent accepts a 低保 application, the village committee approves it, the 7-day public notice
passes, and the town's civil-affairs post claims and approves it; the case page draws the diagram with
bpmn-js and the history. Screenshots of each main page land in test-artifacts/.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from engine import clock
from engine.people import accounts
from engine.procedures.deploy import current_version, deploy_folders
from engine.services import Services
from tests.conftest import ARTIFACTS, user_id
from tests.procedures import AID_APPLICATION, AID_SCRIPTS, applicant, dibao_with_scripts, fill
from tests.test_engine import form, open_tasks
from tests.test_incidents import BROKEN_ITEM, deploy_broken, in_publicity, town_review_post_without_level
from tests.test_procedures import TOWN_INSTRUCTIONS, spiff_folder
from webui import create_app

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "bianmin2026"
DONGPO = "510123101201"


@contextmanager
def served(svc: Services, prepare: Callable[[Flask], None] | None = None) -> Iterator[str]:
    """The web app over `svc` (`prepare` may add to it first) on a free local port, in a thread, for the block."""
    app = create_app(services=svc, config={"TESTING": True})
    if prepare:
        prepare(app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="bianmin-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(sqlite_services: Services) -> Iterator[str]:
    with served(sqlite_services) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"browser tests need Debian's chromium at {CHROMIUM}: "
                    "apt-get install chromium fonts-noto-cjk (or run `make system-deps`)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1366, "height": 768})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # A form sent back for correction answers 422, which chromium logs as a failed load: that one is expected.
    opened.on("console", lambda msg: problems.append(f"console: {msg.text}")
              if msg.type == "error" and "status of 422" not in msg.text else None)
    yield opened
    context.close()
    assert not problems, problems


def shot(page: Page, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".who strong")).to_be_visible()
    # Auditors land on their desk; everyone else on the inbox.
    expect(page).to_have_url(re.compile(r"/audit$" if username == "auditor" else r"/inbox"))


def log_out(page: Page) -> None:
    page.get_by_role("button", name="退出").click()
    expect(page).to_have_url(re.compile(r"/login"))


def claim_and_open(page: Page, case_number: str) -> None:
    page.get_by_role("tab", name=re.compile("岗位待办")).click()
    row = page.locator(f"tr[data-case-number='{case_number}']")
    expect(row).to_be_visible()
    row.get_by_role("button", name="认领").click()
    expect(page.locator(".flash-success")).to_contain_text("已认领")
    row = page.locator(f"tr[data-case-number='{case_number}']")
    expect(row.get_by_role("button", name="释放")).to_be_visible()
    row.get_by_role("link", name="办理").click()
    expect(page.locator("#task-form")).to_be_visible()


def fill_dibao_application(page: Page, person: dict[str, str], household_size: str, reason: str) -> None:
    page.fill("#applicant_name", person["name"])
    page.fill("#applicant_id_number", person["id_number"])
    page.fill("#applicant_phone", person["phone"])
    page.fill("#f-household_size", household_size)
    page.fill("#f-annual_income_per_capita", "2400")
    page.check("input[name=f-has_disabled_member][value=false]")
    page.check("input[name=f-has_seriously_ill_member][value=true]")
    page.fill("#f-reason", reason)
    page.click("#tick-all")


def choose_item(page: Page, code: str) -> None:
    """Pick the item on the new-application page, which reloads with its form once the page's script has run."""
    page.wait_for_load_state("load")
    page.select_option("#item", code)
    page.wait_for_url(f"**item={code}*")


def test_dibao_case_from_village_to_town_in_the_browser(page: Page, sqlite_services: Services) -> None:
    started = time.perf_counter()
    person = applicant(DONGPO)

    # The village agent accepts the application.
    log_in(page, "dongpo_agent")
    shot(page, "01-inbox-village-agent")
    page.get_by_role("link", name="受理新申请").first.click()
    choose_item(page, "MZ-DIBAO")
    expect(page.locator("#case-form")).to_be_visible()
    fill_dibao_application(page, person, "三口", "户主患重病，家庭无稳定收入")
    page.click("#submit-case")
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("“家庭人口”应填写整数，“三口”不是整数")
    expect(page.locator("#field-household_size .field-error")).to_be_visible()
    expect(page.locator("#f-household_size")).to_have_value("三口")
    expect(page.locator("#f-reason")).to_have_value("户主患重病，家庭无稳定收入")
    shot(page, "02-new-case-form-with-error", full_page=True)

    page.fill("#f-household_size", "3")
    page.click("#submit-case")
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text("已受理，办件编号")
    number_match = re.search(r"MZ-DIBAO-\d{8}-\d{4}", flash.inner_text())
    assert number_match
    case_number = number_match.group(0)
    case_url = page.url
    expect(page.locator("#case-status")).to_have_text("办理中")
    # The agent who accepted the case handles it: the number in clear, with nothing to reveal.
    expect(page.locator("#pii-applicant_id_number")).to_have_text(person["id_number"])
    expect(page.locator("#reveal-applicant_id_number")).to_have_count(0)
    log_out(page)

    # The village committee claims and approves the first review.
    log_in(page, "dongpo_committee")
    page.get_by_role("tab", name=re.compile("岗位待办")).click()
    expect(page.locator(f"tr[data-case-number='{case_number}']")).to_be_visible()
    shot(page, "03-inbox-committee-post-tasks")
    claim_and_open(page, case_number)
    page.check("input[name=f-village_decision][value=approve]")
    page.check("input[name=f-appraisal_held][value=true]")
    page.fill("#f-village_opinion", "经入户调查，情况属实，同意")
    shot(page, "04-task-form-village-review", full_page=True)
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")

    # The case page: diagram with the completed step marked, the town's investigation next, the history.
    page.goto(case_url)
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-ready", "true")
    expect(diagram.locator("svg").first).to_be_visible()
    expect(diagram.locator(".djs-element.bm-completed[data-element-id='village_review']")).to_have_count(1)
    expect(diagram.locator(".djs-element.bm-active[data-element-id='town_investigation']")).to_have_count(1)
    history = page.locator("#history")
    for kind in ("受理", "任务到达", "认领", "办理"):
        expect(history).to_contain_text(kind)
    expect(page.locator("#step-data")).to_contain_text("经入户调查，情况属实，同意")
    shot(page, "05-case-page-with-diagram", full_page=True)
    log_out(page)

    # The town investigates (recorded here without the browser), then gives its 初审意见 in the browser.
    [investigation] = open_tasks(sqlite_services, int(case_url.rstrip("/").rsplit("/", 1)[1]))
    sqlite_services.cases.complete(user_id(sqlite_services, "qingshui_civil"), investigation.id,
                                   form(sqlite_services, investigation, "approve"))
    log_in(page, "qingshui_civil")
    page.get_by_role("tab", name=re.compile("岗位待办")).click()
    expect(page.locator(f"tr[data-case-number='{case_number}']")).to_contain_text("乡镇初审")
    shot(page, "06-inbox-town-post-tasks")
    claim_and_open(page, case_number)
    expect(page.locator("#task-form")).to_contain_text("初审意见")
    page.check("input[name=f-town_decision][value=approve]")
    page.fill("#f-town_opinion", "收入低于标准，财产符合规定，拟纳入，在村公示")
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("已办理")

    page.goto(case_url)
    expect(diagram).to_have_attribute("data-ready", "true")
    for element in ("village_review", "town_investigation", "town_review"):
        expect(diagram.locator(f".djs-element.bm-completed[data-element-id='{element}']")).to_have_count(1)
    expect(diagram.locator(".djs-element.bm-active[data-element-id='Timer_village_publicity']")).to_have_count(1)
    expect(history).to_contain_text("开始计时")
    shot(page, "07-case-page-in-publicity", full_page=True)
    diagram.screenshot(path=str(ARTIFACTS / "08-diagram-in-publicity.png"))
    print(f"\nbrowser flow took {time.perf_counter() - started:.1f} s")


def test_town_window_accepts_for_a_chosen_village(page: Page, sqlite_services: Services) -> None:
    person = applicant("510123101202")
    log_in(page, "qingshui_window")
    page.get_by_role("link", name="受理新申请").first.click()
    choose_item(page, "MZ-DIBAO")
    expect(page.locator("#case-form")).to_be_visible()
    expect(page.locator("#village option")).to_have_text(["请选择申请人所在村（社区）", "东坡村（510123101201）",
                                                          "河湾村（510123101202）"])
    page.select_option("#village", "510123101202")
    fill_dibao_application(page, person, "2", "无劳动能力，无赡养人")
    shot(page, "10-new-case-town-window", full_page=True)
    page.click("#submit-case")
    expect(page.locator(".flash-success")).to_contain_text("已受理，办件编号 MZ-DIBAO-")
    expect(page.locator("main")).to_contain_text("河湾村")
    shot(page, "11-case-accepted-by-town-window", full_page=True)


def test_computed_values_and_claiming_from_the_task_page(page: Page, sqlite_services: Services,
                                                          tmp_path: Path) -> None:
    with sqlite_services.db.write() as session:
        folder = dibao_with_scripts(tmp_path, "MZ-DIBAO-AID-UI", AID_SCRIPTS)
        deploy_folders(session, [folder], sqlite_services.settings.max_diagram_bytes)
    application = {**AID_APPLICATION, "reason": "户主常年患慢性阻塞性肺病，配偶在外务工收入不稳定，"
                                                "两个孩子分别就读初中和小学，家庭无其他收入来源"}
    case = sqlite_services.cases.start_case(user_id(sqlite_services, "dongpo_agent"), "MZ-DIBAO-AID-UI", DONGPO,
                                            applicant(DONGPO), application).case

    # The committee opens the task from the case page: the task page offers to claim it, and once claimed
    # the step is the committee member's own.
    log_in(page, "dongpo_committee")
    page.goto(f"/cases/{case.id}")
    computed = page.locator("#computed-values")
    expect(computed).to_contain_text("300")
    expect(computed).to_contain_text("待村委会核实")
    shot(page, "12-case-page-computed-values", full_page=True)
    page.locator("a", has_text="办理").first.click()
    expect(page.locator("#task-notice")).to_contain_text("认领")
    page.get_by_role("button", name="认领").click()
    expect(page.locator(".flash-success")).to_contain_text("已认领")
    expect(page.get_by_role("button", name="认领")).to_have_count(0)
    expect(page.locator("#task-form")).to_be_visible()
    # Whoever reviews sees what the procedure computed from the application.
    expect(page.locator("#computed-values")).to_contain_text("300")
    shot(page, "13-task-page-after-claim", full_page=True)


def test_step_without_a_form_is_done_with_a_comment(page: Page, sqlite_services: Services, tmp_path: Path) -> None:
    svc = sqlite_services
    with svc.db.write() as session:
        deploy_folders(session, [spiff_folder(tmp_path)], svc.settings.max_diagram_bytes)
    with svc.db.read() as session:
        schema = current_version(session, "MZ-DIBAO-LITE").forms["application-schema.json"]
    case = svc.cases.start_case(user_id(svc, "hewan_agent"), "MZ-DIBAO-LITE", "510123101202", applicant("510123101202"),
                                fill(schema)).case
    [review] = open_tasks(svc, case.id)
    svc.cases.complete(user_id(svc, "hewan_committee"), review.id, form(svc, review, "approve"))

    log_in(page, "qingshui_civil_b")
    page.goto(f"/cases/{case.id}")
    page.locator("a", has_text="办理").first.click()
    expect(page.locator(".instructions")).to_contain_text(TOWN_INSTRUCTIONS)
    page.fill("#task-form textarea", "已核对村委会协助并提出意见材料：户籍、收入证明、入户调查记录齐全，同意上报")
    shot(page, "14-task-without-form", full_page=True)
    page.click("#submit-task")
    expect(page.locator(".flash-success")).to_contain_text("乡镇核对")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("body")).to_contain_text("已核对村委会协助并提出意见材料")


def test_changing_ones_password(page: Page, sqlite_services: Services) -> None:
    with sqlite_services.db.write() as session:
        accounts.add_user(session, "browser_clerk", "village_agent", DONGPO, password=PASSWORD)
    log_in(page, "browser_clerk")
    page.get_by_role("link", name="修改密码").click()
    expect(page).to_have_url(re.compile(r"/account/password"))
    page.fill("#old_password", PASSWORD)
    page.fill("#new_password", "browser_clerk")
    page.fill("#new_password_again", "browser-clerk-2026")
    page.click("#password-submit")
    errors = page.locator("#form-errors")
    expect(errors).to_contain_text("两次输入的新密码不一致")
    expect(page.locator("#field-new_password_again .field-error")).to_be_visible()
    page.fill("#old_password", PASSWORD)
    page.fill("#new_password", "browser_clerk")
    page.fill("#new_password_again", "browser_clerk")
    page.click("#password-submit")
    expect(page.locator("#field-new_password .field-error")).to_have_text("新密码不能与用户名相同")
    shot(page, "15-password-change-refused", full_page=True)

    page.fill("#old_password", PASSWORD)
    page.fill("#new_password", "browser-clerk-2026")
    page.fill("#new_password_again", "browser-clerk-2026")
    page.click("#password-submit")
    expect(page.locator(".flash-success")).to_have_text("密码已修改，其他浏览器和设备上的登录均已退出")
    expect(page).to_have_url(re.compile(r"/inbox"))
    shot(page, "16-password-changed")
    log_out(page)
    page.fill("input[name=username]", "browser_clerk")
    page.fill("input[name=password]", "browser-clerk-2026")
    page.click("button[type=submit]")
    expect(page.locator(".who strong")).to_be_visible()


def test_administrators_see_the_incidents_page(page: Page, sqlite_services: Services, tmp_path: Path) -> None:
    svc = sqlite_services
    deploy_broken(svc, tmp_path)

    # One case fails after its 公示 until retrying stops; two more fail a week later, one on the same script
    # and one because the town's civil-affairs post was set up without a level.
    given_up = in_publicity(svc, BROKEN_ITEM, name="欧阳秀兰").case_number
    clock.travel(timedelta(days=8))
    svc.cases.run_due_timers()
    for attempts in range(1, svc.cases.retry.max_attempts):
        clock.travel(svc.cases.retry.wait(attempts))
        svc.cases.run_due_timers()
    script = in_publicity(svc, BROKEN_ITEM, "510123101202", "hewan_agent", "司马建国").case_number
    post = in_publicity(svc, "MZ-DIBAO", name="李桂芳").case_number
    with town_review_post_without_level(svc):
        clock.travel(timedelta(days=8))
        svc.cases.run_due_timers()

    log_in(page, "admin")
    page.get_by_role("link", name="异常办件").click()
    expect(page).to_have_url(re.compile(r"/incidents"))
    table = page.locator("#incidents")
    given_up_row = table.locator("tr", has_text=given_up)
    expect(given_up_row).to_contain_text("已停止重试")
    expect(given_up_row).to_contain_text("8 / 8")
    expect(table.locator("tr", has_text=script)).to_contain_text("objection_count")
    expect(table.locator("tr", has_text=post)).to_contain_text("没有所属层级")
    shot(page, "17-incidents-admin", full_page=True)
    log_out(page)
    log_in(page, "dongpo_agent")
    expect(page.get_by_role("link", name="异常办件")).to_have_count(0)
