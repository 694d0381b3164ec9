"""流程管理 in the browser: the list of procedures and versions, a new draft's problems, the service guide editor
and a version diff drawn on the diagram (screenshots 40–44)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from lxml import etree
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine import clock
from engine.models import User
from engine.procedures import drafts
from engine.procedures.deploy import current_version
from engine.procedures.diagram import NS
from engine.services import Services
from tests.conftest import make_services
from tests.test_browser import browser, log_in, page, served, shot  # noqa: F401 (fixtures used by name)
from tests.test_engine import start

LIMIT = 2 * 1024 * 1024
SHIPPED = datetime(2026, 1, 12, 10, 30, tzinfo=clock.SHANGHAI)
APPLICANTS = ["欧阳秀兰", "司马建国", "诸葛桂芳", "上官德明"]
DI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"


@pytest.fixture(scope="module")
def catalog_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: the test publishes versions the shared browser database must not have."""
    clock.set_now(SHIPPED)  # the shipped versions were published before the test's cases and changes
    svc = make_services("sqlite", tmp_path_factory.mktemp("procedures-web"), "bianmin_procedures_web")
    clock.reset()
    yield svc
    svc.db.dispose()


@pytest.fixture(scope="module")
def base_url(catalog_services: Services) -> Iterator[str]:
    with served(catalog_services) as url:
        yield url


def reworked(xml: str) -> str:
    """低保 with 乡镇审核 renamed and its approval condition tightened, the town's refusal end removed and an
    入户调查 step added (not yet connected): one of each kind of difference."""
    root = etree.fromstring(xml.encode("utf-8"))
    process = root.find(f"{{{NS['bpmn']}}}process")
    assert process is not None
    root.xpath("//bpmn:userTask[@id='town_review']", namespaces=NS)[0].set("name", "乡镇审核（入户调查、邻里访问）")
    condition = root.xpath("//bpmn:sequenceFlow[@id='Flow_town_approve']/bpmn:conditionExpression", namespaces=NS)[0]
    condition.text = 'town_decision == "approve" and household_size > 0'
    for gone in ("EndEvent_rejected_town", "Flow_town_reject"):
        for node in root.xpath(f"//*[@id='{gone}' or @bpmnElement='{gone}']", namespaces=NS):
            node.getparent().remove(node)
        for ref in root.xpath(f"//bpmn:flowNodeRef[text()='{gone}'] | //bpmn:outgoing[text()='{gone}']",
                              namespaces=NS):
            ref.getparent().remove(ref)
    task = etree.SubElement(process, f"{{{NS['bpmn']}}}userTask", id="home_visit", name="入户调查核实家庭经济状况")
    lane = root.xpath("//bpmn:lane[@name='town_civil_affairs']", namespaces=NS)[0]
    etree.SubElement(lane, f"{{{NS['bpmn']}}}flowNodeRef").text = task.get("id")
    plane = root.find(f".//{{{DI}}}BPMNPlane")
    assert plane is not None
    shape = etree.SubElement(plane, f"{{{DI}}}BPMNShape", id="home_visit_di",
                             bpmnElement="home_visit")
    etree.SubElement(shape, f"{{{DC}}}Bounds", x="1560", y="385", width="120", height="80")
    return etree.tostring(root, encoding="unicode")


def prepare(svc: Services) -> int:
    """Cases running on v1, a v2 with a shorter promise, and an open draft of v3 with diagram changes."""
    for name in APPLICANTS:
        start(svc, name=name)
    with svc.db.write() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        v1 = current_version(session, "MZ-DIBAO")
        draft = drafts.create_from_version(session, admin, v1.id, LIMIT)
        guide = draft.files["item.toml"].replace("promised_days = 30", "promised_days = 25")
        drafts.save(session, admin, draft.id, {"item.toml": guide}, LIMIT)
        drafts.publish(session, admin, draft.id, LIMIT)
        v2 = current_version(session, "MZ-DIBAO")
        changed = drafts.create_from_version(session, admin, v2.id, LIMIT)
        drafts.save(session, admin, changed.id, {"process.bpmn": reworked(changed.files["process.bpmn"])}, LIMIT)
        return changed.id


def test_procedures_list_draft_guide_and_diff(page: Page, catalog_services: Services) -> None:  # noqa: F811
    changed_id = prepare(catalog_services)
    start(catalog_services, name="慕容晓燕")
    log_in(page, "admin")
    page.locator("#nav-procedures").click()
    expect(page.locator("h1")).to_have_text("流程管理")
    dibao = page.locator("#procedure-items tr[data-item='MZ-DIBAO']")
    expect(dibao).to_have_count(2)
    # Four cases stay on v1; the one started after publication runs on v2.
    expect(dibao.nth(0)).to_contain_text("v2")
    expect(dibao.nth(0)).to_contain_text("当前版本")
    expect(dibao.nth(0)).to_contain_text("1（1）")
    expect(dibao.nth(1)).to_contain_text("4（4）")
    expect(page.locator(f"#procedure-drafts tr[data-draft='{changed_id}']")).to_contain_text("处错误")
    shot(page, "40-procedures-list", full_page=True)

    page.fill("#new-name", "残疾人两项补贴（困难残疾人生活补贴和重度残疾人护理补贴）申领")
    page.click("#create-blank")
    expect(page.locator(".flash-success")).to_contain_text("已新建草稿")
    problems = page.locator("#draft-problems tr.problem")
    expect(problems.first).to_be_visible()
    expect(page.locator("#draft-problems")).to_contain_text("code（事项编码）不能为空")
    expect(page.locator("#publish")).to_be_disabled()
    expect(page.locator("#open-modeler")).to_have_attribute("href", re.compile(r"^/modeler/\d+$"))
    shot(page, "41-draft-problems", full_page=True)

    page.click("#open-guide")
    page.fill("#g-code", "CL-LIANGXIANG")
    page.fill("#g-category", "残疾人服务")
    page.select_option("#g-case-type", "escalated")
    page.fill("#g-department", "县残疾人联合会（县残联）")
    page.fill("#g-promised", "15")
    page.fill("#g-statutory", "20")
    page.fill("#g-warning", "3")
    page.fill("#g-conditions", "具有本县户籍、持有第二代《中华人民共和国残疾人证》的低保家庭中的残疾人，"
                               "或残疾等级被评定为一级、二级且需要长期照护的重度残疾人")
    page.fill("#g-basis", "《国务院关于全面建立困难残疾人生活补贴和重度残疾人护理补贴制度的意见》（国发〔2015〕52号）")
    page.fill("#g-fee", "不收费")
    for name, copies in (("《中华人民共和国残疾人证》原件及复印件", "1"), ("户口簿、居民身份证复印件", "2"),
                         ("低保证（申请生活补贴时）", "1")):
        page.click("#add-material")
        row = page.locator("#material-rows tr").last
        row.locator("input[type=text]").fill(name)
        row.locator("input[type=number]").fill(copies)
    page.locator("#material-rows tr").nth(0).locator("input[type=checkbox]").nth(1).check()
    page.click("#add-material")
    page.locator("#material-rows tr").last.locator(".remove-material").click()
    expect(page.locator("#material-rows tr")).to_have_count(3)
    page.click("#save-guide")
    expect(page.locator(".flash")).to_contain_text("办事指南已保存")
    expect(page.locator("#material-rows tr")).to_have_count(3)
    expect(page.locator("#g-code")).to_have_value("CL-LIANGXIANG")
    shot(page, "42-guide-editor", full_page=True)

    page.goto(f"/procedures/drafts/{changed_id}")
    page.click("#draft-diff")
    expect(page.locator("#diff-new")).to_have_attribute("data-ready", "true")
    expect(page.locator("#diff-old")).to_have_attribute("data-ready", "true")
    expect(page.locator("#diff-new .djs-element.bm-added")).to_have_count(1)
    expect(page.locator("#diff-new .djs-element.bm-changed")).to_have_count(2)
    expect(page.locator("#diff-old .djs-element.bm-removed")).to_have_count(2)
    town = page.locator("#diff-elements tr[data-element='town_review']").first
    expect(town).to_contain_text("乡镇审核（入户调查、邻里访问）")
    shot(page, "43-diff", full_page=True)

    # The 低保 guide: its 公示 timer takes 7 calendar days from the rule the guide cites (57号 §19).
    page.goto(f"/procedures/drafts/{changed_id}/guide")
    village = page.locator("#guide-timers tr[data-timer='Timer_village_publicity']")
    expect(village.locator("input[type=number]")).to_have_value("7")
    expect(village.locator("select")).to_have_value("calendar")
    expect(page.locator("#guide-timers tr")).to_have_count(2)
    expect(page.locator("#g-promised")).to_have_value("25")
    page.locator("#guide-timers").scroll_into_view_if_needed()
    shot(page, "44-guide-timers")
