"""The auditor's desk in the browser: an auditor signs in and lands on it, finds cases by long names and a period,
verifies a case whose history was altered in the database, sees the altered event named and opens it in the replay."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import delete, insert, select, update

from engine.models import Case, CaseEvent
from engine.services import Services
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_chain import EVENTS, at, tamper
from tests.test_engine import start
from tests.test_replay_browser import events_of
from tests.test_zhaijidi import to_reviews

# Real-looking long names (复姓, 少数民族 names written with the middle dot) to see the columns hold them.
NAMES = ["欧阳慕容建华", "阿卜杜热合曼·买买提依明", "司马长风", "扎西顿珠·次仁旺堆", "上官婉清"]


@pytest.fixture
def tampered(sqlite_services: Services) -> Iterator[Case]:
    """A 宅基地 case part-way through its parallel review whose fourth event names someone else than who acted;
    the history is put back afterwards, as other tests verify every case."""
    svc = sqlite_services
    for name in NAMES[1:]:
        start(svc, "ZR-ZHAIJIDI", "510123101202", "hewan_agent", name=name)
    case = start(svc, "ZR-ZHAIJIDI", name=NAMES[0])
    to_reviews(svc, case.id)
    with svc.db.read() as session:
        original = [dict(row) for row in session.execute(select(EVENTS).where(EVENTS.c.case_id == case.id)).mappings()]
    tamper(svc, update(EVENTS).where(at(case, 4)).values(actor_name="清水镇便民服务中心窗口（代）"))
    yield case
    tamper(svc, delete(EVENTS).where(EVENTS.c.case_id == case.id), insert(EVENTS).values(original))


def test_an_auditor_finds_a_tampered_case_and_opens_the_altered_event(page: Page,  # noqa: F811
                                                                      sqlite_services: Services,
                                                                      tampered: Case) -> None:
    events: list[CaseEvent] = events_of(sqlite_services, tampered.id)
    log_in(page, "auditor")
    expect(page.locator("#nav-audit")).to_have_class(re.compile(r"\bon\b"))
    expect(page.locator("#verify-all")).to_be_visible()
    shot(page, "60-audit-desk")

    # Everything of 宅基地 accepted in March, then narrowed to a part of one long name.
    page.select_option("select[name=item]", "ZR-ZHAIJIDI")
    page.fill("input[name=from]", "2026-03-01")
    page.fill("input[name=to]", "2026-03-31")
    page.click("#audit-search-button")
    for name in NAMES:
        expect(page.locator("#audit-results")).to_contain_text(name)
    expect(page.locator("#audit-total")).to_contain_text("第 1 /")
    row = page.locator(f"tr[data-case-number='{tampered.case_number}']")
    expect(row).to_contain_text("农村居民住宅用地(宅基地)审批")
    expect(row).to_contain_text("510123********")
    # No column is squeezed: the long names and the actions stay on their lines.
    for cell in ("td.audit-applicant", "td.actions"):
        box = row.locator(cell).bounding_box()
        assert box is not None and box["height"] < 70, (cell, box)
    shot(page, "61-audit-search-long-names", full_page=True)

    page.fill("input[name=applicant]", "慕容建")
    page.click("#audit-search-button")
    expect(page.locator("#audit-results tbody tr")).to_have_count(1)
    page.locator(f"tr[data-case-number='{tampered.case_number}']").get_by_role("link", name="核验").click()

    expect(page.locator("#chain-broken")).to_have_text("有断裂")
    first = page.locator("#first-finding")
    expect(first).to_have_attribute("data-seq", "4")
    expect(first).to_contain_text("被改动")
    expect(first).to_contain_text("第 4 条记录被改动过：内容与其哈希不符")
    shot(page, "62-audit-verify-broken", full_page=True)

    first.get_by_role("link", name="在回放中查看第 4 条").click()
    expect(page).to_have_url(re.compile(rf"/cases/{tampered.id}/replay\?at=4$"))
    expect(page.locator("#replay-position")).to_have_text(f"第 4 条 / 共 {len(events)} 条")
    expect(page.locator("#event-actor")).to_have_text("清水镇便民服务中心窗口（代）")
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    shot(page, "63-audit-replay-altered-event", full_page=True)

    # The case page shows the state in red, and 全部核验 lists the case with the same event.
    page.goto(f"/cases/{tampered.id}")
    expect(page.locator("#chain-state")).to_have_text("记录被改动：第 4 条被改动")
    page.goto("/audit")
    page.click("#verify-all")
    broken = page.locator(f"#broken-cases tr[data-case-number='{tampered.case_number}']")
    expect(broken).to_have_attribute("data-seq", "4")
    expect(broken).to_contain_text("第 4 条记录被改动过")
    expect(page.locator("#system-chain")).to_have_attribute("data-intact", "true")
    shot(page, "64-audit-verify-everything", full_page=True)
