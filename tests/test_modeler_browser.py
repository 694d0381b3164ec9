"""The modeler in a real browser: a diagram with problems shows each one on its element and cannot be published
until they are put right in the Bianmin panel; a diagram saved by Camunda Modeler opens and saves with its extensions.

Until the procedures catalog is on the branch, a stand-in for its draft endpoints (the shared contract: GET/POST
/procedures/drafts/<id>/files, POST …/publish) is registered here, and only when the app has none of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, g, request
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from engine import clock
from engine.errors import DeployRefused, Problem
from engine.models import ProcedureDraft, ProcedureVersion
from engine.procedures.bundle import read_files
from engine.procedures.deploy import deploy, known_roles
from engine.services import Services
from tests.conftest import ARTIFACTS, ROOT, make_services, user_id
from tests.procedures import dibao_with_scripts
from tests.test_browser import browser, log_in, served  # noqa: F401  (the browser fixture)
from tests.test_modeler import folder_files, from_camunda_modeler
from webui import helpers
from webui.auth import login_required

ITEM = "MZ-DIBAO-MODELER"
SCRIPT = ("Script_fetch_income", "调取收入核对结果",
          "import urllib.request\nincome = urllib.request.urlopen('http://mz.example/api/income').read()")


def check(svc: Services, files: dict[str, str]) -> tuple[list[Problem], Any]:
    """The deploy check over a draft's files: its problems, and the bundle to deploy when it has no errors."""
    with svc.db.read() as session:
        roles = known_roles(session)
    try:
        bundle = read_files("草稿", {path: text.encode("utf-8") for path, text in files.items()}, roles,
                            svc.settings.max_diagram_bytes)
    except DeployRefused as refused:
        return list(refused.problems), None
    return list(bundle.warnings), bundle


def stand_in_catalog() -> Blueprint:
    """The draft endpoints of the shared contract, over ProcedureDraft, with the deploy check on every save."""
    bp = Blueprint("catalog_stand_in", __name__)

    @bp.route("/procedures/drafts/<int:draft_id>/files", methods=["GET", "POST"])
    @login_required
    def files(draft_id: int) -> Any:
        svc = helpers.services()
        with svc.db.write() as session:
            draft = session.get(ProcedureDraft, draft_id)
            assert draft is not None
            if request.method == "GET":
                return {"files": draft.files, "problems": draft.problems, "item_code": draft.item_code,
                        "name": draft.name}
            changed = {**draft.files, **request.get_json()["files"]}
            draft.files = {path: text for path, text in changed.items() if text is not None}
            problems, _bundle = check(svc, draft.files)
            draft.problems = [problem.as_json() for problem in problems]
            draft.updated_at = clock.now()
            return {"problems": draft.problems, "saved_at": draft.updated_at.isoformat()}

    @bp.route("/procedures/drafts/<int:draft_id>/publish", methods=["POST"])
    @login_required
    def publish(draft_id: int) -> Any:
        svc = helpers.services()
        with svc.db.write() as session:
            draft = session.get(ProcedureDraft, draft_id)
            assert draft is not None
            problems, bundle = check(svc, draft.files)
            if bundle is None:
                return {"error": "流程有错误，未发布", "problems": [problem.as_json() for problem in problems]}, 422
            deployed = deploy(session, bundle, g.user.username)
            return {"item_code": deployed.item_code, "version": deployed.version}

    return bp


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    own = make_services("sqlite", tmp_path_factory.mktemp("modeler-browser"), "bianmin_modeler_browser")
    yield own
    own.db.dispose()


@pytest.fixture(scope="module")
def base_url(svc: Services) -> Iterator[str]:
    with served(svc, prepare_catalog) as url:
        yield url


def prepare_catalog(app: Flask) -> None:
    if not any(rule.rule == "/procedures/drafts/<int:draft_id>/files" for rule in app.url_map.iter_rules()):
        app.register_blueprint(stand_in_catalog())


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=base_url, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    # A refused publication answers 422, which chromium logs as a failed load: that one is expected.
    opened.on("console", lambda msg: problems.append(f"console: {msg.text}")
              if msg.type == "error" and "status of 422" not in msg.text else None)
    yield opened
    context.close()
    assert not problems, problems


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def new_draft(svc: Services, name: str, files: dict[str, bytes]) -> int:
    admin = user_id(svc, "admin")
    texts = {path: raw.decode("utf-8") for path, raw in files.items()}
    problems = [problem.as_json() for problem in check(svc, texts)[0]]
    with svc.db.write() as session:
        draft = ProcedureDraft(name=name, files=texts, problems=problems, created_by_id=admin,
                               created_at=clock.now(), updated_by_id=admin, updated_at=clock.now())
        session.add(draft)
        session.flush()
        return draft.id


def draft_files(svc: Services, draft_id: int) -> dict[str, str]:
    with svc.db.read() as session:
        draft = session.get(ProcedureDraft, draft_id)
        assert draft is not None
        return dict(draft.files)


def dibao_with_problems(tmp: Path) -> dict[str, bytes]:
    """低保 with a lane for a post that does not exist, a script that fetches from the network, a 公示 in words."""
    files = folder_files(dibao_with_scripts(tmp, ITEM, {"Flow_start": SCRIPT}))
    xml = files["process.bpmn"].decode("utf-8")
    xml = xml.replace('name="county_civil_affairs"', 'name="county_welfare_office"', 1)
    xml = xml.replace('<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P7D"</bpmn:timeDuration>',
                      '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"七个工作日"</bpmn:timeDuration>', 1)
    files["process.bpmn"] = xml.encode("utf-8")
    return files


def open_modeler(page: Page, draft_id: int) -> None:
    page.goto(f"/modeler/{draft_id}")
    expect(page.locator("#modeler[data-ready=true]")).to_be_attached()


def problem_ids(page: Page, severity: str = "error") -> list[str]:
    return page.locator(f"#problems li.problem-{severity}").evaluate_all("items => items.map(i => i.dataset.elementId)")


def test_problems_are_marked_on_their_elements_and_stop_publication(page: Page, svc: Services,
                                                                     tmp_path: Path) -> None:
    draft_id = new_draft(svc, "最低生活保障（民政局新版，待审核）", dibao_with_problems(tmp_path))
    log_in(page, "admin")
    open_modeler(page, draft_id)
    page.keyboard.press("Control+s")
    expect(page.locator("#problems-summary")).to_contain_text("3 处错误")
    lane, timer = "Lane_county_civil_affairs", "Timer_village_publicity"
    assert sorted(problem_ids(page)) == sorted([lane, SCRIPT[0], timer])
    for element_id in (lane, SCRIPT[0], timer):
        expect(page.locator(f".djs-element.bm-has-error[data-element-id='{element_id}']")).to_be_attached()
    expect(page.locator(".bm-problem-mark.is-error")).to_have_count(3)
    shot(page, "45-modeler-problems-marked")

    # A problem in the list selects its element; the panel checks the script as the deploy check does.
    page.locator(f"#problems li[data-element-id='{SCRIPT[0]}']").click()
    expect(page.locator(f".djs-element.selected[data-element-id='{SCRIPT[0]}']")).to_be_attached()
    group = page.locator("[data-group-id='group-bianmin']")
    expect(group).to_contain_text("便民属性")
    expect(group.locator(".bio-properties-panel-error")).to_contain_text("import")
    shot(page, "46-modeler-script-refused")

    page.get_by_role("button", name="发布").click()
    expect(page.locator("#modeler-status")).to_contain_text("未发布")
    expect(page.locator("#problems-summary")).to_contain_text("未发布")
    with svc.db.read() as session:
        assert session.scalars(select(ProcedureVersion).where(ProcedureVersion.item_code == ITEM)).all() == []
    shot(page, "47-modeler-publish-refused")

    # Put right in the panel: the script reads what the form gave, the timer waits seven days, the lane's post.
    script = group.locator("textarea[name='bm-script']")
    script.fill("income_checked = annual_income_per_capita < 500")
    expect(group.locator(".bio-properties-panel-error")).to_have_count(0)
    page.locator(f"#problems li[data-element-id='{timer}']").click()
    expression = group.locator("textarea[name='bm-timer']")
    expect(expression).to_have_value('"七个工作日"')
    expect(group.locator(".bio-properties-panel-error")).to_contain_text("ISO 8601")
    expression.fill('"P7D"')
    expect(group.locator(".bio-properties-panel-error")).to_have_count(0)
    page.locator(f"#problems li[data-element-id='{lane}']").click()
    role = group.locator("select[name='bm-role']")
    expect(role.locator("option:checked")).to_have_text("county_welfare_office（不是已知的角色）")
    role.select_option("county_civil_affairs")
    page.get_by_role("button", name="保存并检查（Ctrl+S）").click()
    expect(page.locator("#modeler-status")).to_contain_text("已保存")
    page.screenshot(path="/tmp/dbg.png")
    expect(page.locator("#problems li.problem-error")).to_have_count(0)
    page.get_by_role("button", name="发布").click()
    expect(page.locator("#modeler-status")).to_contain_text(f"已发布：{ITEM} 第 1 版")
    with svc.db.read() as session:
        [version] = session.scalars(select(ProcedureVersion).where(ProcedureVersion.item_code == ITEM)).all()
        assert 'name="county_civil_affairs"' in version.bpmn_xml and "income_checked" in version.bpmn_xml


def test_panel_on_a_user_task_and_on_a_lane(page: Page, svc: Services) -> None:
    draft_id = new_draft(svc, "最低生活保障（调整环节时限）", folder_files(ROOT / "bpmn" / "dibao"))
    log_in(page, "admin")
    open_modeler(page, draft_id)
    page.locator(".djs-element[data-element-id='village_review']").click()
    group = page.locator("[data-group-id='group-bianmin']")
    expect(group.locator("select[name='bm-form'] option:checked")).to_have_text("village_review.schema.json")
    limit = group.locator("input[name='bm-step-limit']")
    limit.fill("5")
    group.locator("select[name='bm-pause']").select_option("现场勘察")
    expect(group.locator("#bm-edit-form")).to_have_attribute("href",
                                                              f"/procedures/drafts/{draft_id}/forms/village_review")
    shot(page, "48-modeler-panel-user-task")
    page.locator(".djs-element[data-element-id='Lane_town_civil_affairs'] .djs-hit-all").click()
    role = group.locator("select[name='bm-role']")
    expect(role.locator("option:checked")).to_contain_text("town_civil_affairs")
    shot(page, "49-modeler-panel-lane")
    page.keyboard.press("Control+s")
    expect(page.locator("#modeler-status")).to_contain_text("已保存")
    saved = draft_files(svc, draft_id)["process.bpmn"]
    task = saved[saved.index('id="village_review"'):saved.index("</bpmn:userTask>", saved.index('id="village_review"'))]
    assert '<spiffworkflow:property name="timeLimitWorkingDays" value="5" />' in task
    assert '<spiffworkflow:property name="clockPause" value="现场勘察" />' in task
    assert 'name="formJsonSchemaFilename" value="village_review.schema.json"' in task


def test_a_camunda_modeler_diagram_opens_and_saves_with_its_extensions(page: Page, svc: Services) -> None:
    files = from_camunda_modeler("ZJD-CAMUNDA-WEB")
    draft_id = new_draft(svc, "宅基地审批（县自然资源局用 Camunda Modeler 画的）", files)
    log_in(page, "admin")
    open_modeler(page, draft_id)
    expect(page.locator("#modeler-status")).to_have_text("已打开")
    page.keyboard.press("Control+s")
    expect(page.locator("#problems-summary")).to_contain_text("0 处错误")
    warnings = page.locator("#problems li.problem-warning")
    for name in ("camunda:assignee", "camunda:formKey", "zeebe:taskDefinition"):
        expect(warnings.filter(has_text=name)).to_have_count(1)
    saved = draft_files(svc, draft_id)["process.bpmn"]
    assert 'camunda:assignee="${村委会主任}"' in saved and 'camunda:formKey="embedded:app:forms/village.html"' in saved
    assert re.search(r'<zeebe:taskDefinition type="village-review" retries="3"\s*/>', saved)
    assert 'modeler:executionPlatform="Camunda Platform"' in saved
