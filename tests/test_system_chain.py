"""The system chain: events that belong to no case are hashed in order, and an edited one is found out."""

from __future__ import annotations

from sqlalchemy import select, update

from engine import clock
from engine.audit import system
from engine.models import SystemEvent, User
from engine.services import Services
from engine.vocabulary import SystemEventKind


def test_system_events_chain_and_an_edit_breaks_it(services: Services) -> None:
    with services.db.write() as session:
        admin = session.scalar(select(User).where(User.username == "admin"))
        first = system.append(session, SystemEventKind.USER_ADDED, admin, clock.now(), "li_si",
                              after={"role": "village_agent", "org": "510123101201"})
        second = system.append(session, SystemEventKind.POST_AWAY, admin, clock.now(), "qingshui_civil")
    assert second.seq == first.seq + 1 and second.prev_hash == first.hash
    with services.db.read() as session:
        assert system.verify(session) == []
    with services.db.write() as session:
        session.execute(update(SystemEvent).where(SystemEvent.id == first.id).values(subject="wang_wu"))
    with services.db.read() as session:
        assert system.verify(session)
    with services.db.write() as session:
        session.execute(update(SystemEvent).where(SystemEvent.id == first.id).values(subject="li_si"))
    with services.db.read() as session:
        assert system.verify(session) == []
