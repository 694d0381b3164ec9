"""Races and crashes: one winner per task, unique case numbers, timers fired once, no half-written steps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from uuid import UUID

import pytest
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from engine import clock, scheduler
from engine.audit import chain as audit
from engine.cases.reconcile import mirrored as _mirrored
from engine.cases.service import CaseService
from engine.db import queue_update, queue_write
from engine.errors import BianminError
from engine.models import Case, CaseEvent, Task, Timer, User
from engine.services import Services, open_services
from engine.vocabulary import WITHOUT_WORKFLOW, CaseStatus
from tests.conftest import ROOT, user_id
from tests.test_engine import form, holder, open_tasks, start


def race(calls: list) -> tuple[list, list[BianminError]]:  # type: ignore[type-arg]
    barrier = threading.Barrier(len(calls))
    results: list = []  # type: ignore[type-arg]
    errors: list[BianminError] = []

    def run(call) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        try:
            results.append(call())
        except BianminError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results, errors


def test_two_clerks_complete_the_same_task_once(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    committee = holder(services, task)
    data = form(services, task, "approve")
    # Two service instances with their own connection pools behave like two server processes.
    other = CaseService(services.db.__class__(services.db.url))
    results, errors = race([lambda: services.cases.complete(committee, task.id, data),
                            lambda: other.complete(committee, task.id, data)])
    other.db.dispose()
    assert len(results) == 1 and len(errors) == 1
    assert errors[0].status == 409 and "东坡村村委会" in errors[0].message and "办理完毕" in errors[0].message
    with services.db.read() as session:
        kinds = list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)))
    assert kinds.count("task_completed") == 1


def test_the_a_and_b_holders_claim_the_same_task_once(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "approve"))
    clock.travel(timedelta(days=8))  # the village 公示 period
    services.cases.run_due_timers()
    [town_task] = open_tasks(services, case.id)
    a_post, b_post = user_id(services, "qingshui_civil"), user_id(services, "qingshui_civil_b")
    other = CaseService(services.db.__class__(services.db.url))
    results, errors = race([lambda: services.cases.claim(a_post, town_task.id),
                            lambda: other.claim(b_post, town_task.id)])
    other.db.dispose()
    assert len(results) == 1 and len(errors) == 1
    winner = open_tasks(services, case.id)[0].assignee_id
    with services.db.read() as session:
        winner_name = session.get(User, winner).display_name
    assert errors[0].status == 409 and winner_name in errors[0].message and "认领" in errors[0].message


def test_a_step_failing_at_commit_leaves_nothing_and_the_database_keeps_working(services: Services) -> None:
    case = start(services)
    [task] = open_tasks(services, case.id)
    committee = holder(services, task)
    with services.db.read() as session:
        before = session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
    # The queued writes reach the database only at commit (pipelined on PostgreSQL); the second fails there.
    with pytest.raises(IntegrityError), services.db.write() as session:
        queue_update(session, Task.__table__, task.id, status="completed")
        queue_write(session, insert(Task.__table__), {
            "id": task.id, "case_id": case.id, "element_id": "x", "name": "x", "role_code": task.role_code,
            "org_id": task.org_id, "status": "open", "created_at": clock.now()})
    assert open_tasks(services, case.id)[0].id == task.id
    with services.db.read() as session:
        assert session.scalar(
            select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) == before
    # Every pooled connection is usable again: more transactions than the pool holds, then the real step.
    for _ in range(12):
        services.cases.claim(committee, task.id)
        services.cases.release(committee, task.id)
    services.cases.complete(committee, task.id, form(services, task, "approve"))
    with services.db.read() as session:
        assert not audit.verify(session, case.id)


def test_concurrent_starts_get_unique_case_numbers(services: Services) -> None:
    results, errors = race([lambda: start(services) for _ in range(8)])
    assert not errors
    numbers = [case.case_number for case in results]
    assert len(set(numbers)) == 8


def test_two_schedulers_fire_a_due_timer_exactly_once(services: Services) -> None:
    case = start(services)
    while tasks := open_tasks(services, case.id):  # the village's opinion, the town's investigation and 初审
        services.cases.complete(holder(services, tasks[0]), tasks[0].id, form(services, tasks[0], "approve"))
    clock.travel(timedelta(days=8))
    second = CaseService(services.db.__class__(services.db.url))
    results, errors = race([lambda: scheduler.tick(services.cases), lambda: scheduler.tick(second)])
    second.db.dispose()
    assert not errors
    with services.db.read() as session:
        fired = session.scalar(select(func.count()).select_from(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "timer_fired"))
    assert fired == 1
    assert [t.element_id for t in open_tasks(services, case.id)] == ["publicity_confirm"]
    assert scheduler.tick(services.cases) == 0


WORKER = """
import sys, time
from datetime import timedelta
from sqlalchemy import select
sys.path.insert(0, {root!r})
from engine import clock
from engine.models import Task
from engine.services import open_services
from tests.test_engine import start, form, holder
svc = open_services({url!r})
print("ready", flush=True)
while True:
    case = start(svc)
    for _ in range(12):
        with svc.db.read() as session:
            tasks = session.scalars(select(Task).where(Task.case_id == case.id, Task.status == "open")).all()
        if not tasks:
            clock.travel(timedelta(days=8))
            if not svc.cases.run_due_timers():
                break
            continue
        for task in tasks:
            svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))
"""


def assert_consistent(svc: Services) -> int:
    """Every case's stored workflow state agrees with its task rows, timer rows and events."""
    checked = 0
    with svc.db.read() as session:
        # A cancelled case keeps its workflow state as it stood while its task rows are closed, and a case waiting at
        # the window or refused there never had one: nothing to agree on.
        for case in session.scalars(select(Case).where(Case.status.not_in([CaseStatus.CANCELLED,
                                                                           *WITHOUT_WORKFLOW]))):
            version = svc.cases.versions.get(session, case.version_id)
            workflow = svc.cases.load(case, version)
            mirrored = _mirrored(workflow)
            open_rows = set(session.scalars(select(Task.id).where(Task.case_id == case.id, Task.status == "open")))
            waiting = set(session.scalars(select(Timer.id).where(Timer.case_id == case.id,
                                                                 Timer.status == "waiting")))
            assert open_rows == set(mirrored.ready), case.case_number
            assert waiting == set(mirrored.timers), case.case_number
            done_rows = set(session.scalars(select(Task.id).where(Task.case_id == case.id,
                                                                  Task.status == "completed")))
            done_events = set(session.scalars(select(CaseEvent.task_id).where(
                CaseEvent.case_id == case.id, CaseEvent.kind == "task_completed")))
            assert done_rows == done_events, case.case_number
            for task_id in done_rows:
                assert workflow.get_task_from_id(UUID(task_id)).state == TaskState.COMPLETED
            assert (case.status == "completed") == workflow.is_completed()
            assert audit.verify(session, case.id) == [], case.case_number
            checked += 1
    return checked


def test_sigkill_mid_stream_leaves_every_step_whole(services: Services) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(root=str(ROOT), url=services.db.url)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready", worker.stderr.read() if worker.stderr else ""
    with services.db.read() as session:
        before = session.scalar(select(func.count()).select_from(CaseEvent))
    time.sleep(3)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    fresh = open_services(services.db.url)
    try:
        with fresh.db.read() as session:
            written = session.scalar(select(func.count()).select_from(CaseEvent)) - before
        assert written > 20, "the worker should have made progress before it was killed"
        assert assert_consistent(fresh) > 0
    finally:
        fresh.db.dispose()
