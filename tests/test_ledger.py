"""台账: every case of the jurisdiction found by any part of a name or number or an ID's last digits, filtered,
fifty to a page with the total, and exported (Excel, CSV) with the same filters - on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.audit import desk
from engine.audit.privacy import mask_phone
from engine.cases import ledger
from engine.idcard import mask_id_number
from engine.models import Case, Task, User
from engine.procedures.deploy import current_version
from engine.services import Services
from engine.tasks import inbox
from engine.window import ratings
from tests.conftest import TEST_START, user_id
from tests.procedures import applicant, fill
from tests.test_api import HEWAN, LIULIN, auth
from tests.test_engine import DONGPO, drive
from tests.test_webui import login
from webui import create_app

PAGED = "公孙慧琳"
PAGED_COUNT = 53
PHONE = "13808176234"


def start(svc: Services, item: str = "MZ-DIBAO", village: str = DONGPO, agent: str = "dongpo_agent", *,
          name: str, phone: str = PHONE) -> Case:
    with svc.db.read() as session:
        version = current_version(session, item)
        schema = version.forms[version.guide["application_form"]]
    person = applicant(village) | {"name": name, "phone": phone}
    return svc.cases.start_case(user_id(svc, agent), item, village, person, fill(schema)).case


@dataclass(frozen=True)
class Ledger:
    granted: Case
    refused: Case
    running: Case
    overdue: Case
    late: Case


@pytest.fixture(scope="module")
def cases(services: Services) -> Ledger:
    clock.set_now(TEST_START)
    for _ in range(PAGED_COUNT):
        start(services, name=PAGED)
    overdue = start(services, name="欧阳建国")
    running = start(services, "ZR-ZHAIJIDI", name="端木晓燕")
    refused, _ = drive(services, start(services, "MZ-DIBAO", LIULIN, "liulin_agent", name="皇甫玉珍"),
                       reject_at="town_review")
    late = start(services, name="慕容晚成")
    clock.set_now(TEST_START + timedelta(days=21))
    granted, _ = drive(services, start(services, "MZ-TEKUN", HEWAN, "hewan_agent", name="令狐德顺"))
    # Worked three months after its acceptance: finished past its promised date.
    clock.set_now(TEST_START + timedelta(days=90))
    late, _ = drive(services, late)
    clock.set_now(TEST_START)
    return Ledger(granted, refused, running, overdue, late)


def page(svc: Services, username: str = "county_civil", **args: str) -> ledger.Page:
    with svc.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
        return ledger.page(session, user, desk.search_from(args))


def numbers(svc: Services, username: str = "county_civil", **args: str) -> set[str]:
    return {line.case_number for line in page(svc, username, **args).lines}


def test_one_box_finds_any_part_of_a_name_or_number_and_an_ids_last_digits(services: Services,
                                                                          cases: Ledger) -> None:
    running = cases.running
    assert numbers(services, q="晓燕") == {running.case_number}
    assert numbers(services, q="端木") == {running.case_number}
    assert numbers(services, q=running.case_number[3:].lower()) == {running.case_number}
    last = running.applicant_id_number[-6:]
    found = page(services, q=last).lines
    assert running.case_number in {line.case_number for line in found}
    with services.db.read() as session:
        ids = session.scalars(select(Case.applicant_id_number).where(
            Case.case_number.in_([line.case_number for line in found]))).all()
    assert all(number.endswith(last) for number in ids)
    # The middle of an ID number finds nothing: only its end is asked for.
    assert running.case_number not in numbers(services, q=running.applicant_id_number[6:12])


def test_each_filter_narrows_to_the_case_it_names(services: Services, cases: Ledger) -> None:
    c = cases
    assert numbers(services, q="令狐", item="MZ-TEKUN") == {c.granted.case_number}
    assert numbers(services, q="令狐", item="MZ-DIBAO") == set()
    assert numbers(services, q="皇甫", village=str(c.refused.village_id)) == {c.refused.case_number}
    assert numbers(services, q="皇甫", village=str(c.granted.village_id)) == set()
    assert numbers(services, q="令狐", **{"from": "2026-03-23", "to": "2026-03-23"}) == {c.granted.case_number}
    assert numbers(services, q="令狐", **{"from": "2026-03-02", "to": "2026-03-22"}) == set()
    assert numbers(services, q="皇甫", handler="liulin_committee") == {c.refused.case_number}
    assert numbers(services, q="皇甫", handler="qingshui_civil") == set()
    assert numbers(services, q="令狐", result="approved") == {c.granted.case_number}
    assert numbers(services, q="皇甫", result="rejected") == {c.refused.case_number}
    assert numbers(services, q="皇甫", status="completed") == {c.refused.case_number}
    assert numbers(services, q="端木", result="running") == {c.running.case_number}
    assert numbers(services, q="端木", status="completed") == set()


def test_fifty_to_a_page_with_the_total_and_the_filters_kept(services: Services, cases: Ledger) -> None:
    first, second = page(services, q=PAGED), page(services, q=PAGED, page="2")
    assert (first.total, first.pages, len(first.lines)) == (PAGED_COUNT, 2, 50)
    assert (second.page, len(second.lines)) == (2, PAGED_COUNT - 50)
    assert not {line.case_id for line in first.lines} & {line.case_id for line in second.lines}
    assert desk.search_from({"q": PAGED, "item": "MZ-DIBAO", "page": "2"}).query() == {"q": PAGED,
                                                                                        "item": "MZ-DIBAO"}


def test_a_line_says_who_handled_it_when_and_whether_on_time(services: Services, cases: Ledger) -> None:
    granted = page(services, q="令狐").lines[0]
    assert (granted.item_name, granted.village, granted.result, granted.timeliness) == (
        "特困人员救助供养", "河湾村", "approved", ledger.Timeliness.ON_TIME)
    assert granted.handler and granted.completed_at is not None and granted.promised_date is not None
    running = page(services, q="端木").lines[0]
    with services.db.read() as session:
        agent = session.get(User, user_id(services, "dongpo_agent"))
        assert agent is not None
    # Nobody has claimed a step yet: the clerk who accepted it is its handler.
    assert (running.timeliness, running.completed_at, running.handler) == (
        ledger.Timeliness.RUNNING, None, agent.display_name)
    # On screen the numbers are masked for everyone, the clerk who accepted the case too.
    assert (running.phone, running.id_number) == (mask_phone(PHONE), mask_id_number(cases.running.applicant_id_number))
    assert page(services, "dongpo_agent", q="端木").lines[0].phone == mask_phone(PHONE)
    late = page(services, q="慕容晚成").lines[0]
    assert (late.result, late.timeliness) == ("approved", ledger.Timeliness.LATE)
    clock.set_now(TEST_START + timedelta(days=90))
    assert page(services, q="欧阳").lines[0].timeliness == ledger.Timeliness.OVERDUE


def test_a_town_sees_only_its_own_cases(services: Services, cases: Ledger) -> None:
    assert numbers(services, "qingshui_window", q="令狐") == {cases.granted.case_number}
    assert numbers(services, "qingshui_window", q="皇甫") == set()
    assert numbers(services, "shiqiao_window", q="皇甫") == {cases.refused.case_number}


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services, config={"TESTING": True}).test_client()


def test_the_excel_export_holds_every_filtered_case_not_just_the_page(client: FlaskClient, services: Services,
                                                                        cases: Ledger) -> None:
    login(client, "dongpo_agent")
    response = client.get(f"/ledger.xlsx?q={PAGED}&item=MZ-DIBAO&page=2")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data), read_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header[:4] == ("办件编号", "申请人", "身份证号码", "联系电话") and header[-1] == "满意度"
    with services.db.read() as session:
        expected = session.scalars(select(Case.case_number).where(Case.applicant_name == PAGED)
                                   .order_by(Case.accepted_at.desc(), Case.id.desc())).all()
    assert [row[0] for row in rows] == expected and len(rows) == PAGED_COUNT
    # The agent accepted these: the export shows them their applicants' numbers, as the case page does.
    assert {row[3] for row in rows} == {PHONE}
    assert all(len(row[2]) == 18 and "*" not in row[2] for row in rows)
    assert {row[10] for row in rows} == {"办理中"}


def test_the_csv_export_has_the_same_rows_and_masks_cases_the_reader_does_not_handle(
        client: FlaskClient, services: Services, cases: Ledger) -> None:
    login(client, "county_civil")
    response = client.get("/ledger.csv?q=皇甫")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(text)))
    assert header[0] == "办件编号" and [row[0] for row in rows] == [cases.refused.case_number]
    # Refused at the village: the county's civil affairs post never handled it.
    assert rows[0][3] == mask_phone(PHONE) and rows[0][10] == "办结 · 不予"
    late = client.get("/ledger.csv?q=慕容晚成").data.decode("utf-8-sig")
    assert "逾期办结" in late and "办结 · 准予" in late
    everything = client.get("/ledger.csv?q=" + PAGED).data.decode("utf-8-sig").splitlines()
    assert len(everything) == PAGED_COUNT + 1


def test_a_rated_case_shows_its_rating_on_the_page_and_in_the_export(
        client: FlaskClient, services: Services, cases: Ledger) -> None:
    assert page(services, q="欧阳").lines[0].rating is None
    ratings.rate(services.cases, services.settings.followup_days, user_id(services, "hewan_agent"), cases.granted.id,
                 "不满意", "等了三次才拿到结果")
    assert page(services, q="令狐").lines[0].rating == "不满意"
    login(client, "county_civil")
    header, row = list(csv.reader(io.StringIO(client.get("/ledger.csv?q=令狐").data.decode("utf-8-sig"))))
    assert (header[-1], row[-1]) == ("满意度", "不满意")


def test_the_ledger_page_and_the_api(client: FlaskClient, services: Services, cases: Ledger) -> None:
    login(client, "county_civil")
    assert client.get("/cases?q=端木").location.startswith("/ledger?q=")
    html = client.get(f"/ledger?q={PAGED}&page=2").get_data(as_text=True)
    assert "共 53 件 · 第 2 / 2 页" in html and 'rel="prev"' in html
    assert client.get("/ledger?from=2026-13-01").status_code == 422
    api = create_app(services=services, config={"TESTING": True}).test_client()
    body = api.get(f"/api/v1/ledger?q={PAGED}", headers=auth(services, "county_civil")).json
    assert (body["total"], body["pages"], len(body["cases"])) == (PAGED_COUNT, 2, 50)
    exported = api.get("/api/v1/ledger/export?format=csv&q=端木", headers=auth(services, "county_civil"))
    assert exported.status_code == 200 and cases.running.case_number in exported.data.decode("utf-8-sig")
    assert api.get("/api/v1/ledger/export?format=pdf", headers=auth(services, "county_civil")).status_code == 400


# -- the inbox, narrowed and paged as the ledger is ---------------------------------------------------


def staff(svc: Services, session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def test_the_inbox_is_narrowed_by_the_ledgers_filters_and_paged(services: Services, cases: Ledger) -> None:
    with services.db.read() as session:
        committee = staff(services, session, "dongpo_committee")
        narrow = inbox.Narrow(text=PAGED)
        assert inbox.count(session, committee, "post", narrow=narrow) == PAGED_COUNT
        first = inbox.tasks(session, committee, "post", limit=50, narrow=narrow)
        rest = inbox.tasks(session, committee, "post", limit=50, narrow=narrow, offset=50)
        assert (len(first), len(rest)) == (50, PAGED_COUNT - 50)
        assert {row.applicant_name for row in [*first, *rest]} == {PAGED}
        assert not {row.id for row in first} & {row.id for row in rest}
        assert inbox.count(session, committee, "post", narrow=inbox.Narrow(PAGED, "MZ-TEKUN")) == 0
        hewan = cases.granted.village_id
        assert inbox.count(session, committee, "post", narrow=inbox.Narrow(PAGED, village_id=hewan)) == 0
        last = cases.overdue.applicant_id_number[-4:]
        assert cases.overdue.case_number in {row.case_number for row in inbox.tasks(
            session, committee, "post", limit=500, narrow=inbox.Narrow(last))}


def test_the_inbox_opens_on_the_post_tab_when_nothing_is_claimed(client: FlaskClient, services: Services,
                                                                 cases: Ledger) -> None:
    login(client, "dongpo_committee")
    with services.db.read() as session:
        committee = staff(services, session, "dongpo_committee")
        # Counted as the page counts, narrowed by the search: other tests may leave the committee tasks of its own.
        mine = inbox.count(session, committee, "mine", narrow=inbox.Narrow(PAGED, None, None))
    page = client.get(f"/inbox?q={PAGED}").get_data(as_text=True)
    assert ('id="tab-post"\n     aria-selected="true"' in page) == (mine == 0)
    if mine == 0:
        assert page.count("data-task-id=") == 50 and 'id="inbox-pager"' in page
        second = client.get(f"/inbox?tab=post&q={PAGED}&page=2").get_data(as_text=True)
        assert second.count("data-task-id=") == PAGED_COUNT - 50
    task_id = first_task(services, cases.running.id)
    services.cases.claim(user_id(services, "dongpo_committee"), task_id)
    assert 'id="tab-mine"\n     aria-selected="true"' in client.get("/inbox").get_data(as_text=True)
    services.cases.release(user_id(services, "dongpo_committee"), task_id)


def first_task(svc: Services, case_id: int) -> str:
    with svc.db.read() as session:
        task_id = session.scalar(select(Task.id).where(Task.case_id == case_id, Task.status == "open"))
    assert task_id is not None
    return task_id


def test_the_task_api_is_narrowed_and_paged_too(services: Services, cases: Ledger) -> None:
    api = create_app(services=services, config={"TESTING": True}).test_client()
    headers = auth(services, "dongpo_committee")
    first = api.get(f"/api/v1/tasks?scope=post&q={PAGED}&limit=50", headers=headers).json
    rest = api.get(f"/api/v1/tasks?scope=post&q={PAGED}&limit=50&offset=50", headers=headers).json
    assert (len(first["tasks"]), len(rest["tasks"])) == (50, PAGED_COUNT - 50)
    assert not {task["id"] for task in first["tasks"]} & {task["id"] for task in rest["tasks"]}
    assert api.get(f"/api/v1/tasks?scope=post&q={PAGED}&item=MZ-TEKUN", headers=headers).json["tasks"] == []
    assert api.get("/api/v1/tasks?offset=-1", headers=headers).status_code == 400
    assert api.get("/api/v1/tasks?village=x", headers=headers).status_code == 422


def test_an_export_read_in_batches_misses_and_repeats_no_case(services: Services, cases: Ledger,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The 53 cases were accepted at the same instant: batches must break the tie by id.
    with services.db.read() as session:
        user = session.scalar(select(User).where(User.username == "county_civil"))
        whole = [line.case_id for line in ledger.every_line(session, user, desk.search_from({"q": PAGED}))]
        monkeypatch.setattr(ledger, "EXPORT_BATCH", 7)
        batched = [line.case_id for line in ledger.every_line(session, user, desk.search_from({"q": PAGED}))]
    assert batched == whole and len(set(batched)) == PAGED_COUNT
