"""The form editor in a real browser: an administrator builds a three-field form and watches the preview follow.

Until the catalog's draft endpoints are on main, the save goes to a stand-in for
`POST /procedures/drafts/<id>/files` registered here, in the test only, when the app has none.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from playwright.sync_api import Page, expect

from engine import clock
from engine.models import ProcedureDraft
from engine.services import Services
from tests.conftest import user_id
from tests.test_browser import browser, log_in, page, served, shot  # noqa: F401 (fixtures used by name)

FILES_RULE = "/procedures/drafts/<int:draft_id>/files"
# 第二代残疾人证号: the holder's 18-character ID number, then the kind (1–7) and grade (1–4) of disability.
CERTIFICATE_PATTERN = r"^\d{17}[\dXx][1-7][1-4]$"


def _stand_in_files(app: Flask, svc: Services) -> None:
    """The catalog's save endpoint as its contract states it, without the deploy check."""
    if any(rule.rule == FILES_RULE for rule in app.url_map.iter_rules()):
        return

    def save(draft_id: int) -> Any:
        sent = request.get_json()["files"]
        with svc.db.write() as db:
            draft = db.get(ProcedureDraft, draft_id)
            files = dict(draft.files)
            files.update({path: text for path, text in sent.items() if text is not None})
            draft.files = files
        return {"problems": [], "saved_at": clock.now().isoformat()}

    app.add_url_rule(FILES_RULE, "stand_in_files", save, methods=["POST"])


@pytest.fixture(scope="module")
def base_url(sqlite_services: Services) -> Iterator[str]:
    with served(sqlite_services, lambda app: _stand_in_files(app, sqlite_services)) as url:
        yield url


def blank_draft(svc: Services) -> int:
    admin = user_id(svc, "admin")
    with svc.db.write() as db:
        draft = ProcedureDraft(item_code=None, name="残疾人两项补贴（困难残疾人生活补贴和重度残疾人护理补贴）申请",
                               files={}, problems=[], created_by_id=admin, created_at=clock.now(),
                               updated_by_id=admin, updated_at=clock.now())
        db.add(draft)
        db.flush()
        return draft.id


def card(editor: Page, number: int) -> Any:
    return editor.locator("#fe-fields > li").nth(number - 1)


def add_field(editor: Page, key: str, title: str, kind: str) -> Any:
    editor.click("#fe-add")
    field = editor.locator("#fe-fields > li").last
    field.locator("[data-prop=key]").fill(key)
    field.locator("[data-prop=title]").fill(title)
    field.locator("select[data-prop=type]").select_option(kind)
    return editor.locator("#fe-fields > li").last


def test_an_administrator_builds_a_form_and_the_preview_follows(page: Page,  # noqa: F811
                                                                 sqlite_services: Services) -> None:
    draft_id = blank_draft(sqlite_services)
    log_in(page, "admin")
    page.goto(f"/procedures/drafts/{draft_id}/forms/subsidy_application")
    expect(page.locator("h1")).to_contain_text("新表单")
    page.fill("#fe-form-title", "残疾人两项补贴申请")
    page.fill("#fe-form-description", "村代办员依据申请人（或其监护人）书面申请填写；申请人身份信息由系统另行采集。")
    expect(page.locator("#fe-form-errors")).to_contain_text("表单至少要有一个字段")
    expect(page.locator("#fe-form-errors")).not_to_contain_text("请填写表单名称")
    shot(page, "50-form-editor-new")

    certificate = add_field(page, "certificate_number", "第二代残疾人证号", "text")
    certificate.locator("[data-prop=max_length]").fill("20")
    certificate.locator("[data-prop=pattern]").fill(CERTIFICATE_PATTERN)
    certificate.locator("[data-prop=description]").fill("20位：身份证号码加残疾类别、残疾等级各1位")
    certificate.locator("[data-prop=required]").check()
    expect(page.locator("#fe-preview #f-certificate_number")).to_be_visible()

    kind = add_field(page, "disability_kind", "残疾类别", "choice")
    for value, label in [("visual", "视力残疾"), ("hearing", "听力残疾"), ("speech", "言语残疾"),
                         ("physical", "肢体残疾"), ("intellectual", "智力残疾"), ("mental", "精神残疾"),
                         ("multiple", "多重残疾")]:
        kind.locator("[data-action=add-option]").click()
        kind = card(page, 2)
        kind.locator(".fe-option").last.locator("[data-option=value]").fill(value)
        kind.locator(".fe-option").last.locator("[data-option=label]").fill(label)
    kind.locator("[data-prop=required]").check()
    # Seven choices: the task page's renderer draws a drop-down, and so does the preview.
    expect(page.locator("#fe-preview select#f-disability_kind option")).to_have_count(8)

    grade = add_field(page, "disability_grade", "残疾等级", "integer")
    grade.locator("[data-prop=min]").fill("1")
    grade.locator("[data-prop=max]").fill("4")
    grade.locator("[data-prop=help]").fill("一级最重；重度残疾人护理补贴限一、二级")
    expect(page.locator("#field-disability_grade .help")).to_contain_text("范围")
    expect(page.locator("#field-disability_grade .help")).to_contain_text("一级最重")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "51-form-editor-three-fields")

    # Reordering moves the field in the preview too.
    card(page, 3).locator("[data-action=up]").click()
    expect(page.locator("#fe-preview .field").nth(1)).to_have_id("field-disability_grade")

    # Bad definitions: the same key twice, a range with no number in it, a pattern that does not compile.
    card(page, 2).locator("[data-prop=min]").fill("5")
    card(page, 3).locator("[data-prop=key]").fill("certificate_number")
    card(page, 1).locator("[data-prop=pattern]").fill(r"^\d{17}[\dXx")
    expect(card(page, 2).locator(".fe-card-errors")).to_contain_text("最小值 5 大于最大值 4")
    expect(card(page, 3).locator(".fe-card-errors")).to_contain_text("字段名“certificate_number”与第 1 个字段重复")
    expect(card(page, 1).locator(".fe-card-errors")).to_contain_text("无法使用：方括号 [ ] 没有闭合")
    expect(page.locator("#fe-status")).to_have_text("定义有误，请按提示修改")
    page.click("#fe-save")
    expect(page.locator("#fe-status")).to_have_text("定义有误，请按提示修改")
    shot(page, "52-form-editor-refusals")

    card(page, 2).locator("[data-prop=min]").fill("1")
    card(page, 3).locator("[data-prop=key]").fill("disability_kind")
    card(page, 1).locator("[data-prop=pattern]").fill(CERTIFICATE_PATTERN)
    expect(page.locator(".fe-card.has-error")).to_have_count(0)
    # Sample input, checked as submitting the task would check it.
    page.fill("#fe-preview #f-certificate_number", "5101231956031512")
    page.fill("#fe-preview #f-disability_grade", "5")
    page.click("#fe-try")
    expect(page.locator("#fe-sample-result")).to_contain_text("试填内容有 3 处提示")
    expect(page.locator("#field-certificate_number .field-error")).to_contain_text("格式不正确")
    expect(page.locator("#field-disability_grade .field-error")).to_contain_text("不能大于 4")
    expect(page.locator("#field-disability_kind .field-error")).to_contain_text("必填")
    page.click("#fe-save")
    expect(page.locator("#fe-status")).to_have_text("已保存到草稿")
    expect(page.locator("#fe-preview .field-error")).to_have_count(3)
    shot(page, "53-form-editor-sample-checked")

    with sqlite_services.db.read() as db:
        files = db.get(ProcedureDraft, draft_id).files
    schema = json.loads(files["forms/subsidy_application.schema.json"])
    ui = json.loads(files["forms/subsidy_application.uischema.json"])
    assert schema["required"] == ["certificate_number", "disability_kind"]
    assert schema["properties"]["disability_grade"] == {"type": "integer", "title": "残疾等级",
                                                        "minimum": 1, "maximum": 4}
    assert schema["properties"]["certificate_number"]["pattern"] == CERTIFICATE_PATTERN
    assert ui["ui:order"] == ["certificate_number", "disability_grade", "disability_kind"]
    assert len(schema["properties"]["disability_kind"]["oneOf"]) == 7
