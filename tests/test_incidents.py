"""Due timers fired case by case: a case whose timed path fails becomes an incident, retried with growing waits up to
a cap, and the other cases' 公示 still end; on SQLite and PostgreSQL, each in a database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine import clock
from engine.cases import incidents
from engine.models import Case, Incident, Role, Task, Timer
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.conftest import make_services
from tests.procedures import dibao_with_scripts
from tests.test_engine import DONGPO, form, holder, open_tasks, start

BROKEN_ITEM = "MZ-DIBAO-TALLY"
MARGIN = timedelta(seconds=20)
# After the village 公示 a script tallies the objections from a field no form has: the path fails every time.
BROKEN_SCRIPTS = {"Flow_publicity_to_town": ("Script_tally", "汇总公示意见", "objections = objection_count + 1")}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def svc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    # Its own database: the incidents and the 公示 timers here must not meet other tests' due cases.
    services = make_services(request.param, tmp_path_factory.mktemp(f"incidents_{request.param}"),
                             "bianmin_incidents")
    deploy_broken(services, tmp_path_factory.mktemp("broken"))
    yield services
    services.db.dispose()


def deploy_broken(svc: Services, parent: Path) -> None:
    with svc.db.write() as session:
        deploy_folders(session, [dibao_with_scripts(parent, BROKEN_ITEM, BROKEN_SCRIPTS)],
                       svc.settings.max_diagram_bytes)


def failed_case(svc: Services, parent: Path) -> Case:
    """A case of the broken procedure whose 公示 has ended: an open incident, retried in a minute."""
    deploy_broken(svc, parent)
    case = in_publicity(svc, BROKEN_ITEM)
    clock.travel(timedelta(days=8))
    svc.cases.run_due_timers()
    return case


@contextmanager
def town_review_post_without_level(svc: Services) -> Iterator[None]:
    """The town review's post set up without a level: nobody can be given the task after the 公示; then repaired."""
    with svc.db.write() as session:
        session.execute(update(Role).where(Role.code == "town_civil_affairs").values(level=""))
    svc.cases.reference.forget()
    try:
        yield
    finally:
        with svc.db.write() as session:
            session.execute(update(Role).where(Role.code == "town_civil_affairs").values(level="town"))
        svc.cases.reference.forget()


def in_publicity(svc: Services, item: str, village: str = DONGPO, agent: str = "dongpo_agent",
                 name: str | None = None) -> Case:
    """A case worked up to its first 公示 (the seed shape's after the village review, 低保's after the town's 初审):
    its 7-day timer is waiting."""
    case = start(svc, item, village, agent, name)
    while tasks := open_tasks(svc, case.id):
        for task in tasks:
            svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
    return case


def incident_of(svc: Services, case_id: int) -> Incident | None:
    with svc.db.read() as session:
        return session.scalar(select(Incident).where(Incident.case_id == case_id).order_by(Incident.id.desc()))


def waiting_timers(svc: Services, case_id: int) -> list[str]:
    with svc.db.read() as session:
        return list(session.scalars(select(Timer.name).where(Timer.case_id == case_id, Timer.status == "waiting")))


def test_a_failing_case_becomes_an_incident_and_the_next_case_still_moves_on(svc: Services) -> None:
    broken = in_publicity(svc, BROKEN_ITEM)  # accepted first, so its timer is met first
    fine = in_publicity(svc, "MZ-DIBAO")
    clock.travel(timedelta(days=8))
    assert svc.cases.run_due_timers() == 1
    # The second case's 公示 ended in the same tick.
    assert [t.element_id for t in open_tasks(svc, fine.id)] == ["publicity_confirm"]
    # The first stays where it was, its timer still waiting, and is recorded.
    assert open_tasks(svc, broken.id) == [] and waiting_timers(svc, broken.id) == ["初审公示7天"]
    incident = incident_of(svc, broken.id)
    assert incident is not None and incident.resolved_at is None
    assert (incident.kind, incident.step, incident.attempts, incident.given_up) == (
        "timer", "定时器“初审公示7天”到期后的流程", 1, False)
    assert "objection_count" in incident.message
    assert incident.next_try_at - incident.last_failed_at == timedelta(seconds=svc.settings.incident_retry_seconds)
    with svc.db.read() as session:
        [shown] = [row for row in incidents.open_incidents(session, 50) if row.case_id == broken.id]
    assert (shown.case_number, shown.item_name, shown.village_name) == (
        broken.case_number, "农村居民最低生活保障", "东坡村")


def test_a_failing_case_is_retried_with_growing_waits_and_then_given_up(svc: Services) -> None:
    broken = in_publicity(svc, BROKEN_ITEM)
    clock.travel(timedelta(days=8))
    svc.cases.run_due_timers()
    policy = svc.cases.retry
    for attempts in range(1, policy.max_attempts):
        wait = policy.wait(attempts)
        assert wait == timedelta(seconds=60 * 2 ** (attempts - 1))
        # Not before its wait is over, however often the scheduler ticks (the clock runs on: a wide margin).
        clock.travel(wait - MARGIN)
        svc.cases.run_due_timers()
        assert incident_of(svc, broken.id).attempts == attempts
        clock.travel(MARGIN)
        svc.cases.run_due_timers()
        assert incident_of(svc, broken.id).attempts == attempts + 1
    incident = incident_of(svc, broken.id)
    assert incident.given_up and incident.next_try_at is None and incident.resolved_at is None
    # Given up: left for an administrator, no longer tried.
    clock.travel(timedelta(days=30))
    svc.cases.run_due_timers()
    assert incident_of(svc, broken.id).attempts == policy.max_attempts
    assert waiting_timers(svc, broken.id) == ["初审公示7天"]


def test_a_case_that_later_fires_clears_its_incident(svc: Services) -> None:
    case = in_publicity(svc, "MZ-DIBAO")
    with town_review_post_without_level(svc):
        clock.travel(timedelta(days=8))
        assert svc.cases.run_due_timers() == 0
        incident = incident_of(svc, case.id)
        assert incident is not None and "没有所属层级" in incident.message
    clock.travel(timedelta(seconds=svc.settings.incident_retry_seconds))
    assert svc.cases.run_due_timers() == 1
    assert [t.element_id for t in open_tasks(svc, case.id)] == ["publicity_confirm"]
    incident = incident_of(svc, case.id)
    assert incident.resolved_at is not None and incident.attempts == 1
    with svc.db.read() as session:
        assert case.id not in [row.case_id for row in incidents.open_incidents(session, 50)]
        assert session.scalar(select(Task.status).where(
            Task.case_id == case.id, Task.element_id == "publicity_confirm")) == "open"


def test_settings_name_the_retry_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BIANMIN_INCIDENT_RETRY_SECONDS", "30")
    monkeypatch.setenv("BIANMIN_INCIDENT_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("BIANMIN_INSTANCE", str(tmp_path))
    from engine.services import open_services
    opened = open_services(f"sqlite:///{tmp_path / 'settings.db'}")
    try:
        assert opened.cases.retry == incidents.RetryPolicy(30, 3)
    finally:
        opened.db.dispose()
