"""In the browser: a scan uploaded on a case (and a second version), a completed case rated 不满意 at the window, the
supervisor finds the follow-up (red once overdue) and answers it; the desk counts the rating."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from engine import clock
from engine.services import Services
from tests.conftest import make_services
from tests.test_attachments import JPEG, PDF
from tests.test_browser import browser, log_in, log_out, page, served, shot  # noqa: F401  (fixtures)
from tests.test_engine import drive, start

COMMENT = ("第一次来办理时窗口只告诉我缺户口簿复印件，第二次来又说还缺家庭收入证明和村委会出具的情况说明，"
           "前后跑了三趟镇上才把材料交齐，希望以后能一次性告知清楚")
ANSWER = ("已于当日电话回访申请人王秀兰，核实情况属实：受理时未按一次性告知制度列全所缺材料。"
          "已责成东坡村代办员重新学习一次性告知制度，并在代办站张贴低保申请材料清单；申请人对整改表示认可")


@pytest.fixture(scope="module")
def rsvc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    tmp = tmp_path_factory.mktemp("ratings-browser")
    base = make_services("sqlite", tmp, "bianmin_ratings_browser")
    yield Services(settings=dataclasses.replace(base.settings, attachments_dir=tmp / "attachments"),
                   db=base.db, cases=base.cases)
    base.db.dispose()


@pytest.fixture(scope="module")
def base_url(rsvc: Services) -> Iterator[str]:
    with served(rsvc) as url:
        yield url


def test_scan_rating_follow_up_and_answer(page: Page, rsvc: Services, tmp_path: Path) -> None:  # noqa: F811
    case = start(rsvc)
    scan, rescan = tmp_path / "王秀兰户口簿及家庭成员身份证复印件.pdf", tmp_path / "户口簿重新扫描（清晰版）.jpg"
    scan.write_bytes(PDF)
    rescan.write_bytes(JPEG)

    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#attachments-none")).to_be_visible()
    page.select_option("#attachment-slot", "户口簿及家庭成员身份证复印件")
    page.set_input_files("#attachment-file", str(scan))
    page.click("#attachment-submit")
    expect(page.locator(".flash-success")).to_contain_text("已上传“户口簿及家庭成员身份证复印件”第 1 版")
    page.select_option("#attachment-slot", "户口簿及家庭成员身份证复印件")
    page.set_input_files("#attachment-file", str(rescan))
    page.click("#attachment-submit")
    expect(page.locator(".flash-success")).to_contain_text("第 2 版")
    rows = page.locator("#attachment-list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("v2")
    expect(rows.nth(0)).to_contain_text("当前")
    expect(rows.nth(1)).to_contain_text(scan.name)
    # A file that only claims to be a PDF is refused by its content.
    fake = tmp_path / "申请书.pdf"
    fake.write_bytes(b"GIF89a" + b"\x00" * 200)
    page.set_input_files("#attachment-file", str(fake))
    page.click("#attachment-submit")
    expect(page.locator(".flash-error")).to_contain_text("只能上传 PDF、JPEG 或 PNG 格式的扫描件")
    expect(page.locator("#history")).to_contain_text("上传材料扫描件")
    page.locator("#attachments").scroll_into_view_if_needed()
    shot(page, "115-case-scans-two-versions")
    with page.expect_download() as download:
        rows.nth(1).locator("a.att-link").click()
    assert Path(download.value.path()).read_bytes() == PDF
    log_out(page)

    final, _ = drive(rsvc, case)
    assert final.status == "completed"
    log_in(page, "dongpo_agent")
    page.goto(f"/cases/{case.id}")
    page.locator("#rating").scroll_into_view_if_needed()
    expect(page.locator("#attachment-form")).to_have_count(0)
    page.check("#rating-form input[value=不满意]")
    page.fill("#rating-comment", COMMENT)
    shot(page, "116-window-records-a-rating")
    page.click("#rating-submit")
    expect(page.locator(".flash-success")).to_contain_text("已登记评价：不满意；已转电子监察整改回访")
    expect(page.locator("#rating-level")).to_have_text("不满意")
    expect(page.locator("#case-follow-ups")).to_contain_text("评价“不满意”")
    page.locator("#rating").scroll_into_view_if_needed()
    shot(page, "117-case-rated-poor-with-follow-up")
    log_out(page)

    # Past its due date (5 working days) the follow-up shows red.
    clock.travel(timedelta(days=10))
    log_in(page, "supervisor")
    page.click("#nav-follow-ups")
    row = page.locator(f"#follow-ups tr[data-case-number='{final.case_number}']")
    expect(row).to_contain_text("不满意")
    expect(row).to_contain_text(COMMENT[:20])
    expect(row.locator(".fu-card")).to_have_text("红牌")
    shot(page, "118-supervisor-follow-ups-red", full_page=True)
    row.locator("textarea[name=answer]").fill(ANSWER)
    row.get_by_role("button", name="答复").click()
    expect(page.locator(".flash-success")).to_contain_text("已答复")
    expect(page.locator("#follow-ups-none")).to_be_visible()
    page.click("#tab-answered")
    answered = page.locator(f"#follow-ups tr[data-case-number='{final.case_number}']")
    expect(answered).to_contain_text(ANSWER[:30])
    expect(answered).to_contain_text("已答复")
    expect(answered.locator(".fu-late")).to_have_text("逾期答复")
    shot(page, "119-follow-up-answered", full_page=True)
    page.goto(f"/cases/{case.id}")
    expect(page.locator("#history")).to_contain_text("整改回访答复")
    page.goto("/supervision?period=this_year")
    expect(page.locator("#desk-ratings-window")).to_contain_text("东坡村")
    page.locator("#desk-ratings-title").scroll_into_view_if_needed()
    shot(page, "120-desk-ratings")
    log_out(page)


def test_public_rating_form_on_a_wrong_number(page: Page, rsvc: Services) -> None:  # noqa: F811
    page.goto("/login")
    # The public query page (another area) includes _public_rating.html; its answer page shows it again on error.
    page.evaluate("""() => { const f = document.createElement('form'); f.method = 'post'; f.action = '/query/rate';
        const token = document.querySelector('input[name=csrf_token]').value;
        for (const [k, v] of [['csrf_token', token], ['case_number', 'MZ-DIBAO-20260302-9999'], ['id_last4', '1234'],
                              ['level', '满意']]) { const i = document.createElement('input'); i.name = k; i.value = v;
                              f.appendChild(i); }
        document.body.appendChild(f); f.submit(); }""")
    expect(page.locator("#public-feedback")).to_contain_text("请核对办件编号和身份证号码后四位")
    expect(page.locator("#public-rating-form")).to_be_visible()
    shot(page, "121-public-rating-wrong-number", full_page=True)
