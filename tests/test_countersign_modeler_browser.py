"""The modeler's 会签 entries in a real browser: a user task's sign-off mode, ratio, posts, decision field and its
approving value, checked as typed and saved as the spiffworkflow properties the engine reads."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.test_browser import browser, log_in  # noqa: F401  (the browser fixture)
from tests.test_countersign import FIXTURE
from tests.test_modeler import folder_files
from tests.test_modeler_browser import base_url, draft_files, new_draft, open_modeler, page, svc  # noqa: F401


def task_xml(saved: str, element_id: str) -> str:
    start = saved.index(f'id="{element_id}"')
    return saved[start:saved.index("</bpmn:userTask>", start)]


def test_sign_off_entries_on_a_user_task(page: Page, svc: Services) -> None:  # noqa: F811
    draft_id = new_draft(svc, "最低生活保障（会签，调整签署方式）", folder_files(FIXTURE))
    log_in(page, "admin")
    open_modeler(page, draft_id)
    group = page.locator("[data-group-id='group-bianmin']")

    # The diagram's 会签 shows as drawn; made a 2-of-3 sign-off, its ratio is checked as typed.
    page.locator(".djs-element[data-element-id='town_review']").click()
    expect(group.locator("select[name='bm-sign-mode'] option:checked")).to_have_text("会签：所列岗位须全部同意")
    expect(group.locator("input[name='bm-sign-posts']")).to_have_value("town_civil_affairs,town_health,town_leader")
    expect(group).to_contain_text("签署的岗位：民政办、卫健办、分管领导")
    expect(group.locator("select[name='bm-sign-field'] option:checked")).to_have_text("审核结论（town_decision）")
    expect(group.locator("select[name='bm-sign-approve'] option:checked")).to_have_text("同意（approve）")
    group.locator("select[name='bm-sign-mode']").select_option("ratio")
    ratio = group.locator("input[name='bm-sign-ratio']")
    ratio.fill("4/3")
    expect(group.locator(".bio-properties-panel-error")).to_contain_text("分子须大于 0 且不大于分母")
    ratio.fill("2/3")
    expect(group.locator(".bio-properties-panel-error")).to_have_count(0)
    group.locator("input[name='bm-sign-posts']").fill("town_civil_affairs,town_nowhere")
    expect(group.locator(".bio-properties-panel-error")).to_contain_text("不是已知的角色代码：town_nowhere")
    group.locator("input[name='bm-sign-posts']").fill("town_civil_affairs,town_health,town_leader")

    # The village's review, one post until now, becomes an any-one sign-off of the village's two posts.
    page.locator(".djs-element[data-element-id='village_review']").click()
    mode = group.locator("select[name='bm-sign-mode']")
    expect(mode.locator("option:checked")).to_have_text("（不会签：由泳道的岗位办理）")
    expect(group.locator("input[name='bm-sign-posts']")).to_have_count(0)
    mode.select_option("any")
    group.locator("input[name='bm-sign-posts']").fill("village_committee,village_agent")
    group.locator("select[name='bm-sign-field']").select_option("village_decision")
    group.locator("select[name='bm-sign-approve']").select_option("approve")
    page.keyboard.press("Control+s")
    expect(page.locator("#modeler-status")).to_contain_text("已保存")
    expect(page.locator("#problems li.problem-error")).to_have_count(0)
    saved = draft_files(svc, draft_id)["process.bpmn"]
    town = task_xml(saved, "town_review")
    assert '<spiffworkflow:property name="signMode" value="ratio" />' in town
    assert '<spiffworkflow:property name="signRatio" value="2/3" />' in town
    village = task_xml(saved, "village_review")
    for name, value in (("signMode", "any"), ("signPosts", "village_committee,village_agent"),
                        ("signField", "village_decision"), ("signApprove", "approve")):
        assert f'<spiffworkflow:property name="{name}" value="{value}" />' in village

    # Off again: every sign-off property goes in one step.
    mode.select_option("")
    page.keyboard.press("Control+s")
    expect(page.locator("#modeler-status")).to_contain_text("已保存")
    assert "signMode" not in task_xml(draft_files(svc, draft_id)["process.bpmn"], "village_review")
