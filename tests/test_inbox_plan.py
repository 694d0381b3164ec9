"""The inboxes on a table of many tasks: PostgreSQL reads them from their indexes in inbox order, and both
databases list the same tasks in the same order as the inbox rules say."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select, update

from engine import clock, setup
from engine.deadlines import cards
from engine.models import Case, Deadline, Task, User
from engine.people.accounts import set_away
from engine.services import Services
from engine.tasks import inbox
from engine.vocabulary import CardColor, DeadlineStatus, TaskStatus
from tests.conftest import TEST_START, make_services, user_id
from tests.test_engine import form, holder, open_tasks, start

# Open tasks of one post, claimed tasks and tasks done long ago: enough that reading the whole post and
# sorting it is what PostgreSQL would do without the inbox indexes.
OPEN_PER_POST, DONE = 3000, 20000
YELLOW_EVERY = 25
DELEGATED_EVERY = 40


def _fill(svc: Services) -> None:
    """Bulk task rows on the demo posts' real cases, as a county's years of work leave them."""
    with svc.db.read() as session:
        cases = session.execute(select(Case.id, Case.village_id, Case.town_id, Case.promised_date)).all()
        committee = session.execute(select(User.role_code, User.org_id).where(
            User.username == "dongpo_committee")).one()
        clerk = session.scalar(select(User.id).where(User.username == "qingshui_civil"))
    first = TEST_START - timedelta(days=400)
    rows = []
    for n in range(OPEN_PER_POST * 2 + DONE):
        case = cases[n % len(cases)]
        open_ = n < OPEN_PER_POST * 2
        rows.append({
            "id": str(uuid.uuid4()), "case_id": case.id, "element_id": "village_review", "name": "村委会协助并提出意见",
            # Half the open rows on the committee's post, the other half on the town's civil-affairs post.
            "role_code": committee.role_code if n % 2 else "town_civil_affairs",
            "org_id": committee.org_id if n % 2 else case.town_id, "form_file": None, "ui_form_file": None,
            "status": TaskStatus.OPEN if open_ else TaskStatus.COMPLETED, "assignee_id": None,
            # Many share an arrival time, so the tie-breaking order counts too.
            "created_at": first + timedelta(minutes=n // 3), "completed_at": None if open_ else first,
            "completed_by_id": None, "promised_date": case.promised_date,
            # A few done long ago were delegated when their case moved on without them (委派 never answered).
            "delegated_by_id": clerk if not open_ and n % DELEGATED_EVERY == 0 else None,
        })
    # Each open task with a step limit of its own, a few of them in their yellow period, all looked at weeks on.
    limits = [{"case_id": row["case_id"], "task_id": row["id"], "name": row["name"], "limit_days": 10,
               "started_at": row["created_at"], "due_date": date(2026, 12, 1), "provisional": False,
               "paused_days": 0, "extended_days": 0, "status": DeadlineStatus.OPEN,
               "card": CardColor.YELLOW if n % YELLOW_EVERY == 0 else "",
               "next_check_at": TEST_START + timedelta(days=30, minutes=n)}
              for n, row in enumerate(rows) if row["status"] == TaskStatus.OPEN]
    with svc.db.write() as session:
        session.execute(insert(Task), rows)
        session.execute(insert(Deadline), limits)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def busy(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The demo county with dated and undated cases at the village and the town, claimed tasks and bulk rows."""
    svc = make_services(request.param, tmp_path_factory.mktemp("inbox"), "bianmin_inbox_plan")
    # Accepted on different days, and two in December, whose deadline runs into a year not entered.
    for day in (20, 3, 12, 0, 7, 280, 285):
        clock.set_now(TEST_START + timedelta(days=day))
        start(svc)
    clock.set_now(TEST_START + timedelta(days=290))
    for case_id in (1, 2, 6):
        [task] = open_tasks(svc, case_id)
        svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
    clock.travel(timedelta(days=10))
    svc.cases.run_due_timers()
    town = [open_tasks(svc, case_id)[0] for case_id in (1, 2, 6)]
    svc.cases.claim(user_id(svc, "qingshui_civil"), town[0].id)
    svc.cases.claim(user_id(svc, "qingshui_civil"), town[1].id)
    svc.cases.claim(user_id(svc, "qingshui_civil_b"), town[2].id)
    _fill(svc)
    if request.param == "postgresql":
        with svc.db.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE task")
            connection.exec_driver_sql("ANALYZE deadline")
    yield svc
    svc.db.dispose()


def _staff(svc: Services, username: str) -> User:
    with svc.db.read() as session:
        return session.scalar(select(User).where(User.username == username))


def _expected_post(svc: Services, user: User, sort: str, descending: bool) -> list[str]:
    """The post inbox as its rule reads: open, unclaimed, the user's post; promised dates first, undated last."""
    with svc.db.read() as session:
        rows = session.execute(select(Task.id, Task.created_at, Case.promised_date).join(Case).where(
            Task.status == TaskStatus.OPEN, Task.assignee_id.is_(None), Task.role_code == user.role_code,
            Task.org_id == user.org_id)).all()
    if sort == "arrived":
        ordered = sorted(rows, key=lambda r: (r.created_at, r.id), reverse=descending)
    else:
        def due(r: Any) -> tuple:
            days = r.promised_date.toordinal() if r.promised_date else 0
            return (r.promised_date is None, -days if descending else days, r.created_at, r.id)
        ordered = sorted(rows, key=due)
    return [r.id for r in ordered]


@pytest.mark.parametrize("username", ["dongpo_committee", "qingshui_civil"])
@pytest.mark.parametrize("sort,descending", [("due", False), ("due", True), ("arrived", False), ("arrived", True)])
def test_post_inbox_lists_the_rule_s_tasks_in_order(busy: Services, username: str, sort: str,
                                                   descending: bool) -> None:
    user = _staff(busy, username)
    expected = _expected_post(busy, user, sort, descending)
    with busy.db.read() as session:
        listed = [row.id for row in inbox.tasks(session, user, "post", limit=50, sort=sort, descending=descending)]
        counted = inbox.count(session, user, "post")
    assert listed == expected[:50]
    assert counted == len(expected) > OPEN_PER_POST // 2


def test_my_inbox_holds_my_claims_and_an_away_colleague_s(busy: Services) -> None:
    a, b = _staff(busy, "qingshui_civil"), _staff(busy, "qingshui_civil_b")
    with busy.db.read() as session:
        claimed = dict(session.execute(select(Task.id, Task.assignee_id).where(
            Task.status == TaskStatus.OPEN, Task.assignee_id.is_not(None))).all())

    def mine(user: User) -> set[str]:
        with busy.db.read() as session:
            return {row.id for row in inbox.tasks(session, _staff(busy, user.username), "mine", limit=100)}

    assert mine(a) == {t for t, who in claimed.items() if who == a.id} and len(mine(a)) == 2
    assert mine(b) == {t for t, who in claimed.items() if who == b.id}
    try:
        with busy.db.write() as session:
            set_away(session, a.username, True)
        # B covers the away A's claimed tasks; A still sees their own.
        assert mine(b) == set(claimed)
        assert mine(a) == {t for t, who in claimed.items() if who == a.id}
        with busy.db.write() as session:
            set_away(session, b.username, True)
        assert mine(b) == {t for t, who in claimed.items() if who == b.id}
    finally:
        with busy.db.write() as session:
            set_away(session, a.username, False)
            set_away(session, b.username, False)


def _plan(svc: Services, user: User, scope: str, sort: str = "due", card: str = "") -> dict[str, Any]:
    statement = inbox.INBOX_ROWS[(scope, sort, False, card)].compile(dialect=svc.db.engine.dialect)
    return _explain(svc, statement, {**statement.params, **inbox._params(user), "limit": 20})


def _explain(svc: Services, statement: Any, params: dict[str, Any]) -> dict[str, Any]:
    with svc.db.engine.connect() as connection:
        return connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params).scalar_one()[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize("username", ["dongpo_committee", "qingshui_civil"])
@pytest.mark.parametrize("sort", ["due", "arrived"])
def test_postgresql_reads_the_post_inbox_in_order_from_its_index(busy: Services, username: str, sort: str) -> None:
    if busy.db.is_sqlite:
        pytest.skip("the query plan is PostgreSQL's")
    nodes = list(_nodes(_plan(busy, _staff(busy, username), "post", sort)))
    on_tasks = [node for node in nodes if node.get("Relation Name") == "task"]
    assert [node["Node Type"] for node in on_tasks] == ["Index Scan"], json.dumps(nodes, ensure_ascii=False)
    assert on_tasks[0]["Index Name"] == ("ix_task_inbox_post" if sort == "due" else "ix_task_inbox_post_arrived")
    # The first page comes straight off the index: no sorting of the post's thousands of open tasks.
    assert not [node for node in nodes if node["Node Type"] == "Sort"]


def test_postgresql_reads_my_inbox_from_the_claimed_task_index(busy: Services) -> None:
    if busy.db.is_sqlite:
        pytest.skip("the query plan is PostgreSQL's")
    nodes = list(_nodes(_plan(busy, _staff(busy, "qingshui_civil"), "mine")))
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == "task"]
    assert "ix_task_inbox_mine" in {node.get("Index Name") for node in nodes}


@pytest.mark.parametrize("sort", ["due", "arrived", "card"])
def test_postgresql_reads_the_delegated_list_from_the_delegation_index(busy: Services, sort: str) -> None:
    if busy.db.is_sqlite:
        pytest.skip("the query plan is PostgreSQL's")
    user = _staff(busy, "qingshui_civil")
    nodes = list(_nodes(_plan(busy, user, "delegated", sort)))
    on_tasks = [node for node in nodes if node.get("Relation Name") == "task"]
    # Only the user's delegated tasks are read (a few, sorted in memory), never the table of every task; when each
    # was delegated comes from its own case's events.
    assert [node["Index Name"] for node in on_tasks] == ["ix_task_delegated_by"], json.dumps(nodes, ensure_ascii=False)
    on_events = [node for node in nodes if node.get("Relation Name") == "case_event"]
    assert [node["Index Name"] for node in on_events] == ["case_event_case_id_seq_key"], json.dumps(on_events)
    # The tab's count, on every inbox page of every user, too.
    counting = inbox.COUNTS["delegated"].compile(dialect=busy.db.engine.dialect)
    counted = [node for node in _nodes(_explain(busy, counting, {**counting.params, **inbox._params(user)}))
               if node.get("Relation Name") == "task"]
    assert [node.get("Index Name") for node in counted] == ["ix_task_delegated_by"], json.dumps(counted)
    with busy.db.read() as session:
        assert inbox.count(session, user, "delegated") == 0
        assert inbox.tasks(session, user, "delegated", limit=20, sort=sort) == []


def test_the_yellow_inbox_lists_the_post_s_tasks_showing_a_yellow_card(busy: Services) -> None:
    user = _staff(busy, "dongpo_committee")
    with busy.db.read() as session:
        listed = inbox.tasks(session, user, "post", limit=500, card=CardColor.YELLOW)
        counted = inbox.count(session, user, "post", CardColor.YELLOW)
        expected = set(session.scalars(select(Task.id).join(Deadline, Deadline.task_id == Task.id).where(
            Task.status == TaskStatus.OPEN, Task.assignee_id.is_(None), Task.role_code == user.role_code,
            Task.org_id == user.org_id, Deadline.card == CardColor.YELLOW)))
        red = inbox.tasks(session, user, "post", limit=500, card=CardColor.RED)
    assert {row.id for row in listed} == expected and counted == len(expected) > 10
    assert {row.card for row in listed} == {"yellow"} and not red
    # Soonest promised date first, undated last, as the unfiltered inbox.
    days = [(row.promised_date is None, row.promised_date or date.min) for row in listed]
    assert days == sorted(days)


def test_postgresql_reads_the_carded_inbox_from_the_card_index(busy: Services) -> None:
    if busy.db.is_sqlite:
        pytest.skip("the query plan is PostgreSQL's")
    nodes = list(_nodes(_plan(busy, _staff(busy, "dongpo_committee"), "post", card=CardColor.YELLOW)))
    assert "ix_deadline_open_card" in {node.get("Index Name") for node in nodes}, json.dumps(nodes)
    assert not [node for node in nodes if node["Node Type"] == "Seq Scan"
                and node.get("Relation Name") in ("task", "deadline")], json.dumps(nodes, ensure_ascii=False)


def test_postgresql_claims_due_deadlines_from_the_due_index(busy: Services) -> None:
    if busy.db.is_sqlite:
        pytest.skip("the query plan is PostgreSQL's")
    statement = cards.CLAIM.compile(dialect=busy.db.engine.dialect)
    nodes = list(_nodes(_explain(busy, statement, {"now": TEST_START + timedelta(days=31), "batch": cards.BATCH})))
    on_deadlines = [node for node in nodes if node.get("Relation Name") == "deadline"]
    assert [node["Node Type"] for node in on_deadlines] == ["Index Scan"], json.dumps(nodes)
    assert on_deadlines[0]["Index Name"] == "ix_deadline_due_check"


def test_upgrading_copies_each_case_s_promised_date_to_its_tasks(tmp_path: Path) -> None:
    svc = make_services("sqlite", tmp_path, "bianmin_inbox_upgrade")
    case = start(svc)
    with svc.db.engine.begin() as connection:
        command.downgrade(setup.alembic_config(connection), "0004")
    with svc.db.engine.begin() as connection:
        connection.execute(update(Case.__table__).values(promised_date=date(2026, 4, 14)))
    setup.migrate(svc.db)
    [task] = open_tasks(svc, case.id)
    assert task.promised_date == date(2026, 4, 14)
    svc.db.dispose()
