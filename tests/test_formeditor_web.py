"""The form editor's page and preview through Flask's test client: administrators only, files and refusals."""
# The `app` and `client` fixtures of test_webui are imported and then named by the tests.
# ruff: noqa: F811

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lxml.html
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from engine import clock
from engine.models import ProcedureDraft, ProcedureVersion
from engine.procedures.formdesign import design_from_files
from engine.services import Services
from tests.conftest import user_id
from tests.test_webui import app, client, csrf, login, text  # noqa: F401 (fixtures used by name)
from webui import formrender

DIBAO = Path(__file__).resolve().parent.parent / "bpmn" / "dibao"


def new_draft(svc: Services, *, published: bool = False) -> int:
    """A draft of 低保 as the catalog makes one from the shipped folder."""
    files = {str(p.relative_to(DIBAO)): p.read_text("utf-8") for p in DIBAO.rglob("*") if p.is_file()}
    admin = user_id(svc, "admin")
    with svc.db.write() as db:
        version = db.scalars(select(ProcedureVersion.id).limit(1)).first() if published else None
        draft = ProcedureDraft(item_code="dibao", name="农村居民最低生活保障（修订草稿）", files=files,
                               problems=[], created_by_id=admin, created_at=clock.now(), updated_by_id=admin,
                               updated_at=clock.now(), published_version_id=version)
        db.add(draft)
        db.flush()
        return draft.id


def preview(client: FlaskClient, draft_id: int, name: str, body: Any, token: bool = True) -> Any:
    headers = {"X-CSRF-Token": csrf(client)} if token else {}
    return client.post(f"/procedures/drafts/{draft_id}/forms/{name}/preview", json=body, headers=headers)


def page_design(response: Any) -> dict[str, Any]:
    html = lxml.html.fromstring(response.get_data(as_text=True))
    return json.loads(html.xpath("//script[@id='fe-design']")[0].text)


def test_a_shipped_form_opens_in_the_editor_and_its_preview_gives_back_the_same_files(
        client: FlaskClient, sqlite_services: Services) -> None:
    draft_id = new_draft(sqlite_services)
    login(client, "admin")
    page = client.get(f"/procedures/drafts/{draft_id}/forms/county_approval")
    assert page.status_code == 200
    assert "表单编辑" in text(page) and "forms/county_approval.schema.json" in text(page)
    design = page_design(page)
    assert [f["title"] for f in design["fields"]] == ["审核确认意见", "审核确认意见及理由", "月保障金额(元)"]
    answer = preview(client, draft_id, "county_approval", {"design": design})
    assert answer.status_code == 200, answer.text
    for path, written in answer.json["files"].items():
        assert json.loads(written) == json.loads((DIBAO / path).read_text("utf-8"))
    assert answer.json["sample_errors"] is None


def test_the_preview_is_drawn_by_the_task_pages_renderer(client: FlaskClient, sqlite_services: Services,
                                                         app: Flask) -> None:
    draft_id = new_draft(sqlite_services)
    login(client, "admin")
    schema_text, ui_text = ((DIBAO / "forms" / f"application.{kind}.json").read_text("utf-8")
                            for kind in ("schema", "uischema"))
    answer = preview(client, draft_id, "application", {"design": design_from_files(schema_text, ui_text)})
    with app.test_request_context():
        fields = str(formrender.render(json.loads(schema_text), json.loads(ui_text)))
    assert fields in answer.json["html"]
    assert "农村居民最低生活保障申请" in answer.json["html"]


def test_sample_input_stays_in_the_preview_and_is_checked_as_a_submission_when_asked(
        client: FlaskClient, sqlite_services: Services) -> None:
    draft_id = new_draft(sqlite_services)
    login(client, "admin")
    design = page_design(client.get(f"/procedures/drafts/{draft_id}/forms/application"))
    sample = {"f-household_size": "二十一", "f-reason": "家中缺少劳动力"}
    kept = preview(client, draft_id, "application", {"design": design, "sample": sample})
    assert 'value="二十一"' in kept.json["html"] and "field-error" not in kept.json["html"]
    checked = preview(client, draft_id, "application", {"design": design, "sample": sample, "check": True})
    html = lxml.html.fromstring(checked.json["html"])
    errors = {div.getparent().get("id"): div.text_content() for div in html.xpath("//div[@class='field-error']")}
    assert set(errors) == {"field-household_size", "field-annual_income_per_capita"}, errors
    assert errors["field-annual_income_per_capita"] == "“家庭年人均收入(元)”为必填项"
    assert checked.json["sample_errors"] == 2


def test_a_bad_definition_is_refused_on_its_field(client: FlaskClient, sqlite_services: Services) -> None:
    draft_id = new_draft(sqlite_services)
    login(client, "admin")
    design = page_design(client.get(f"/procedures/drafts/{draft_id}/forms/town_review"))
    design["fields"][1].update(key="town_decision", min_length="50", max_length="10")
    design["fields"].append({**design["fields"][1], "key": "town_note", "type": "text", "pattern": "([0-9]"})
    answer = preview(client, draft_id, "town_review", {"design": design})
    assert answer.status_code == 422
    fields = answer.json["fields"]
    assert set(fields) == {"1", "2"}
    assert "“初审意见及理由”：字段名“town_decision”与第 1 个字段重复" in fields["1"]
    assert "“初审意见及理由”：最少字数 50 大于最多字数 10" in fields["1"]
    assert any("格式规则（正则表达式）无法使用" in m for m in fields["2"])
    assert answer.json["error"].startswith("表单定义有误，未保存")


def test_a_new_form_opens_empty(client: FlaskClient, sqlite_services: Services) -> None:
    draft_id = new_draft(sqlite_services)
    login(client, "admin")
    page = client.get(f"/procedures/drafts/{draft_id}/forms/hearing_record")
    assert page.status_code == 200 and page_design(page)["fields"] == [] and "新表单" in text(page)


def test_only_administrators_edit_forms_of_open_drafts(client: FlaskClient, sqlite_services: Services) -> None:
    draft_id = new_draft(sqlite_services)
    url = f"/procedures/drafts/{draft_id}/forms/application"
    assert client.get(url).status_code == 302
    login(client, "dongpo_agent")
    refused = client.get(url)
    assert refused.status_code == 403 and "只有系统管理员可以编辑" in text(refused)
    assert preview(client, draft_id, "application", {"design": {}}).status_code == 403
    login(client, "admin")
    assert client.get("/procedures/drafts/999999/forms/application").status_code == 404
    assert "表单名称无效" in text(client.get(f"/procedures/drafts/{draft_id}/forms/Application"))
    closed = client.get(f"/procedures/drafts/{new_draft(sqlite_services, published=True)}/forms/application")
    assert closed.status_code == 409 and "已经发布" in text(closed)


def test_the_preview_wants_the_page_token_and_json(client: FlaskClient, sqlite_services: Services) -> None:
    draft_id = new_draft(sqlite_services)
    login(client, "admin")
    assert preview(client, draft_id, "application", {"design": {}}, token=False).status_code == 400
    sent = client.post(f"/procedures/drafts/{draft_id}/forms/application/preview", data="design",
                       headers={"X-CSRF-Token": csrf(client)})
    assert sent.status_code == 400 and sent.json["error"] == "请求内容应为 JSON 对象"
    malformed = preview(client, draft_id, "application", {"design": {"fields": "reason"}})
    assert malformed.status_code == 422 and "表单定义格式不正确" in malformed.json["error"]
