"""The supervision desk: counts by town, department, item and handler over a seeded mix, and jurisdiction."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from engine import clock
from engine.cases.locking import actor
from engine.errors import ValidationFailed
from engine.models import Case, Deadline, OrgUnit, Task
from engine.people import accounts
from engine.people.jurisdiction import Actor
from engine.services import Services
from engine.supervision import desk
from tests.conftest import make_services, user_id
from tests.test_api import auth, make_client
from tests.test_engine import start
from tests.test_webui import login

# A second county, so its cases are the only ones in its supervisor's view and none in the demo county's.
COUNTY = ("510199", "白云县")
TOWNS = [("510199101000", "云峰镇", "510199101201", "云顶村", "yunding"),
         ("510199102000", "云溪镇", "510199102201", "溪口村", "xikou")]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk_services(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: the second county must not show up in other tests' view of the demo."""
    svc = make_services(request.param, tmp_path_factory.mktemp(f"desk-{request.param}"), "bianmin_desk")
    yield svc
    svc.db.dispose()


def second_county(svc: Services) -> None:
    with svc.db.write() as session:
        if session.scalar(select(OrgUnit.id).where(OrgUnit.code == COUNTY[0])) is not None:
            return
        county = OrgUnit(code=COUNTY[0], name=COUNTY[1], level="county", parent_id=None)
        session.add(county)
        session.flush()
        for town_code, town_name, village_code, village_name, key in TOWNS:
            town = OrgUnit(code=town_code, name=town_name, level="town", parent_id=county.id)
            session.add(town)
            session.flush()
            session.add(OrgUnit(code=village_code, name=village_name, level="village", parent_id=town.id))
            session.flush()
            for suffix, role in (("agent", "village_agent"), ("committee", "village_committee")):
                accounts.add_user(session, f"{key}_{suffix}", role, village_code, password="bianmin2026",
                                  display_name=f"{village_name}{'代办员' if suffix == 'agent' else '村委会'}")
        accounts.add_user(session, "baiyun_supervisor", "supervisor", COUNTY[0], password="bianmin2026",
                          display_name="白云县电子监察")


def as_actor(svc: Services, username: str) -> Actor:
    with svc.db.read() as session:
        return actor(session, user_id(svc, username))


def set_clock(svc: Services, case_id: int, **values: object) -> None:
    with svc.db.write() as session:
        session.execute(update(Deadline).where(Deadline.case_id == case_id, Deadline.task_id.is_(None))
                        .values(**values))


def seeded_mix(svc: Services) -> dict[str, Case]:
    """Four 低保 cases: in 云峰镇 one red and one yellow with a red step; in 云溪镇 one late and one quiet."""
    second_county(svc)
    cases = {name: start(svc, village=village, agent=agent) for name, village, agent in [
        ("red", "510199101201", "yunding_agent"), ("yellow", "510199101201", "yunding_agent"),
        ("late", "510199102201", "xikou_agent"), ("quiet", "510199102201", "xikou_agent")]}
    # Cards as the scheduler's tick sets them.
    set_clock(svc, cases["red"].id, card="red")
    set_clock(svc, cases["yellow"].id, card="yellow")
    set_clock(svc, cases["late"].id, status="finished", late=True, finished_at=clock.now(), next_check_at=None)
    with svc.db.write() as session:
        task = session.scalars(select(Task).where(Task.case_id == cases["yellow"].id)).one()
        task.assignee_id = user_id(svc, "yunding_committee")
        session.add(Deadline(case_id=task.case_id, task_id=task.id, name=task.name, limit_days=3,
                             started_at=task.created_at, due_date=date(2026, 3, 1), provisional=False,
                             paused_days=0, extended_days=0, status="open", card="red"))
    return cases


def test_counts_by_town_department_item_and_handler(desk_services: Services) -> None:
    cases = seeded_mix(desk_services)
    supervisor = as_actor(desk_services, "baiyun_supervisor")
    month = desk.filters({})
    assert (month.period.start, month.period.end) == (date(2026, 3, 1), date(2026, 3, 2))
    with desk_services.db.read() as session:
        by_town = {line.label: line.counts for line in desk.counts(session, supervisor, month, "town")}
        assert by_town == {
            "云峰镇": {"case": {"open": 2, "yellow": 1, "red": 1, "late": 0},
                    "step": {"open": 1, "yellow": 0, "red": 1, "late": 0}},
            "云溪镇": {"case": {"open": 1, "yellow": 0, "red": 0, "late": 1},
                    "step": {"open": 0, "yellow": 0, "red": 0, "late": 0}},
        }
        assert desk.totals(desk.counts(session, supervisor, month, "town"))["case"] == {
            "open": 3, "yellow": 1, "red": 1, "late": 1}
        by_department = {line.label: line.counts for line in desk.counts(session, supervisor, month, "department")}
        # A case clock answers to the item's department (县民政局), a step to its post.
        assert by_department["县民政局"]["case"]["open"] == 3
        assert by_department["村委会"]["step"] == {"open": 1, "yellow": 0, "red": 1, "late": 0}
        [item] = desk.counts(session, supervisor, month, "item")
        assert (item.key, item.label, item.overdue) == ("MZ-DIBAO", "农村居民最低生活保障", 3)
        [handler] = desk.counts(session, supervisor, month, "handler")
        assert (handler.label, handler.overdue) == ("云顶村村委会", 1)

        carded = desk.carded(session, supervisor, month)
        assert [(c.row.case_number, c.row.kind, c.row.card) for c in carded] == [
            (cases["yellow"].case_number, "step", "red"), (cases["red"].case_number, "case", "red"),
            (cases["yellow"].case_number, "case", "yellow")]
        # The red step is one day past its due date and held by the committee member who claimed it.
        assert carded[0].days_overdue == 1
        assert carded[0].holders == [desk.Holder("云顶村村委会", "云顶村 村委会")]
        # A case clock is held by whoever holds the case's open steps: here the committee post, unclaimed.
        assert (carded[1].holders, carded[1].days_overdue) == ([desk.Holder("", "云顶村 村委会")], 0)
        assert [c.row.card for c in desk.carded(session, supervisor, desk.filters({"card": "yellow"}))] == ["yellow"]
        town = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "510199102000"))
        only = desk.filters({"town": str(town)})
        assert [line.label for line in desk.counts(session, supervisor, only, "town")] == ["云溪镇"]
        assert desk.carded(session, supervisor, only) == []
        # Nothing of it ran in February.
        assert desk.counts(session, supervisor, desk.filters({"period": "last_month"}), "town") == []
        assert [row.name for row in desk.towns(session, supervisor)] == ["云峰镇", "云溪镇"]


def test_another_countys_supervisor_sees_none_of_it(desk_services: Services) -> None:
    cases = seeded_mix(desk_services)
    numbers = {case.case_number for case in cases.values()}
    other = as_actor(desk_services, "supervisor")
    with desk_services.db.read() as session:
        year = desk.filters({"period": "this_year"})
        assert not numbers & {c.row.case_number for c in desk.carded(session, other, year)}
        assert not {"云峰镇", "云溪镇"} & {line.label for line in desk.counts(session, other, year, "town")}
        assert "云顶村村委会" not in {line.label for line in desk.counts(session, other, year, "handler")}
        assert [row.name for row in desk.towns(session, other)] == ["清水镇", "石桥镇"]
        # A village agent has no towns to choose from.
        assert desk.towns(session, as_actor(desk_services, "dongpo_agent")) == []


def test_period_and_filter_input_is_checked() -> None:
    today = date(2026, 3, 2)
    assert desk.period("last_month", today=today) == desk.Period(date(2026, 2, 1), date(2026, 2, 28), "last_month")
    assert desk.period("this_year", today=today).start == date(2026, 1, 1)
    assert desk.period("range", "2026-01-05", "2026-02-10", today).end == date(2026, 2, 10)
    for args, message in [({"period": "decade"}, "统计期间"), ({"period": "range", "from": "2026-13-01", "to": ""},
                                                                 "YYYY-MM-DD"),
                          ({"period": "range", "from": "2026-03-01", "to": "2026-02-01"}, "不能早于"),
                          ({"card": "green"}, "牌色"), ({"town": "qingshui"}, "乡镇")]:
        with pytest.raises(ValidationFailed, match=message):
            desk.filters(args, today)
    assert desk.filters({"period": "range", "from": "2026-01-05", "to": "2026-02-10", "card": "red"}).query() == {
        "period": "range", "from": "2026-01-05", "to": "2026-02-10", "card": "red"}


# -- through the API, the page and the exports ----------------------------------------------------


@pytest.fixture
def client(desk_services: Services) -> FlaskClient:
    return make_client(desk_services)


def test_the_api_gives_the_desk_to_supervisors_of_the_jurisdiction(client: FlaskClient,
                                                                   desk_services: Services) -> None:
    cases = seeded_mix(desk_services)
    answer = client.get("/api/v1/supervision?period=this_year", headers=auth(desk_services, "baiyun_supervisor"))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["period"] == {"start": "2026-01-01", "end": "2026-03-02", "preset": "this_year"}
    assert body["totals"]["step"]["red"] >= 1
    assert {line["label"] for line in body["by"]["town"]} == {"云峰镇", "云溪镇"}
    assert cases["red"].case_number in {row["case_number"] for row in body["carded"]}
    assert all(row["card"] == "red" for row in client.get(
        "/api/v1/supervision?card=red", headers=auth(desk_services, "baiyun_supervisor")).json["carded"])
    other = client.get("/api/v1/supervision?period=this_year", headers=auth(desk_services, "supervisor")).json
    assert cases["red"].case_number not in {row["case_number"] for row in other["carded"]}
    assert client.get("/api/v1/supervision", headers=auth(desk_services, "dongpo_agent")).status_code == 403
    bad = client.get("/api/v1/supervision?period=range&from=2026-03-05&to=2026-03-01",
                     headers=auth(desk_services, "baiyun_supervisor"))
    assert bad.status_code == 422 and "不能早于" in bad.json["error"]


def test_the_page_and_its_exports_carry_the_filters(client: FlaskClient, desk_services: Services) -> None:
    cases = seeded_mix(desk_services)
    login(client, "baiyun_supervisor")
    page = client.get("/supervision?card=red").get_data(as_text=True)
    assert 'id="nav-desk"' in page and cases["red"].case_number in page
    assert 'export.csv?period=this_month&amp;card=red' in page
    exported = client.get("/supervision/export.csv?period=this_month&card=red")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    raw = exported.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["统计期间", "2026-03-01 — 2026-03-02"]
    assert rows[1][:3] == ["牌色", "类型", "办件编号"]
    assert {row[0] for row in rows[2:]} == {"红牌"}
    assert cases["red"].case_number in {row[2] for row in rows[2:]}
    assert cases["yellow"].case_number in {row[2] for row in rows[2:] if row[1] == "环节时限"}

    book = load_workbook(io.BytesIO(client.get("/supervision/export.xlsx?period=this_month").get_data()))
    assert book.sheetnames == ["黄牌红牌", "按乡镇", "按部门（岗位）", "按事项", "按办理人（环节时限）"]
    carded = [row for row in book["黄牌红牌"].iter_rows(min_row=3, values_only=True)]
    assert {row[0] for row in carded} == {"红牌", "黄牌"}
    towns = {row[0]: row[1:] for row in book["按乡镇"].iter_rows(min_row=2, values_only=True)}
    # Case clocks then step limits, each open, yellow, red, completed late: what the desk counts.
    with desk_services.db.read() as session:
        expected = {line.label: line.counts for line in desk.counts(
            session, as_actor(desk_services, "baiyun_supervisor"), desk.filters({}), "town")}
    assert towns == {label: tuple(counts[kind][name] for kind in desk.KINDS for name in desk.MEASURES)
                     for label, counts in expected.items()}
    assert towns["云溪镇"][3] >= 1 and towns["云峰镇"][6] >= 1
    handlers = {row[0]: row for row in book["按办理人（环节时限）"].iter_rows(min_row=2, values_only=True)}
    assert "云顶村村委会" in handlers

    login(client, "dongpo_agent")
    assert client.get("/supervision").status_code == 403
    assert client.get("/supervision/export.csv").status_code == 403
    assert 'id="nav-desk"' not in client.get("/inbox").get_data(as_text=True)
