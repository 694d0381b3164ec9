"""Tampering with a case's history rows in the database: the verifier names the exact event, on both databases."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from engine.audit import chain
from engine.audit.chain import Break
from engine.models import Case, CaseEvent, ServiceItem
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.procedures import SEED_SHAPE, variant
from tests.test_engine import form, holder, open_tasks, start

EVENTS = CaseEvent.__table__
CHAIN_ITEM = "CHAIN-DIBAO"


def history_of_seven(svc: Services) -> Case:
    """A 低保 case with seven events: accepted, task arrived, claimed, released, claimed, completed, timer started.

    Its 公示 does not pause the clock here, which would add an eighth.
    """
    with svc.db.read() as session:
        deployed = session.get(ServiceItem, CHAIN_ITEM) is not None
    if not deployed:
        with tempfile.TemporaryDirectory() as tmp, svc.db.write() as session:
            deploy_folders(session, [variant(Path(tmp), CHAIN_ITEM, source=SEED_SHAPE, properties={
                "Timer_village_publicity": {"clockPause": None}})], svc.settings.max_diagram_bytes)
    case = start(svc, CHAIN_ITEM)
    [task] = open_tasks(svc, case.id)
    committee = holder(svc, task)
    svc.cases.claim(committee, task.id)
    svc.cases.release(committee, task.id)
    svc.cases.claim(committee, task.id)
    svc.cases.complete(committee, task.id, form(svc, task, "approve"))
    assert [kind for kind, *_ in rows(svc, case)] == ["case_started", "task_created", "task_claimed",
                                                      "task_released", "task_claimed", "task_completed",
                                                      "timer_started"]
    return case


@pytest.fixture
def case(services: Services) -> Iterator[Case]:
    """A case of seven events to tamper with; its history is put back afterwards, as later tests move every case on."""
    case = history_of_seven(services)
    with services.db.read() as session:
        original = [dict(row) for row in session.execute(select(EVENTS).where(EVENTS.c.case_id == case.id)).mappings()]
    yield case
    tamper(services, delete(EVENTS).where(EVENTS.c.case_id == case.id), insert(EVENTS).values(original))
    with services.db.read() as session:
        assert chain.verify(session, case.id) == []


def rows(svc: Services, case: Case) -> list[Any]:
    with svc.db.read() as session:
        return list(session.execute(select(CaseEvent.kind, CaseEvent.seq, CaseEvent.id)
                                    .where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))


def event_id(svc: Services, case: Case, seq: int) -> int:
    return next(row.id for row in rows(svc, case) if row.seq == seq)


def found(svc: Services, case: Case) -> list[tuple[str, int, int | None]]:
    with svc.db.read() as session:
        findings = chain.verify(session, case.id)
    assert all(finding.message for finding in findings)
    return [(finding.kind, finding.seq, finding.event_id) for finding in findings]


def tamper(svc: Services, *statements: Any) -> None:
    with svc.db.write() as session:
        for statement in statements:
            session.execute(statement)


def at(case: Case, seq: int) -> Any:
    return (EVENTS.c.case_id == case.id) & (EVENTS.c.seq == seq)


def forged_after(svc: Services, case: Case, seq: int, **changes: Any) -> dict[str, Any]:
    """A copy of event `seq` as a new row, with `changes` applied."""
    with svc.db.read() as session:
        row = session.execute(select(EVENTS).where(at(case, seq))).mappings().one()
    return {key: value for key, value in row.items() if key != "id"} | changes


def sealed(row: dict[str, Any]) -> dict[str, Any]:
    # The forger knows the hashing scheme: the row's hash is right for its content.
    return row | {"hash": chain._digest(row["prev_hash"], row)}


@pytest.mark.parametrize("column,value", [
    ("after", {"village_decision": "reject", "village_opinion": "不同意"}),
    ("actor_name", "县民政局"),
    ("at", "shift"),
])
def test_an_altered_field_names_that_event(services: Services, case: Case, column: str, value: Any) -> None:
    if value == "shift":
        with services.db.read() as session:
            value = session.scalar(select(EVENTS.c.at).where(at(case, 6))) - timedelta(days=1)
    tamper(services, update(EVENTS).where(at(case, 6)).values({column: value}))
    assert found(services, case) == [(Break.ALTERED, 6, event_id(services, case, 6))]


@pytest.mark.parametrize("seq,relinked", [(3, False), (7, False), (1, True), (4, True)])
def test_an_altered_event_whose_hash_was_recomputed_is_named(services: Services, case: Case, seq: int,
                                                             relinked: bool) -> None:
    """The forger re-seals the row; when `relinked`, its link back is changed as well."""
    row = forged_after(services, case, seq, actor_name="县民政局")
    row = sealed(row | {"prev_hash": "1" * 64} if relinked else row)
    tamper(services, update(EVENTS).where(at(case, seq)).values(
        actor_name=row["actor_name"], prev_hash=row["prev_hash"], hash=row["hash"]))
    assert found(services, case) == [(Break.ALTERED, seq, event_id(services, case, seq))]


def test_a_deleted_event_is_named_missing(services: Services, case: Case) -> None:
    tamper(services, delete(EVENTS).where(at(case, 4)))
    assert found(services, case) == [(Break.MISSING, 4, None)]


def test_an_event_deleted_and_the_later_ones_renumbered_is_named_missing(services: Services, case: Case) -> None:
    ids = {seq: event_id(services, case, seq) for seq in range(5, 8)}
    tamper(services, delete(EVENTS).where(at(case, 4)),
           *(update(EVENTS).where(at(case, seq)).values(seq=seq - 1) for seq in range(5, 8)))
    assert found(services, case) == [(Break.MISSING, 4, None)] + [
        (Break.OUT_OF_ORDER, seq - 1, ids[seq]) for seq in range(5, 8)]


def test_an_event_appended_with_a_wrong_hash_is_named_inserted(services: Services, case: Case) -> None:
    last = forged_after(services, case, 7)
    tamper(services, insert(EVENTS).values(last | {"seq": 8, "prev_hash": last["hash"], "hash": "f" * 64}))
    assert found(services, case) == [(Break.INSERTED, 8, event_id(services, case, 8))]


def test_a_well_forged_event_after_the_recorded_head_is_named_inserted(services: Services, case: Case) -> None:
    last = forged_after(services, case, 7)
    tamper(services, insert(EVENTS).values(sealed(last | {"seq": 8, "prev_hash": last["hash"], "kind": "case_completed",
                                                          "after": {"result": "approved"}})))
    with services.db.read() as session:
        [finding] = chain.verify(session, case.id)
    assert (finding.kind, finding.seq, finding.event_id) == (Break.INSERTED, 8, event_id(services, case, 8))
    assert "第 7 条" in finding.message  # the head the case row recorded


def test_an_event_slipped_into_the_middle_is_named_inserted(services: Services, case: Case) -> None:
    ids = {seq: event_id(services, case, seq) for seq in range(1, 8)}
    before = forged_after(services, case, 3)
    # Make room at seq 4 from the top down (seq is unique per case), then seal a forged claim there.
    tamper(services, *(update(EVENTS).where(at(case, seq)).values(seq=seq + 1) for seq in range(7, 3, -1)),
           insert(EVENTS).values(sealed(before | {"seq": 4, "prev_hash": before["hash"], "actor_name": "他人"})))
    assert found(services, case) == [(Break.INSERTED, 4, event_id(services, case, 4))] + [
        (Break.OUT_OF_ORDER, seq + 1, ids[seq]) for seq in range(4, 8)]


def test_two_events_swapped_are_both_named(services: Services, case: Case) -> None:
    third, fifth = event_id(services, case, 3), event_id(services, case, 5)
    # (case_id, seq) is unique: go through a free seq.
    tamper(services, update(EVENTS).where(EVENTS.c.id == third).values(seq=-1),
           update(EVENTS).where(EVENTS.c.id == fifth).values(seq=3),
           update(EVENTS).where(EVENTS.c.id == third).values(seq=5))
    assert found(services, case) == [(Break.OUT_OF_ORDER, 3, fifth), (Break.OUT_OF_ORDER, 5, third)]


def test_a_deleted_last_event_is_named_as_the_truncated_tail(services: Services, case: Case) -> None:
    tamper(services, delete(EVENTS).where(at(case, 7)))
    assert found(services, case) == [(Break.TRUNCATED, 7, None)]


def test_separate_breaks_are_each_named(services: Services, case: Case) -> None:
    second = event_id(services, case, 2)
    tamper(services, update(EVENTS).where(at(case, 2)).values(actor_name="他人"),
           delete(EVENTS).where(at(case, 5)), delete(EVENTS).where(at(case, 7)))
    assert found(services, case) == [(Break.ALTERED, 2, second), (Break.MISSING, 5, None),
                                     (Break.TRUNCATED, 7, None)]
