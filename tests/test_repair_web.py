"""Repair through the pages and the API: the clerk's message, the case page's failure and forms, and the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from engine.models import ProcedureVersion
from engine.services import Services
from tests.conftest import make_services
from tests.test_api import auth
from tests.test_engine import form, open_tasks, start
from tests.test_repair import APPROVE, BROKEN, ITEM, held_case, publish, step_incident, the_case
from tests.test_webui import as_posted, login, post, text
from webui import create_app


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    services = make_services("sqlite", tmp_path_factory.mktemp("repair_web"), "bianmin_repair_web")
    yield services
    services.db.dispose()


@pytest.fixture
def app(svc: Services) -> Flask:
    return create_app(services=svc, config={"TESTING": True})


def test_the_clerk_is_told_the_input_was_kept_and_the_case_page_says_where_it_failed(
        svc: Services, app: Flask, tmp_path: Path) -> None:
    publish(svc, tmp_path, BROKEN)
    case = start(svc, ITEM)
    [task] = open_tasks(svc, case.id)
    clerk = app.test_client()
    login(clerk, "dongpo_committee")
    sent = post(clerk, f"/tasks/{task.id}", as_posted(form(svc, task, "approve")), follow_redirects=True)
    shown = text(sent)
    assert sent.status_code == 200 and "您填写的内容已保存，系统管理员已收到通知" in shown
    assert "初审是否同意" in shown and "修复后将按保存的内容继续办理" in shown
    assert step_incident(svc, case.id).task_id == task.id
    page = text(clerk.get(f"/cases/{case.id}"))
    assert "流程出错，等待修复" in page and "初审是否同意" in page and "村委会初审" in page
    assert "检查并迁移" not in page and "按保存的内容重试" not in page
    assert clerk.get("/incidents").status_code == 403
    assert post(clerk, f"/cases/{case.id}/repair/retry").status_code == 403
    admin = app.test_client()
    login(admin, "admin")
    listed = text(admin.get("/incidents"))
    assert case.case_number in listed and "提交后出错" in listed and "待管理员修复" in listed
    panel = admin.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="repair-retry"' in panel and 'id="repair-cancel"' in panel
    assert "尚无更新的版本" in panel


def test_an_administrator_migrates_retries_and_cancels_through_the_api(svc: Services, tmp_path: Path) -> None:
    client = create_app(services=svc, config={"TESTING": True}).test_client()
    case, task, _data, _held = held_case(svc, tmp_path / "broken")
    clerk, admin = auth(svc, "dongpo_committee"), auth(svc, "admin")
    refused = client.post(f"/api/v1/cases/{case.id}/retry", headers=clerk)
    assert refused.status_code == 403, refused.json
    fixed = publish(svc, tmp_path / "fixed", APPROVE)
    wrong = client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin,
                        json={"version_id": fixed, "mapping": {"village_review": "village_check"}})
    assert wrong.status_code == 422 and "village_check" in wrong.json["details"][0], wrong.json
    assert the_case(svc, case.id).version_id == case.version_id
    moved = client.post(f"/api/v1/cases/{case.id}/migrate", headers=admin, json={"version_id": fixed})
    assert moved.status_code == 200, moved.json
    retried = client.post(f"/api/v1/cases/{case.id}/retry", headers=admin)
    assert retried.status_code == 200 and retried.json["status"] == "running", retried.json
    assert open_tasks(svc, case.id) == []  # now in the village 公示
    other, _task, _data, _held = held_case(svc, tmp_path / "broken-again")
    blank = client.post(f"/api/v1/cases/{other.id}/cancel", headers=admin, json={"reason": " "})
    assert blank.status_code == 422 and "原因" in blank.json["error"]
    done = client.post(f"/api/v1/cases/{other.id}/cancel", headers=admin,
                       json={"reason": "申请人书面撤回申请，经村委会核实"})
    assert done.status_code == 200 and done.json["status"] == "cancelled", done.json
    with svc.db.read() as session:
        assert session.scalar(select(ProcedureVersion.item_code).where(ProcedureVersion.id == fixed)) == ITEM
