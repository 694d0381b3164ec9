"""The printable report in the browser: an auditor opens a long 宅基地 case's report from the case page, prints it to
A4 (several pages, headings and the case number in the PDF's text, the table header repeated), and a tampered
case's report names its first break."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import delete, insert, select, update

from engine import clock, scheduler
from engine.models import Case, CaseEvent
from engine.services import Services
from tests.conftest import ARTIFACTS
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_chain import EVENTS, at, tamper
from tests.test_clock import complete
from tests.test_engine import drive, holder, open_tasks, start
from tests.test_zhaijidi import to_reviews


def long_zhaijidi_case(svc: Services) -> Case:
    """A 宅基地 case run to its end through the parallel review, its survey claimed and given back many times over
    five weeks (so the clock shows its cards) before it was done: a history of several printed pages."""
    case = start(svc, "ZR-ZHAIJIDI", name="欧阳建华")
    to_reviews(svc, case.id)
    [survey] = [task for task in open_tasks(svc, case.id) if task.element_id == "land_survey"]
    surveyor = holder(svc, survey)
    for _ in range(18):
        svc.cases.claim(surveyor, survey.id)
        svc.cases.release(surveyor, survey.id)
        clock.travel(timedelta(days=2))
        scheduler.tick(svc.cases)
    complete(svc, "land_survey", case.id)
    finished, _ = drive(svc, case)
    assert finished.status == "completed"
    return finished


def events_of(svc: Services, case_id: int) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))


def pdf_text(path: str, *pages: int) -> str:
    args = ["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []
    return subprocess.run(["pdftotext", "-layout", *args, path, "-"], capture_output=True, text=True,
                          check=True).stdout


def pdf_pages(path: str) -> int:
    info = subprocess.run(["pdfinfo", path], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE)
    assert found is not None, info
    return int(found.group(1))


def test_an_auditor_prints_a_long_case_report_to_a4(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    svc = sqlite_services
    case = long_zhaijidi_case(svc)
    events = events_of(svc, case.id)
    assert len(events) > 50 and any(e.kind == "card_raised" for e in events)

    log_in(page, "auditor")
    page.goto(f"/cases/{case.id}")
    page.click("#report-link")
    expect(page).to_have_url(re.compile(rf"/cases/{case.id}/report$"))
    expect(page.locator("h1")).to_contain_text(f"办件全程记录报告：{case.case_number}")
    expect(page.locator("#chain-state")).to_have_text(f"记录完好：共 {len(events)} 条，每条的哈希与内容相符，"
                                                      "且逐条链接到末条哈希。")
    expect(page.locator("#head-hash")).to_have_text(case.last_event_hash)
    expect(page.locator("#report-id")).to_have_text(re.compile(r"^\d{6}\*{8}\d{3}[\dX]$"))
    rows = page.locator("#report-table tbody tr")
    expect(rows).to_have_count(len(events))
    last = rows.nth(len(events) - 1)
    expect(last.locator("td.hash code")).to_have_text(events[-1].hash[:12])
    expect(page.locator("#report-deadline")).to_contain_text("黄牌")
    expect(page.locator("#verify-command")).to_have_text(f"python3 links.py {case.case_number}-history.json")
    # No column squeezed: the time fits on its line or two, the short hash on one.
    widths = page.eval_on_selector_all("#report-table thead th",
                                       "cells => cells.map(cell => cell.getBoundingClientRect().width)")
    assert min(widths) >= 55, widths
    hash_text = last.locator("td.hash code").bounding_box()
    assert hash_text is not None and hash_text["height"] < 30, hash_text
    shot(page, "75-report-screen")
    shot(page, "76-report-screen-full", full_page=True)

    # Printed: no navigation, no buttons; A4 pages with the table header repeated on each.
    page.emulate_media(media="print")
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("#print-report")).to_be_hidden()
    shot(page, "77-report-print-media")
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = str(ARTIFACTS / "report.pdf")
    page.pdf(path=pdf, format="A4", print_background=True)
    pages = pdf_pages(pdf)
    assert pages > 1, pages
    text = pdf_text(pdf)
    for heading in ("办件全程记录报告", "办件概况", "记录核验", "期限", "全部记录", "离线核验方法"):
        assert heading in text, heading
    assert case.case_number in text and case.last_event_hash in text.replace("\n", "").replace(" ", "")
    assert "待办" not in pdf_text(pdf, 1)  # the top bar's navigation is not printed
    second = pdf_text(pdf, 2)
    assert "序号" in second and "内容（原值 → 新值）" in second
    # Each short hash printed whole on its line: the column is not squeezed on paper either.
    shown = [event.hash[:12] for event in events if event.hash[:12] in text]
    assert len(shown) == len(events), len(shown)
    subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "2", "-l", "2", "-singlefile", pdf,
                    str(ARTIFACTS / "78-report-pdf-page-2")], check=True)


def test_a_tampered_case_report_names_its_first_break(page: Page, sqlite_services: Services) -> None:  # noqa: F811
    svc = sqlite_services
    case = start(svc, "ZR-ZHAIJIDI", name="司马文静")
    to_reviews(svc, case.id)
    complete(svc, "land_survey", case.id)
    with svc.db.read() as session:
        original = [dict(row) for row in session.execute(select(EVENTS).where(EVENTS.c.case_id == case.id)).mappings()]
    tamper(svc, update(EVENTS).where(at(case, 3)).values(actor_name="他人"))
    try:
        log_in(page, "auditor")
        page.goto(f"/cases/{case.id}/replay?at=1")
        page.click("#report-link")
        expect(page.locator("#chain-state")).to_have_text(
            "记录有 1 处断裂，第一处：第 3 条 —— 第 3 条记录被改动过：内容与其哈希不符")
        expect(page.locator("#report-table tbody tr[data-seq='3'] td").nth(2)).to_have_text("他人")
        shot(page, "79-report-broken-chain")
    finally:
        tamper(svc, delete(EVENTS).where(EVENTS.c.case_id == case.id), insert(EVENTS).values(original))
