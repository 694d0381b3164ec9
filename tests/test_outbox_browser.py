"""A service call that failed is an incident on the case page; the administrator sends it again from the browser and
the case goes on once the (local) population service answers."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.test_browser import base_url, browser, log_in, page  # noqa: F401  (fixtures)
from tests.test_engine import open_tasks, start
from tests.test_outbox import ITEM, Population, deployed, outbox_of, population, run_worker  # noqa: F401


def test_failed_call_retried_from_the_case_page(page: Page, sqlite_services: Services,  # noqa: F811
                                                population: tuple[Population, int], tmp_path: Path) -> None:  # noqa: F811
    svc = sqlite_services
    state, port = population
    deployed(svc, port, tmp_path)
    state.answers[:] = [(400, {"error": "身份证号码格式不符合接口要求"}, 0.0), (200, {"household": []}, 0.0)]
    case = start(svc, ITEM, name="宇文晓燕")
    run_worker(svc)
    assert outbox_of(svc, case.id).status == "failed"

    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(page, "admin")
    page.goto(f"/cases/{case.id}")
    panel = page.locator("#repair")
    expect(panel).to_contain_text("外部接口调用失败")
    expect(panel).to_contain_text("对方返回 HTTP 400")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "187-service-call-incident.png"), full_page=True)
    page.click("#repair-call-retry")
    expect(page.locator("body")).to_contain_text("已重新排队发送")
    assert outbox_of(svc, case.id).status == "pending"
    run_worker(svc)
    assert [task.element_id for task in open_tasks(svc, case.id)] == ["village_review"]
    page.goto(f"/cases/{case.id}")
    expect(page.locator("body")).to_contain_text("外部接口已应答")
    page.screenshot(path=str(ARTIFACTS / "188-service-call-answered.png"), full_page=True)
