"""The ledger in the browser: a town window with 60+ cases of long names finds one by part of a name, narrows by
item and status, pages with the filters kept, exports what it found to Excel, and narrows its inbox the same way."""

from __future__ import annotations

import io
from datetime import date
from itertools import cycle

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import select

from engine import clock
from engine.idcard import generate_id_number
from engine.models import Case, Task
from engine.services import Services
from tests.conftest import TEST_START, user_id
from tests.test_browser import base_url, browser, choose_item, log_in, page, shot  # noqa: F401  (fixtures)
from tests.test_engine import drive
from tests.test_ledger import start

# Real-looking long names (复姓, 少数民族 names written with the middle dot) to see the columns hold them.
NAMES = ["欧阳慕容建华", "阿卜杜热合曼·买买提依明", "司马长风", "扎西顿珠·次仁旺堆", "上官婉清",
         "努尔艾力·阿不都热依木", "诸葛青云", "皇甫秀英"]
VILLAGES = [("510123101201", "dongpo_agent"), ("510123101202", "hewan_agent")]
ITEMS = ["ZR-ZHAIJIDI", "MZ-DIBAO", "MZ-TEKUN"]
COUNT = 64


@pytest.fixture(scope="module")
def county(sqlite_services: Services) -> list[Case]:
    clock.set_now(TEST_START)
    made = []
    for index, name, item, (village, agent) in zip(range(COUNT), cycle(NAMES), cycle(ITEMS), cycle(VILLAGES),
                                                   strict=False):
        made.append(start(sqlite_services, item, village, agent, name=name, phone=f"139{index:08d}"))
    drive(sqlite_services, made[1])
    drive(sqlite_services, made[4], reject_at="town_review")
    return made


def test_the_ledger_finds_pages_and_exports(page: Page, sqlite_services: Services,  # noqa: F811
                                            county: list[Case]) -> None:
    log_in(page, "qingshui_window")
    page.goto("/ledger")
    expect(page.locator("#nav-ledger")).to_have_text("办件台账")
    expect(page.locator("#ledger-results tbody tr")).to_have_count(50)
    expect(page.locator("#ledger-pager")).to_be_visible()
    row = page.locator(f"tr[data-case-number='{county[-1].case_number}']")
    expect(row).to_contain_text(f"139****{COUNT - 1:04d}")
    # No column squeezed to a character a line: every cell is wider than two characters and at most two lines high.
    for cell in row.locator("td").all():
        box = cell.bounding_box()
        assert box is not None and box["width"] > 28 and box["height"] < 70, (cell.inner_text(), box)
    shot(page, "110-ledger")

    # Part of a minority name, the part after the ·.
    page.fill("#ledger-search input[name=q]", "买买提依明")
    page.select_option("#ledger-search select[name=item]", "MZ-DIBAO")
    page.click("#ledger-search-button")
    expect(page.locator("#ledger-total")).to_contain_text("共")
    names = page.locator("#ledger-results td.ledger-applicant").all_inner_texts()
    assert names and all("阿卜杜热合曼·买买提依明" in name for name in names)
    items = page.locator("#ledger-results td.ledger-item").all_inner_texts()
    assert set(items) == {"农村居民最低生活保障"}
    shot(page, "111-ledger-narrowed", full_page=True)

    # Page 2 of everything keeps the filters in its links.
    page.goto("/ledger?result=running")
    page.locator("#ledger-pager a[rel=next]").click()
    expect(page.locator("#ledger-total")).to_contain_text("第 2 /")
    assert "result=running" in page.url
    expect(page.locator(f"tr[data-case-number='{county[1].case_number}']")).to_have_count(0)
    shot(page, "112-ledger-page-2", full_page=True)

    with page.expect_download() as downloading:
        page.click("#ledger-xlsx")
    sheet = load_workbook(io.BytesIO(downloading.value.path().read_bytes()), read_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    total = int(page.locator("#ledger-total").inner_text().split("共 ")[1].split(" 件")[0])
    assert header[0] == "办件编号" and len(rows) == total > 50
    assert county[1].case_number not in {row[0] for row in rows}


def test_the_inbox_is_narrowed_and_paged(page: Page, county: list[Case], sqlite_services: Services) -> None:  # noqa: F811
    # Tasks other tests left claimed go back to the post, so that nothing is "mine".
    committee = user_id(sqlite_services, "dongpo_committee")
    with sqlite_services.db.read() as session:
        held = session.scalars(select(Task.id).where(Task.assignee_id == committee, Task.status == "open")).all()
    for task_id in held:
        sqlite_services.cases.release(committee, task_id)
    log_in(page, "dongpo_committee")
    page.goto("/inbox")
    # Nothing claimed, the post's work waiting: the inbox opens on the post tab.
    expect(page.locator("#tab-post")).to_have_attribute("aria-selected", "true")
    page.fill("#inbox-search input[name=q]", "欧阳慕容")
    page.click("#inbox-search-button")
    expect(page.locator("#inbox-table tbody tr").first).to_contain_text("欧阳慕容建华")
    for text in page.locator("#inbox-table tbody tr").all_inner_texts():
        assert "欧阳慕容建华" in text
    shot(page, "113-inbox-narrowed", full_page=True)


def test_an_elderly_applicants_age_is_checked_against_the_id_number(page: Page) -> None:  # noqa: F811
    clock.set_now(TEST_START)
    log_in(page, "dongpo_agent")
    page.goto("/cases/new")
    choose_item(page, "MZ-TEKUN")
    page.fill("#applicant_name", "阿依古丽·买买提")
    page.fill("#applicant_id_number", generate_id_number("510123", date(1991, 6, 12), 42))
    page.fill("#applicant_phone", "13981234567")
    page.check("input[name=f-applied_by][value=self]")
    page.check("input[name=f-tekun_category][value=elderly]")
    page.check("input[name=f-has_labour_capacity][value=false]")
    page.check("input[name=f-has_supporter][value=false]")
    page.fill("#f-income_source", "无固定收入，靠亲友接济")
    page.fill("#f-reason", "本人长期患病，无劳动能力，无法定赡养人，申请特困人员救助供养")
    page.click("#submit-case")
    expect(page.locator("body")).to_contain_text("“申请人类别”为“老年人”时，申请人须年满 60 周岁")
    expect(page.locator("body")).to_contain_text("出生日期 1991-06-12")
    shot(page, "114-form-age-check", full_page=True)
