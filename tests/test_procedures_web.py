"""流程管理 over HTTP: the list, drafts' JSON endpoints for the modeler and form editor, import, export, guide, diff."""

from __future__ import annotations

import io
import tomllib
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from engine.config import ROOT
from engine.models import ProcedureVersion
from engine.services import Services
from tests.conftest import make_services
from tests.test_drafts import folder_files, zipped
from tests.test_webui import csrf, login, post, text
from webui import create_app


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: the tests publish versions."""
    services = make_services("sqlite", tmp_path_factory.mktemp("procweb"), "bianmin_procweb")
    yield services
    services.db.dispose()


@pytest.fixture
def admin(svc: Services) -> FlaskClient:
    client = create_app(services=svc, config={"TESTING": True}).test_client()
    login(client, "admin")
    return client


def version_id(svc: Services, code: str, number: int) -> int:
    with svc.db.read() as session:
        found = session.scalar(select(ProcedureVersion.id).where(ProcedureVersion.item_code == code,
                                                                 ProcedureVersion.version == number))
    assert found is not None
    return found


def send(client: FlaskClient, url: str, body: Any = None, token: bool = True) -> Any:
    headers = {"X-CSRF-Token": csrf(client)} if token else {}
    return client.post(url, json=body, headers=headers)


def new_draft(client: FlaskClient, **form: str) -> int:
    response = post(client, "/procedures/drafts", form)
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_only_administrators_reach_procedures(svc: Services) -> None:
    client = create_app(services=svc, config={"TESTING": True}).test_client()
    login(client, "dongpo_agent")
    assert client.get("/procedures").status_code == 403
    answer = client.get("/procedures/drafts/1/files")
    assert answer.status_code == 403 and "系统管理员" in answer.json["error"]
    assert send(client, "/procedures/drafts/1/publish").status_code == 403
    assert "流程管理" not in text(client.get("/inbox"))


def test_the_list_shows_every_version_with_its_publisher_and_cases(admin: FlaskClient) -> None:
    page = text(admin.get("/procedures"))
    for words in ("农村居民最低生活保障", "MZ-DIBAO", "v1", "当前版本", "新建空白流程", "导入为草稿"):
        assert words in page
    assert "流程管理" in text(admin.get("/inbox"))


def test_the_modeler_contract_save_check_publish(admin: FlaskClient) -> None:
    draft_id = new_draft(admin, name="老年人优待证办理")
    files = admin.get(f"/procedures/drafts/{draft_id}/files").json
    assert set(files["files"]) == {"process.bpmn", "item.toml"} and files["item_code"] is None
    assert files["name"] == "老年人优待证办理" and files["problems"]
    # Without the page's token the save is refused and nothing changes.
    assert send(admin, f"/procedures/drafts/{draft_id}/files", {"files": {"item.toml": "x"}}, token=False) \
        .status_code == 400
    saved = send(admin, f"/procedures/drafts/{draft_id}/files", {"files": {"item.toml": "code = [unclosed"}})
    assert saved.status_code == 200 and saved.json["saved_at"]
    assert any(p["file"] == "item.toml" and "格式错误" in p["message"] for p in saved.json["problems"])
    refused = send(admin, f"/procedures/drafts/{draft_id}/publish")
    assert refused.status_code == 422 and "不能发布" in refused.json["error"] and refused.json["problems"]
    bad_path = send(admin, f"/procedures/drafts/{draft_id}/files", {"files": {"../etc/passwd": "x"}})
    assert bad_path.status_code == 422 and "无效" in bad_path.json["error"]
    assert send(admin, f"/procedures/drafts/{draft_id}/files", {"nothing": 1}).status_code == 422
    # A whole procedure: the shipped 特困人员 with a new code publishes as version 1 of a new item.
    tekun = {path: content.decode() for path, content in folder_files(ROOT / "bpmn/tekun").items()}  # type: ignore
    tekun["item.toml"] = tekun["item.toml"].replace('code = "MZ-TEKUN"', 'code = "MZ-TEKUN2"')
    saved = send(admin, f"/procedures/drafts/{draft_id}/files", {"files": tekun})
    assert [p for p in saved.json["problems"] if p["severity"] == "error"] == [] and saved.json["item_code"] == \
        "MZ-TEKUN2"
    published = send(admin, f"/procedures/drafts/{draft_id}/publish")
    assert published.status_code == 200 and published.json == {"item_code": "MZ-TEKUN2", "version": 1}
    assert send(admin, f"/procedures/drafts/{draft_id}/publish").status_code == 409
    assert "MZ-TEKUN2" in text(admin.get("/procedures"))


def test_import_from_the_page_and_bad_uploads_answer_in_chinese(admin: FlaskClient) -> None:
    diagram = (ROOT / "bpmn/zhaijidi/process.bpmn").read_bytes()
    answer = post(admin, "/procedures/import", {"file": (io.BytesIO(diagram), "宅基地.bpmn")},
                  content_type="multipart/form-data")
    assert answer.status_code == 302 and "/procedures/drafts/" in answer.headers["Location"]
    folder = zipped(folder_files(ROOT / "bpmn/dibao"), "dibao/")
    answer = post(admin, "/procedures/import", {"file": (io.BytesIO(folder), "dibao.zip")},
                  content_type="multipart/form-data")
    page = text(admin.get(answer.headers["Location"]))
    assert "MZ-DIBAO" in page and "检查通过" in page
    bomb = zipped({"process.bpmn": b"\0" * (3 * 1024 * 1024)})
    answer = post(admin, "/procedures/import", {"file": (io.BytesIO(bomb), "炸弹.zip")},
                  content_type="multipart/form-data")
    assert answer.status_code == 422
    assert "过大" in text(answer) or "压缩炸弹" in text(answer)
    answer = post(admin, "/procedures/import", {"file": (io.BytesIO(b"hello"), "说明.txt")},
                  content_type="multipart/form-data")
    assert answer.status_code == 422 and "只接受 .bpmn 流程图或 .zip 压缩包" in text(answer)


def test_export_a_version(admin: FlaskClient, svc: Services) -> None:
    answer = admin.get(f"/procedures/versions/{version_id(svc, 'ZR-ZHAIJIDI', 1)}/export")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(answer.data)).namelist()
    assert any(name.endswith("/process.bpmn") for name in names) and any(name.endswith("/item.toml") for name in names)


def test_guide_editor_writes_item_toml_and_refuses_bad_numbers(admin: FlaskClient, svc: Services) -> None:
    draft_id = new_draft(admin, version_id=str(version_id(svc, "MZ-DIBAO", 1)))
    page = admin.get(f"/procedures/drafts/{draft_id}/guide")
    assert page.status_code == 200 and "Timer_village_publicity" in page.text
    before = admin.get(f"/procedures/drafts/{draft_id}/files").json["files"]["item.toml"]
    guide = tomllib.loads(before)
    form = {"code": guide["code"], "name": guide["name"], "case_type": "escalated", "category": "社会救助",
            "department": "县民政局", "promised_days": "25", "statutory_days": "30", "warning_days": "5",
            "max_extension_days": "", "conditions": guide["conditions"], "basis": guide["basis"], "fee": "免费",
            "materials-0-name": "户主书面申请书", "materials-0-required": "1", "materials-0-copies": "1",
            "materials-0-original": "1", "materials-3-name": "残疾人证复印件", "materials-3-copies": "2",
            "materials-5-name": "", "timers-Timer_village_publicity-days": "7",
            "timers-Timer_village_publicity-unit": "calendar",
            "timers-Timer_village_publicity-basis": "民发〔2021〕57号：公示期为7天"}
    bad = post(admin, f"/procedures/drafts/{draft_id}/guide", form | {"promised_days": "二十五"})
    assert bad.status_code == 422 and "承诺时限应为不小于 0 的整数" in text(bad)
    assert admin.get(f"/procedures/drafts/{draft_id}/files").json["files"]["item.toml"] == before
    saved = post(admin, f"/procedures/drafts/{draft_id}/guide", form)
    assert saved.status_code == 302
    written = tomllib.loads(admin.get(f"/procedures/drafts/{draft_id}/files").json["files"]["item.toml"])
    assert written["promised_days"] == 25 and written["warning_days"] == 5 and "max_extension_days" not in written
    assert written["materials"] == [{"name": "户主书面申请书", "required": True, "copies": 1, "original": True},
                                    {"name": "残疾人证复印件", "required": False, "copies": 2, "original": False}]
    assert written["timers"] == {"Timer_village_publicity": {"days": 7, "unit": "calendar",
                                                             "basis": "民发〔2021〕57号：公示期为7天"}}
    # What the editor does not show is kept.
    assert written["steps"] == guide["steps"] and written["application_form"] == guide["application_form"]
    diff = admin.get(f"/procedures/drafts/{draft_id}/diff")
    assert diff.status_code == 200 and "promised_days" in diff.text and "Timer_village_publicity" in diff.text
    published = post(admin, f"/procedures/drafts/{draft_id}/publish", {})
    assert published.status_code == 302 and "/procedures" in published.headers["Location"]
    page = admin.get(f"/procedures/versions/{version_id(svc, 'MZ-DIBAO', 2)}/diff")
    assert page.status_code == 200 and "MZ-DIBAO v1 → MZ-DIBAO v2" in text(page)
    assert "promised_days" in page.text and "承诺时限" in text(page)


def test_a_draft_diff_page(admin: FlaskClient, svc: Services) -> None:
    assert admin.get(f"/procedures/versions/{version_id(svc, 'MZ-TEKUN', 1)}/diff").status_code == 404
    draft_id = new_draft(admin, version_id=str(version_id(svc, "MZ-DIBAO", 1)))
    files = admin.get(f"/procedures/drafts/{draft_id}/files").json["files"]
    changed = files["process.bpmn"].replace('name="乡镇初审"', 'name="乡镇初审（重新调查后）"', 1)
    send(admin, f"/procedures/drafts/{draft_id}/files", {"files": {"process.bpmn": changed}})
    page = admin.get(f"/procedures/drafts/{draft_id}/diff")
    assert page.status_code == 200 and "乡镇初审（重新调查后）" in text(page)
    assert 'data-changed="[&#34;town_review&#34;]"' in page.text


def test_a_draft_left_behind_by_a_newer_version_says_so(admin: FlaskClient, svc: Services) -> None:
    v1 = str(version_id(svc, "ZR-ZHAIJIDI", 1))
    behind, ahead = new_draft(admin, version_id=v1), new_draft(admin, version_id=v1)
    guide = admin.get(f"/procedures/drafts/{ahead}/files").json["files"]["item.toml"]
    send(admin, f"/procedures/drafts/{ahead}/files",
         {"files": {"item.toml": guide.replace('fee = "', 'fee = "不收取任何费用；', 1)}})
    assert send(admin, f"/procedures/drafts/{ahead}/publish").json["version"] == 2
    page = admin.get(f"/procedures/drafts/{behind}")
    assert "此后已发布到 v2" in text(page)
    assert "此后已发布" not in text(admin.get(f"/procedures/drafts/{ahead}"))


def test_a_draft_whose_code_is_chinese_exports_under_an_encoded_name(admin: FlaskClient) -> None:
    draft_id = new_draft(admin, name="林木采伐许可证核发")
    guide = 'code = "林业-采伐"\nname = "林木采伐"\n'
    send(admin, f"/procedures/drafts/{draft_id}/files", {"files": {"item.toml": guide}})
    answer = admin.get(f"/procedures/drafts/{draft_id}/export")
    assert answer.status_code == 200
    assert "filename*=UTF-8''" in answer.headers["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(answer.data)).namelist()[0].startswith(f"林业-采伐-draft{draft_id}/")
