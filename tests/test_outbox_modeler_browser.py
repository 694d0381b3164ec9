"""The modeler's service-task entries in a real browser: the connectors offered with their parameters, and the
choice saved as spiff-arena's serviceTaskOperator that the outbox reads."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from playwright.sync_api import Page, expect

from engine.procedures.diagram import NS
from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.procedures import dibao_with_service
from tests.test_browser import browser, log_in  # noqa: F401  (the browser fixture)
from tests.test_modeler import folder_files
from tests.test_modeler_browser import base_url, draft_files, new_draft, open_modeler, page, svc  # noqa: F401


def test_a_service_task_offers_the_connectors_and_their_parameters(page: Page, svc: Services,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    folder = dibao_with_service(tmp_path, "MZ-DIBAO-LOOKUP", "Flow_start", "population_lookup", "人口库核验",
                                "http/json", {"url": "'http://127.0.0.1:9/household'"}, "household")
    draft_id = new_draft(svc, "最低生活保障（人口库核验）", folder_files(folder))
    log_in(page, "admin")
    open_modeler(page, draft_id)
    group = page.locator("[data-group-id='group-bianmin']")
    page.locator(".djs-element[data-element-id='population_lookup']").click()
    expect(group.locator("select[name='bm-service-connector'] option:checked")).to_have_text(
        "HTTP/JSON 接口调用（http/json）")
    expect(group.locator("input[name='bm-service-result']")).to_have_value("household")
    expect(group.locator("input[name='bm-service-param-url']")).to_have_value("'http://127.0.0.1:9/household'")
    group.locator("input[name='bm-service-param-body']").fill("{'name': applicant['name']}")
    group.locator("input[name='bm-service-param-method']").fill("'POST'")
    page.set_viewport_size({"width": 1366, "height": 900})
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "189-modeler-service-task.png"))
    page.keyboard.press("Control+s")
    expect(page.locator("#modeler-status")).to_contain_text("已保存")
    expect(page.locator("#problems li.problem-error")).to_have_count(0)
    root = etree.fromstring(draft_files(svc, draft_id)["process.bpmn"].encode())
    [operator] = root.xpath("//bpmn:serviceTask[@id='population_lookup']//spiffworkflow:serviceTaskOperator",
                            namespaces=NS)
    assert (operator.get("id"), operator.get("resultVariable")) == ("http/json", "household")
    params = {p.get("id"): p.get("value") for p in operator.xpath("spiffworkflow:parameters/spiffworkflow:parameter",
                                                                   namespaces=NS)}
    assert params == {"url": "'http://127.0.0.1:9/household'", "body": "{'name': applicant['name']}",
                      "method": "'POST'"}
