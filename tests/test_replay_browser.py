"""Replay in the browser: an auditor steps a 宅基地 case through its parallel review from start to end and back, and
at three events the diagram's markers and the data shown are what the case held then."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine.models import CaseEvent
from engine.services import Services
from tests.test_browser import base_url, browser, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_clock import complete
from tests.test_engine import drive, start
from tests.test_zhaijidi import to_reviews


def events_of(svc: Services, case_id: int) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))


def expect_markers(on: Page, marker: str, elements: list[str]) -> None:
    for element in elements:
        expect(on.locator(f".djs-element[data-element-id='{element}']")).to_have_class(re.compile(rf"\b{marker}\b"))


def expect_unmarked(on: Page, marker: str, elements: list[str]) -> None:
    for element in elements:
        expect(on.locator(f".djs-element[data-element-id='{element}']")).not_to_have_class(
            re.compile(rf"\b{marker}\b"))


def test_an_auditor_replays_a_zhaijidi_case_through_its_parallel_review(page: Page,  # noqa: F811
                                                                         sqlite_services: Services) -> None:
    svc = sqlite_services
    case = start(svc, "ZR-ZHAIJIDI", name="欧阳建华")
    to_reviews(svc, case.id)
    complete(svc, "land_survey", case.id)
    surveyed_at = len(events_of(svc, case.id))
    finished, _ = drive(svc, case)
    assert finished.status == "completed"
    events = events_of(svc, case.id)
    survey_done = max(e.seq for e in events if e.kind == "task_completed" and e.seq <= surveyed_at)
    survey = events[survey_done - 1]

    log_in(page, "auditor")
    page.goto(f"/cases/{case.id}/replay?at=1")
    expect(page.locator("#replay-position")).to_have_text(f"第 1 条 / 共 {len(events)} 条")
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    # At 受理 by the village nothing is done yet but the start, and nothing is open: the village's task comes next.
    expect_unmarked(page, "bm-completed", ["village_review", "intake", "land_survey", "planning_review"])

    # To the end with the last button, then back one event with the ← key.
    page.click("#replay-last")
    expect(page.locator("#replay-position")).to_have_text(f"第 {len(events)} 条 / 共 {len(events)} 条")
    expect(page.locator("#status-then")).to_contain_text("办结")
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    expect_markers(page, "bm-completed", ["village_review", "intake", "land_survey", "planning_review"])
    page.locator("body").press("ArrowLeft")
    expect(page.locator("#replay-position")).to_have_text(f"第 {len(events) - 1} 条 / 共 {len(events)} 条")

    # The survey just done: its review partners still open, the survey's answers shown as changed.
    page.goto(f"/cases/{case.id}/replay?at={survey.seq}")
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    expect_markers(page, "bm-completed", ["village_review", "intake", "land_survey"])
    expect_markers(page, "bm-active", ["agriculture_review", "planning_review"])
    expect_unmarked(page, "bm-active", ["land_survey"])
    expect(page.locator("#open-then li[data-step]")).to_have_count(2)
    changed = page.locator("#replay-data tr.changed")
    expect(changed).to_have_count(len(survey.after))
    for key in survey.after:
        expect(page.locator(f"#replay-data tr.changed[data-key='{key}']")).to_have_count(1)
    expect(page.locator("#event-actor")).to_have_text(survey.actor_name)
    shot(page, "67-replay-parallel-review", full_page=True)

    # One event earlier (back with the ← key): the three reviews open, the survey not yet done.
    page.locator("body").press("ArrowLeft")
    expect(page.locator("#replay-position")).to_have_text(f"第 {survey.seq - 1} 条 / 共 {len(events)} 条")
    expect(page.locator("#diagram[data-ready=true]")).to_be_attached()
    expect_markers(page, "bm-active", ["agriculture_review", "land_survey", "planning_review"])
    expect_unmarked(page, "bm-completed", ["land_survey"])
    expect(page.locator("#open-then li[data-step]")).to_have_count(3)
    for key in survey.after:
        expect(page.locator(f"#replay-data tr.changed[data-key='{key}']")).to_have_count(0)
    shot(page, "68-replay-both-reviews-open", full_page=True)
