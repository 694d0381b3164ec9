"""Tampering with case and system histories directly in the database, shared by every test that must see it named:
each helper changes the rows one way and says what a verifier must report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from engine import clock
from engine.audit import links, system
from engine.audit.chain import Break
from engine.models import Case, SystemChainHead, SystemEvent, User
from engine.services import Services
from engine.vocabulary import SystemEventKind
from tests.test_chain import EVENTS, at, event_id, forged_after, sealed, tamper

SYSTEM = SystemEvent.__table__
HEAD = SystemChainHead.__table__
HOW = ["alter", "delete", "insert", "reorder"]


def case_tampering(svc: Services, case: Case, how: str) -> list[str]:
    """Tamper with the seven-event case `how`; the lines `audit verify` must print for it."""
    if how == "alter":
        tamper(svc, update(EVENTS).where(at(case, 6)).values(actor_name="县民政局"))
        return ["第 6 条 [altered] 第 6 条记录被改动过：内容与其哈希不符"]
    if how == "delete":
        tamper(svc, delete(EVENTS).where(at(case, 4)))
        return ["第 4 条 [missing] 第 4 条记录缺失：已被删除"]
    if how == "insert":
        before = forged_after(svc, case, 3)
        tamper(svc, *(update(EVENTS).where(at(case, seq)).values(seq=seq + 1) for seq in range(7, 3, -1)),
               insert(EVENTS).values(sealed(before | {"seq": 4, "prev_hash": before["hash"], "actor_name": "他人"})))
        return ["第 4 条 [inserted]", "第 5 条 [out_of_order] 第 5 条位置上是原第 4 条记录"]
    third, fifth = event_id(svc, case, 3), event_id(svc, case, 5)
    tamper(svc, update(EVENTS).where(EVENTS.c.id == third).values(seq=-1),
           update(EVENTS).where(EVENTS.c.id == fifth).values(seq=3),
           update(EVENTS).where(EVENTS.c.id == third).values(seq=5))
    return ["第 3 条 [out_of_order] 第 3 条位置上是原第 5 条记录",
            "第 5 条 [out_of_order] 第 5 条位置上是原第 3 条记录"]


@pytest.fixture
def system_chain(services: Services) -> Iterator[list[dict[str, Any]]]:
    """At least five system events to tamper with; the chain and its head are put back afterwards."""
    with services.db.write() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        for username in ("zhang_san", "li_si", "wang_wu", "zhao_liu", "qian_qi"):
            system.append(session, SystemEventKind.USER_ADDED, admin, clock.now(), username,
                          after={"role": "village_agent", "org": "510123101201"})
    original = system_rows(services)
    with services.db.read() as session:
        head = dict(session.execute(select(HEAD)).mappings().one())
    yield original
    # Sign-ins during the test append to the chain too: the rows and the head go back as they were.
    tamper(services, delete(SYSTEM), insert(SYSTEM).values(original), update(HEAD).values(head))
    with services.db.read() as session:
        assert system.verify(session) == []


def system_rows(svc: Services) -> list[dict[str, Any]]:
    with svc.db.read() as session:
        return [dict(row) for row in session.execute(select(SYSTEM).order_by(SYSTEM.c.seq)).mappings()]


def system_found(svc: Services) -> list[tuple[str, int, int | None]]:
    with svc.db.read() as session:
        return [(finding.kind, finding.seq, finding.event_id) for finding in system.verify(session)]


def system_tampering(svc: Services, rows: list[dict[str, Any]], how: str) -> list[tuple[str, int, int | None]]:
    """Tamper with the system chain's last five events `how`; what its verifier must find."""
    by_seq = {row["seq"]: row for row in rows}
    last = rows[-1]["seq"]
    third, second = by_seq[last - 2], by_seq[last - 1]
    if how == "alter":
        tamper(svc, update(SYSTEM).where(SYSTEM.c.id == third["id"]).values(subject="hacker"))
        return [(Break.ALTERED, third["seq"], third["id"])]
    if how == "delete":
        tamper(svc, delete(SYSTEM).where(SYSTEM.c.id == third["id"]))
        return [(Break.MISSING, third["seq"], None)]
    if how == "insert":
        forged = {key: value for key, value in rows[-1].items() if key != "id"} | {
            "seq": last + 1, "prev_hash": rows[-1]["hash"], "subject": "hacker", "kind": SystemEventKind.TOKEN_CREATED}
        forged["hash"] = links.digest(forged["prev_hash"], forged, links.SYSTEM_KEYS)
        tamper(svc, insert(SYSTEM).values(forged))
        with svc.db.read() as session:
            new_id = session.scalar(select(SYSTEM.c.id).where(SYSTEM.c.seq == last + 1))
        return [(Break.INSERTED, last + 1, new_id)]
    tamper(svc, update(SYSTEM).where(SYSTEM.c.id == third["id"]).values(seq=-1),
           update(SYSTEM).where(SYSTEM.c.id == second["id"]).values(seq=third["seq"]),
           update(SYSTEM).where(SYSTEM.c.id == third["id"]).values(seq=second["seq"]))
    return [(Break.OUT_OF_ORDER, third["seq"], second["id"]), (Break.OUT_OF_ORDER, second["seq"], third["id"])]


