"""The modeler in a real browser: a diagram with problems shows each one on its element and cannot be published
until they are put right in the Bianmin panel; a diagram saved by Camunda Modeler opens and saves with its extensions;
a procedure drawn from a blank diagram, with a form made in the form editor, is published and a village agent starts
a case of it.

Until the procedures catalog is on the branch, a stand-in for its draft endpoints (the shared contract: GET/POST
/procedures/drafts/<id>/files, POST …/publish) is registered here, and only when the app has none of its own; the
new procedure's item.toml is written into its draft, standing in for the guide editor.
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
from engine.procedures.deploy import current_version, deploy, known_roles
from engine.services import Services
from tests.conftest import ARTIFACTS, ROOT, make_services, user_id
from tests.procedures import applicant, dibao_with_scripts
from tests.test_browser import (  # noqa: F401  (the browser fixture)
    DONGPO,
    browser,
    choose_item,
    claim_and_open,
    fill_dibao_application,
    log_in,
    log_out,
    served,
)
from tests.test_formeditor_browser import add_field
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


# -- a procedure drawn from a blank diagram, published, and started by a village agent ------------------------------

NEW_ITEM = "CL-CJRZ-XB"
# What the guide editor does not show: which form is the application.
GUIDE = 'application_form = "application.schema.json"\n'


def selected_id(page: Page) -> str:
    selected = page.locator(".djs-element.selected")
    expect(selected).to_have_count(1)  # a replaced element leaves its old shape for a moment
    return str(selected.get_attribute("data-element-id"))


def context_action(page: Page, action: str) -> None:
    """A click event alone: a whole mouse click may start dragging a new element, or pick from a menu opened under
    the pointer."""
    page.locator(f".djs-context-pad .entry[data-action='{action}']").dispatch_event("click")


def replace_with(page: Page, entry: str) -> None:
    context_action(page, "replace")
    page.locator(f".djs-popup-parent [data-id='{entry}']").click()
    expect(page.locator(".djs-popup-parent")).to_have_count(0)


def typed(page: Page, field: Any, text: str) -> None:
    """Fill a panel field and let the panel write it: it does so 300 ms after the last key, and a write landing
    after another element is selected would bring the panel back to this one."""
    field.fill(text)
    page.wait_for_timeout(400)


def name_element(page: Page, name: str) -> None:
    # The panel follows the selection a moment later: name the element that is selected, not the one before.
    expect(page.locator("#bio-properties-panel-id")).to_have_value(selected_id(page))
    general = page.locator("[data-group-id='group-general']")
    if not general.locator("#bio-properties-panel-name").is_visible():
        general.locator(".bio-properties-panel-group-header").click()
    typed(page, general.locator("#bio-properties-panel-name"), name)


def centre(page: Page, element_id: str) -> tuple[float, float]:
    box = page.locator(f".djs-element[data-element-id='{element_id}'] .djs-visual").bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def click_flow_into(page: Page, target_id: str) -> None:
    """Select the sequence flow that ends at `target_id`, clicking a point on its first segment."""
    point = page.evaluate("""target => {
        const shape = document.querySelector(`.djs-element[data-element-id='${target}'] .djs-visual`);
        const box = shape.getBoundingClientRect();
        for (const flow of document.querySelectorAll('.djs-connection')) {
            const path = flow.querySelector('.djs-visual > path');
            const m = path.getScreenCTM();
            const end = path.getPointAtLength(path.getTotalLength());
            const x = end.x * m.a + m.e, y = end.y * m.d + m.f;
            if (x >= box.left - 2 && x <= box.right + 2 && y >= box.top - 2 && y <= box.bottom + 2) {
                const p = path.getPointAtLength(Math.min(12, path.getTotalLength() / 2));
                return { x: p.x * m.a + m.e, y: p.y * m.d + m.f };
            }
        }
        return null;
    }""", target_id)
    assert point, target_id
    page.mouse.click(point["x"], point["y"])


def test_a_procedure_drawn_from_a_blank_diagram_is_published_and_started(page: Page, svc: Services) -> None:
    dibao = ROOT / "bpmn" / "dibao" / "forms"
    # The application form stands in for an earlier form editor session's.
    draft_id = new_draft(svc, "残疾人证新办（村级初审）", {
        "item.toml": GUIDE.encode("utf-8"),
        "forms/application.schema.json": (dibao / "application.schema.json").read_bytes(),
        "forms/application.uischema.json": (dibao / "application.uischema.json").read_bytes()})
    log_in(page, "admin")

    # The service guide, filled in the guide editor.
    page.goto(f"/procedures/drafts/{draft_id}/guide")
    page.fill("#g-code", NEW_ITEM)
    page.fill("#g-name", "残疾人证新办（村级初审）")
    page.select_option("#g-case-type", "promised")
    page.fill("#g-department", "县残疾人联合会")
    page.fill("#g-promised", "20")
    page.fill("#g-statutory", "20")
    page.fill("#g-conditions", "本县户籍，经指定医疗机构评定符合残疾标准的残疾人。")
    page.fill("#g-basis", "《中华人民共和国残疾人保障法》；《第二代中华人民共和国残疾人证管理办法》")
    page.fill("#g-fee", "免费")
    for name, copies in (("本人身份证、户口簿原件及复印件", "1"), ("近期二寸免冠彩色照片", "3")):
        page.click("#add-material")
        row = page.locator("#material-rows tr").last
        row.locator("input[type=text]").fill(name)
        row.locator("input[type=number]").fill(copies)
    page.click("#save-guide")
    expect(page.locator(".flash")).to_contain_text("办事指南已保存")

    # The committee's form, made in the form editor.
    page.goto(f"/procedures/drafts/{draft_id}/forms/committee_review")
    page.fill("#fe-form-title", "村委会初审意见")
    decision = add_field(page, "decision", "初审意见", "choice")
    for value, label in [("approve", "同意上报"), ("reject", "不同意")]:
        decision.locator("[data-action=add-option]").click()
        decision = page.locator("#fe-fields > li").last
        decision.locator(".fe-option").last.locator("[data-option=value]").fill(value)
        decision.locator(".fe-option").last.locator("[data-option=label]").fill(label)
    decision.locator("[data-prop=required]").check()
    page.click("#fe-save")
    expect(page.locator("#fe-status")).to_have_text("已保存到草稿")

    open_modeler(page, draft_id)
    # Two lanes: the village agent's (the blank diagram's) and the village committee's.
    page.locator(".djs-element[data-element-id='Lane_1'] .djs-hit-all").click()
    context_action(page, "lane-insert-below")
    lanes = page.locator(".djs-shape[data-element-id^='Lane_']")
    expect(lanes).to_have_count(2)
    committee_lane = [i for i in lanes.evaluate_all("els => els.map(e => e.dataset.elementId)") if i != "Lane_1"][0]
    page.locator(f".djs-element[data-element-id='{committee_lane}'] .djs-hit-all").click()
    page.locator("select[name='bm-role']").select_option("village_committee")

    # 村委会初审: a user task with the form, moved into the committee's lane.
    page.locator(".djs-element[data-element-id='StartEvent_1']").click()
    context_action(page, "append.append-task")
    replace_with(page, "replace-with-user-task")
    task = selected_id(page)
    name_element(page, "村委会初审")
    x, y = centre(page, task)
    _lane_x, lane_y = centre(page, committee_lane)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 20, steps=4)
    page.mouse.move(x, lane_y, steps=8)
    page.mouse.up()  # the moved task stays selected
    page.locator("select[name='bm-form']").select_option("committee_review.schema.json")
    typed(page, page.locator("input[name='bm-step-limit']"), "5")

    # An exclusive gateway: approved cases wait a 公示 of 5 working days (the clock paused), refused ones end.
    context_action(page, "append.gateway")
    gateway = selected_id(page)
    context_action(page, "append.intermediate-event")
    replace_with(page, "replace-with-timer-intermediate-catch")
    timer = selected_id(page)
    name_element(page, "村务公开栏公示")
    typed(page, page.locator("textarea[name='bm-timer']"), '"P7D"')
    typed(page, page.locator("input[name='bm-working-days']"), "5")
    page.locator("select[name='bm-pause']").select_option("公示")
    page.wait_for_timeout(400)  # the timer field's pending write, flushed as it loses focus (see `typed`)
    context_action(page, "append.end-event")
    name_element(page, "准予办理")
    page.mouse.click(*centre(page, gateway))
    context_action(page, "append.end-event")
    refused = selected_id(page)
    name_element(page, "不予办理")
    click_flow_into(page, timer)
    typed(page, page.locator("textarea[name='bm-condition']"), 'decision == "approve"')
    click_flow_into(page, refused)
    typed(page, page.locator("textarea[name='bm-condition']"), 'decision == "reject"')
    expect(page.locator("[data-group-id='group-bianmin'] .bio-properties-panel-error")).to_have_count(0)
    page.keyboard.press("Control+s")
    expect(page.locator("#modeler-status")).to_contain_text("已保存")
    expect(page.locator("#problems li.problem-error")).to_have_count(0)
    page.get_by_role("button", name="发布").click()
    expect(page.locator("#modeler-status")).to_contain_text(f"已发布：{NEW_ITEM} 第 1 版")
    log_out(page)

    # The village agent accepts an application of the new item; the committee's step shows the form drawn for it.
    person = applicant(DONGPO)
    log_in(page, "dongpo_agent")
    page.get_by_role("link", name="受理新申请").first.click()
    choose_item(page, NEW_ITEM)
    fill_dibao_application(page, person, "2", "右下肢截肢，申请办理第二代残疾人证")
    page.click("#submit-case")
    flash = page.locator(".flash-success")
    expect(flash).to_contain_text("已受理，办件编号")
    number = re.search(rf"{NEW_ITEM}-\d{{8}}-\d{{4}}", flash.inner_text())
    assert number
    log_out(page)
    log_in(page, "dongpo_committee")
    claim_and_open(page, number.group(0))
    expect(page.locator("#field-decision")).to_contain_text("初审意见")
    expect(page.locator("[name=f-decision] option, input[name=f-decision]")).not_to_have_count(0)
    with svc.db.read() as session:
        published = current_version(session, NEW_ITEM)
    assert published.guide["promised_days"] == 20 and len(published.guide["materials"]) == 2
    assert re.search(r'<spiffworkflow:property name="workingDays" value="5"\s*/>', published.bpmn_xml)
