"""Replay: a case rebuilt at any event from its recorded events, and the post and address new events keep."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from engine.audit import chain, origin
from engine.audit.replay import markers_at, moment
from engine.models import Case, CaseEvent, ProcedureVersion, Task, Timer
from engine.procedures.diagram import diagram_info
from engine.services import Services
from tests.test_api import make_client, pass_publicity
from tests.test_clock import complete
from tests.test_engine import start
from tests.test_webui import login


def case_events(svc: Services, case_id: int) -> list[CaseEvent]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))


def elements(svc: Services, case_id: int) -> dict[str, str]:
    with svc.db.read() as session:
        rows = [*session.execute(select(Task.id, Task.element_id).where(Task.case_id == case_id)),
                *session.execute(select(Timer.id, Timer.element_id).where(Timer.case_id == case_id))]
    return {row[0]: row[1] for row in rows}


def completed_seq(events: list[CaseEvent], step: str) -> int:
    return next(e.seq for e in events if e.kind == "task_completed" and e.step == step)


def test_zhaijidi_replayed_at_its_parallel_review(services: Services) -> None:
    case = start(services, "ZR-ZHAIJIDI")
    complete(services, "village_review", case.id)
    pass_publicity(services)
    for element in ("intake", "land_survey"):
        complete(services, element, case.id)
    events = case_events(services, case.id)
    with services.db.read() as session:
        info = diagram_info(session.get(ProcedureVersion, session.get(Case, case.id).version_id))
    ids = elements(services, case.id)

    first = moment(events, 1)
    assert (first.seq, first.status, first.open_tasks, first.promised_date) == (1, "running", [], None)
    assert first.data == events[0].after["data"] and first.changed == frozenset(first.data)

    surveyed = moment(events, completed_seq(events, "现场勘察及用地审查"))
    assert sorted(t.step for t in surveyed.open_tasks) == ["农业农村审查", "规划审查"]
    submitted, earlier = events[surveyed.seq - 1].after, moment(events, surveyed.seq - 1).data
    assert surveyed.changed == {key for key, value in submitted.items() if earlier.get(key) != value}
    assert surveyed.changed and all(surveyed.data[key] == submitted[key] for key in submitted)
    # 受理 started the clock: the promised date shown then is the one counted at acceptance (no pause or
    # extension since).
    with services.db.read() as session:
        promised = session.get(Case, case.id).promised_date
    assert surveyed.promised_date == promised.isoformat() and surveyed.clock_started_at is not None
    drawn = markers_at(info, surveyed, ids)
    assert {"village_review", "intake", "land_survey", "Gateway_parallel_split"} <= set(drawn.completed)
    assert sorted(drawn.active) == ["agriculture_review", "planning_review"]
    assert "planning_review" not in drawn.completed

    # Just before the survey was done: the three reviews open (the events after 受理's completion created them).
    accepted = moment(events, completed_seq(events, "现场勘察及用地审查") - 1)
    assert sorted(t.step for t in accepted.open_tasks) == ["农业农村审查", "现场勘察及用地审查", "规划审查"]
    assert sorted(markers_at(info, accepted, ids).active) == ["agriculture_review", "land_survey", "planning_review"]
    # Stepping back gives what the case held then, not what it holds now.
    assert "land_survey" not in markers_at(info, accepted, ids).completed
    # Beyond either end the replay stays at the first or last event.
    assert moment(events, 0).seq == 1 and moment(events, 10_000).seq == events[-1].seq


def test_new_events_keep_post_and_address_and_old_rows_hash_as_before(services: Services) -> None:
    case = start(services, "ZR-ZHAIJIDI")
    token = origin.enter("203.0.113.7")
    try:
        complete(services, "village_review", case.id)
    finally:
        origin.leave(token)
    done = next(e for e in case_events(services, case.id) if e.kind == "task_completed")
    assert done.address == "203.0.113.7" and origin.post_of(done.post) == ("village_committee", _org(done))
    with services.db.read() as session:
        assert chain.verify(session, case.id) == []
    # A row written before the keys existed (None) hashes exactly as the keys' absence.
    row: dict[str, Any] = {key: getattr(done, key) for key in chain.HASHED}
    assert chain.canonical({**row, "post": None, "address": None}) == chain.canonical(row)
    assert "203.0.113.7" in chain.canonical({**row, "post": done.post, "address": done.address})


def _org(event: CaseEvent) -> int:
    parsed = origin.post_of(event.post)
    assert parsed is not None
    return parsed[1]


def test_replay_page_shows_the_case_then_to_whoever_may_see_it(services: Services) -> None:
    case = start(services, "ZR-ZHAIJIDI")
    client = make_client(services)
    login(client, "dongpo_agent")
    page = client.get(f"/cases/{case.id}/replay?at=1")
    assert page.status_code == 200
    assert "replay-link" in client.get(f"/cases/{case.id}").text
    events = case_events(services, case.id)
    last = client.get(f"/cases/{case.id}/replay?at={len(events)}").text
    assert f"第 {len(events)} 条 / 共 {len(events)} 条" in last and 'data-active="[&#34;village_review&#34;]"' in last
    # The village agent's own registration, made outside a request: the post is kept, the address is not.
    first = page.text
    assert '<dd id="event-address">未记录</dd>' in first and "东坡村" in first and 'class="changed"' in first
    auditor = make_client(services)
    login(auditor, "auditor")
    assert auditor.get(f"/cases/{case.id}/replay?at=2").status_code == 200
    outsider = make_client(services)
    login(outsider, "shiqiao_leader")
    assert outsider.get(f"/cases/{case.id}/replay").status_code == 404
