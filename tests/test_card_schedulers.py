"""Real `bianmin scheduler` processes on one PostgreSQL: two share hundreds of due deadlines, and one killed mid-tick
and restarted; every card and notification exists exactly once either way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bench.deadlines import fill
from engine import clock
from engine.audit import chain as audit
from engine.config import ROOT
from engine.models import Card, Case, CaseEvent, Deadline, Notification, Task
from engine.services import Services
from engine.vocabulary import EventKind
from tests.conftest import make_services
from tests.test_engine import open_tasks, start

SCHEDULER = "import sys; sys.path.insert(0, {root!r}); from webui.cli import main; main()"


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The demo county on PostgreSQL with one real case whose rows the filled cases copy."""
    svc = make_services("postgresql", tmp_path_factory.mktemp("schedulers"), "bianmin_card_schedulers")
    yield svc
    svc.db.dispose()


def _fill(svc: Services, prefix: str, cases: int) -> int:
    """`cases` cases whose clock and step are both past their due date by the real clock the schedulers read."""
    clock.reset()
    template = start(svc)
    [task] = open_tasks(svc, template.id)
    with svc.db.write() as session:
        # The template's own clock is not part of what the test counts.
        session.execute(update(Deadline).where(Deadline.case_id == template.id).values(next_check_at=None))
        session.execute(update(Task).where(Task.id == task.id).values(status="completed"))
    now = datetime.now(UTC)
    today = now.astimezone(clock.SHANGHAI).date()
    with svc.db.engine.begin() as connection:
        fill(connection, template=template, template_task=task, prefix=prefix, cases=cases, due=cases * 2, now=now,
             due_date=today - timedelta(days=1), yellow_from=today - timedelta(days=5),
             later=today + timedelta(days=60))
    return template.id


def _scheduler(svc: Services) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BIANMIN_DATABASE_URL": svc.db.url, "BIANMIN_SCHEDULER_INTERVAL": "1"}
    return subprocess.Popen([sys.executable, "-c", SCHEDULER.format(root=str(ROOT)), "scheduler", "--interval", "1"],
                            env=env, cwd=Path(ROOT), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _count(svc: Services, model: type, after: int) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.case_id > after))  # type: ignore


def _until(condition: Callable[[], bool], seconds: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        process.wait(10)


def _exactly_once(svc: Services, after: int, cases: int) -> None:
    """Each filled case: yellow and red on its clock and on its step, each told to its people once, on its history."""
    with svc.db.read() as session:
        per_deadline = session.execute(
            select(Card.deadline_id, func.count(), func.min(Card.color), func.max(Card.color))
            .where(Card.case_id > after).group_by(Card.deadline_id)).all()
        assert len(per_deadline) == cases * 2
        assert {tuple(row[1:]) for row in per_deadline} == {(2, "red", "yellow")}
        told = dict(session.execute(select(Notification.card_id, func.count()).where(Notification.case_id > after)
                                    .group_by(Notification.card_id)).all())
        assert len(told) == cases * 4
        # The post of the open step and the county's supervisor; a red step card also the town leader.
        assert sum(told.values()) == cases * (2 + 2 + 2 + 3)
        events = session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id > after, CaseEvent.kind == EventKind.CARD_RAISED))
        assert events == cases * 4
        for case_id in session.scalars(select(Case.id).where(Case.id > after).order_by(Case.id).limit(20)):
            assert audit.verify(session, case_id) == []
        due = session.scalar(select(func.count()).select_from(Deadline).where(
            Deadline.case_id > after, Deadline.next_check_at <= datetime.now(UTC)))
        assert due == 0


def test_two_schedulers_raise_every_card_and_notification_exactly_once(county: Services) -> None:
    cases = 200
    after = _fill(county, "TWO-", cases)
    first, second = _scheduler(county), _scheduler(county)
    try:
        assert _until(lambda: _count(county, Card, after) == cases * 4, 20), (
            first.stderr.read() if first.poll() is not None and first.stderr else "schedulers did not finish")
        time.sleep(1.5)  # another tick of each: nothing more may appear
    finally:
        _stop(first, second)
    _exactly_once(county, after, cases)


def test_a_scheduler_killed_mid_tick_and_restarted_loses_and_doubles_nothing(county: Services) -> None:
    cases = 1500
    after = _fill(county, "KILL-", cases)
    total = cases * 4
    first = _scheduler(county)
    try:
        assert _until(lambda: _count(county, Card, after) > 0, 20, step=0.01)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        _stop(first)
    left = _count(county, Card, after)
    assert 0 < left < total, "the kill should land in the middle of the tick"
    second = _scheduler(county)
    try:
        assert _until(lambda: _count(county, Card, after) == total, 20)
        time.sleep(1.5)
    finally:
        _stop(second)
    _exactly_once(county, after, cases)
