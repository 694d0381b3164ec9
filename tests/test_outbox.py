"""Service tasks through the outbox, on SQLite and PostgreSQL, against a real HTTP server on 127.0.0.1: the case waits
at the task, the worker calls outside the case lock with only the mapped parameters, retries with back-off, and
gives up into an incident; a connector that hangs delays no other case."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors import REGISTRY, ConnectorError
from engine import clock, notifications
from engine.audit import chain as audit
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.models import Case, CaseEvent, Incident, OutboxMessage
from engine.outbox import deliver
from engine.procedures.deploy import deploy_folders
from engine.services import Services
from tests.conftest import user_id
from tests.localhttp import Answer, Request, answer_json, serving
from tests.procedures import dibao_with_service
from tests.test_engine import form, holder, open_tasks, start

ITEM = "MZ-DIBAO-LOOKUP"
TIMEOUT = 1.0


class NoSecrets:
    """These calls name no secret; asking for one is a test failure."""

    def get(self, name: str) -> str:
        raise AssertionError(f"no secret expected, asked for {name}")


# How long the stand-in holds a request it was told to hang on, unless the test lets it go sooner.
HANG_SECONDS = 60.0
# The status a held request gets when let go: none, the connection is closed (what a dead peer looks like).
HANG_UP = 0


@dataclass
class Population:
    """A local stand-in of the population database's HTTP API: answers from a script, records every request.

    A request for an applicant named in `held` hangs until `release` is set (at most HANG_SECONDS), then gets that
    status; the others are answered meanwhile, each by the script."""

    answers: list[tuple[int, Any, float]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    held: dict[str, int] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    def next(self) -> tuple[int, Any, float]:
        return self.answers.pop(0) if self.answers else (200, {"household": []}, 0.0)

    def reset(self) -> None:
        self.answers.clear()
        self.received.clear()
        self.held.clear()
        self.release.clear()


@pytest.fixture(scope="module")
def population() -> Iterator[tuple[Population, int]]:
    state = Population()

    def answer(request: Request) -> Answer:
        body = request.json()
        state.received.append({"path": request.path, "headers": request.headers, "body": body})
        held = state.held.pop(body.get("name"), None) if isinstance(body, dict) else None
        if held is not None:
            state.release.wait(HANG_SECONDS)
            status, payload, delay = held, {"household": []}, 0.0
        else:
            status, payload, delay = state.next()
        if status == HANG_UP:
            return None
        time.sleep(delay)
        return (status, payload.encode()) if isinstance(payload, str) else answer_json(status, payload)

    with serving(answer) as address:
        yield state, int(address.rsplit(":", 1)[1])


DEPLOYED: set[tuple[str, int]] = set()


def deployed(svc: Services, port: int, tmp: Path) -> None:
    """低保 with a 人口库核验 service task before the village review, calling this test's server."""
    if (svc.db.url, port) in DEPLOYED:
        return
    folder = dibao_with_service(tmp, ITEM, "Flow_start", "population_lookup", "人口库核验", "http/json", {
        "url": f"'http://127.0.0.1:{port}/household'",
        "body": "{'case_number': case_number, 'name': applicant['name']}",
    }, "household")
    with svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)
    DEPLOYED.add((svc.db.url, port))


@pytest.fixture
def lookup(services: Services, population: tuple[Population, int], tmp_path: Path) -> Iterator[Population]:
    state, port = population
    deployed(services, port, tmp_path)
    state.reset()
    yield state
    # A test that failed while a request hung must not leave it holding a server thread for a minute.
    state.release.set()


def outbox_of(svc: Services, case_id: int) -> OutboxMessage:
    with svc.db.read() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).one()


def run_worker(svc: Services) -> int:
    return deliver.deliver_due(svc.cases, NoSecrets(), TIMEOUT)


def kinds(svc: Services, case_id: int) -> list[str]:
    with svc.db.read() as session:
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                                    .order_by(CaseEvent.seq)))


def test_the_case_waits_for_the_call_and_goes_on_with_its_answer(services: Services, lookup: Population) -> None:
    lookup.answers.append((200, {"household": [{"name": "呼延秀兰", "relation": "户主"}]}, 0.0))
    case = start(services, ITEM, name="呼延秀兰")
    # Nothing was called inside the case's transaction: the case waits at the service task, its call in the outbox.
    assert open_tasks(services, case.id) == [] and lookup.received == []
    queued = outbox_of(services, case.id)
    assert (queued.status, queued.connector, queued.attempts) == ("pending", "http/json", 0)
    assert run_worker(services) >= 1
    [sent] = lookup.received
    # Only the mapped parameters left the system: the case number and the name, not the phone or the application.
    assert sent["body"] == {"case_number": case.case_number, "name": "呼延秀兰"}
    assert sent["headers"]["idempotency-key"] == queued.idempotency_key
    [village] = open_tasks(services, case.id)
    assert village.element_id == "village_review"
    done = outbox_of(services, case.id)
    assert (done.status, done.attempts, done.result["body"]["household"][0]["name"]) == ("sent", 1, "呼延秀兰")
    history = kinds(services, case.id)
    assert history.index("service_call_queued") < history.index("service_call_sent") < history.index("task_created")
    with services.db.read() as session:
        assert audit.verify(session, case.id) == []
        # The history names the parameters sent, never their values.
        queued_event = session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.kind == "service_call_queued")).one()
        assert queued_event.after == {"connector": "http/json", "parameters": ["body", "url"]}
        assert "呼延秀兰" not in json.dumps(queued_event.after, ensure_ascii=False)


def test_a_5xx_is_retried_with_back_off_then_succeeds(services: Services, lookup: Population) -> None:
    lookup.answers += [(503, {"error": "维护中"}, 0.0), (502, "bad gateway", 0.0), (200, {"household": []}, 0.0)]
    case = start(services, ITEM, name="诸葛明远")
    run_worker(services)
    first = outbox_of(services, case.id)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "对方返回 HTTP 503")
    wait = first.next_try_at - clock.now()
    # The first wait is the retry policy's, with jitter: between half of it and all of it.
    policy = services.cases.retry.wait(1)
    assert policy / 2 <= wait <= policy
    assert run_worker(services) == 0  # not due yet
    clock.travel(wait + timedelta(seconds=1))
    run_worker(services)
    second = outbox_of(services, case.id)
    assert (second.attempts, second.next_try_at - clock.now() > policy / 2) == (2, True)
    clock.travel(services.cases.retry.wait(2) + timedelta(seconds=1))
    run_worker(services)
    assert outbox_of(services, case.id).status == "sent"
    assert [task.element_id for task in open_tasks(services, case.id)] == ["village_review"]
    assert kinds(services, case.id).count("service_call_failed") == 2
    # The same idempotency key went with each attempt.
    assert len({request["headers"]["idempotency-key"] for request in lookup.received}) == 1


def test_a_malformed_answer_is_an_incident_at_once(services: Services, lookup: Population) -> None:
    lookup.answers.append((200, "<html>系统维护</html>", 0.0))
    case = start(services, ITEM, name="司马光华")
    run_worker(services)
    failed = outbox_of(services, case.id)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, "应答不是有效的 JSON")
    with services.db.read() as session:
        incident = session.scalars(select(Incident).where(Incident.case_id == case.id)).one()
        current = session.get(Case, case.id)
    assert (incident.kind, incident.step, incident.resolved_at) == ("service", "人口库核验", None)
    assert "应答不是有效的 JSON" in incident.message
    assert current.status == "running" and open_tasks(services, case.id) == []
    # The administrators hear of it at once, as of a failed step.
    with services.db.read() as session:
        [told] = [n for n in notifications.listing(session, user_id(services, "admin"), unread_only=True, limit=500)
                  if n.case_id == case.id]
    assert told.title == f"外部接口调用失败：{case.case_number}" and "应答不是有效的 JSON" in told.body


def test_refused_connections_and_time_outs_are_retried_up_to_the_cap(services: Services, lookup: Population) -> None:
    # The first answer comes too late for the time-out; then the service drops every connection unanswered.
    lookup.answers += [(200, {}, TIMEOUT + 0.5)] + [(HANG_UP, {}, 0.0)] * (services.cases.retry.max_attempts - 1)
    case = start(services, ITEM, name="赫连慧琳")
    for attempt in range(1, services.cases.retry.max_attempts + 1):
        assert run_worker(services) >= 1
        row = outbox_of(services, case.id)
        assert row.attempts == attempt and ("超时" if attempt == 1 else "连接") in (row.last_error or "")
        clock.travel(services.cases.retry.wait(attempt) + timedelta(seconds=1))
    assert outbox_of(services, case.id).status == "failed"
    with services.db.read() as session:
        assert session.scalars(select(Incident.kind).where(Incident.case_id == case.id)).one() == "service"


def test_the_http_connector_maps_each_failure(population: tuple[Population, int]) -> None:
    state, port = population
    connector = REGISTRY["http/json"]
    state.answers[:] = [(404, {"error": "无此人"}, 0.0), (500, {}, 0.0), (200, "不是 JSON", 0.0)]
    expected = [("对方返回 HTTP 404", False), ("对方返回 HTTP 500", True), ("应答不是有效的 JSON", False)]
    for message, retryable in expected:
        with pytest.raises(ConnectorError) as caught:
            connector.call({"url": f"http://127.0.0.1:{port}/x", "body": {}}, NoSecrets(), TIMEOUT, "k")
        assert (caught.value.message, caught.value.retryable) == (message, retryable)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    free_port = closed.server_address[1]
    closed.server_close()
    with pytest.raises(ConnectorError) as refused:
        connector.call({"url": f"http://127.0.0.1:{free_port}/x"}, NoSecrets(), TIMEOUT, "k")
    assert refused.value.retryable and refused.value.message.startswith("无法连接")
    assert connector.check({"url": "ftp://x", "extra": 1}) != []


def test_a_hanging_connector_delays_no_other_case(services: Services, lookup: Population) -> None:
    """The population service holds one call for a minute (the connector waits longer than that): while it hangs,
    clerks complete other cases and another case's call is answered, all at their usual speed. The test then lets
    the hung call go (the server hangs up), so it takes seconds, not a minute."""
    slow = start(services, ITEM, name="上官婉清")
    lookup.held["上官婉清"] = HANG_UP
    beside = start(services, ITEM, name="上官婉容")
    others = [start(services, name=f"夏侯{given}") for given in ("一鸣", "二娃", "三妹", "四海", "五洲")]
    problems: list[BaseException] = []

    def work() -> None:
        try:
            deliver.deliver_due(services.cases, NoSecrets(), HANG_SECONDS + 5)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below, not lost in the thread
            problems.append(exc)

    worker = threading.Thread(target=work, name="outbox-hang")
    began = time.perf_counter()
    worker.start()
    # The other case's call went in the same run, on another of the worker's threads.
    while open_tasks(services, beside.id) == [] and time.perf_counter() - began < 10:
        time.sleep(0.01)
    beside_done = time.perf_counter() - began
    assert [task.element_id for task in open_tasks(services, beside.id)] == ["village_review"]
    # The slow call is at the server, held there, before anything is measured.
    while not any(request["body"].get("name") == "上官婉清" for request in lookup.received):
        assert time.perf_counter() - began < 10, "the slow call never reached the server"
        time.sleep(0.01)
    timings = []
    for case in others:
        [task] = open_tasks(services, case.id)
        answer = form(services, task, "approve")
        started = time.perf_counter()
        services.cases.complete(holder(services, task), task.id, answer)
        timings.append(time.perf_counter() - started)
    during = time.perf_counter() - began
    # Still hanging after all of that: the measurements were taken during the hang.
    assert worker.is_alive() and outbox_of(services, slow.id).status == "pending"
    lookup.release.set()
    worker.join(timeout=15)
    ended = time.perf_counter() - began
    assert not worker.is_alive() and problems == []
    print(f"\n[{services.db.engine.dialect.name}] while one call hung (server holds it up to {HANG_SECONDS:.0f} s, "
          f"connector time-out {HANG_SECONDS + 5:.0f} s): another case's call answered after "
          f"{beside_done * 1000:.0f} ms; 5 clerks' completions of other cases took "
          f"{', '.join(f'{t * 1000:.0f}' for t in timings)} ms (all done {during:.2f} s after the call began; "
          f"released, the worker ended at {ended:.2f} s)")
    assert max(timings) < 1.0 and beside_done < 2.0 and during < 10

    # The hung call, hung up on, is recorded as a failure to retry (not lost, not sent), and the retry goes through.
    failed = outbox_of(services, slow.id)
    assert (failed.status, failed.attempts, failed.claimed_until) == ("pending", 1, None)
    assert (failed.last_error or "").startswith("连接中断") and failed.next_try_at > clock.now()
    assert open_tasks(services, slow.id) == []
    clock.travel(services.cases.retry.wait(1) + timedelta(seconds=1))
    run_worker(services)
    sent = outbox_of(services, slow.id)
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert [task.element_id for task in open_tasks(services, slow.id)] == ["village_review"]
    history = kinds(services, slow.id)
    assert history.count("service_call_failed") == 1 and history.count("service_call_sent") == 1
    keys = {request["headers"]["idempotency-key"] for request in lookup.received
            if request["body"].get("name") == "上官婉清"}
    assert keys == {failed.idempotency_key}
    with services.db.read() as session:
        assert audit.verify(session, slow.id) == []


def test_an_administrator_retries_or_skips_a_failed_call(services: Services, lookup: Population) -> None:
    lookup.answers += [(400, {"error": "参数错误"}, 0.0), (200, {"household": []}, 0.0), (422, {}, 0.0)]
    case = start(services, ITEM, name="慕容雪梅")
    run_worker(services)
    assert outbox_of(services, case.id).status == "failed"
    admin = user_id(services, "admin")
    with pytest.raises(Forbidden):
        services.cases.retry_call(user_id(services, "dongpo_agent"), case.id)
    services.cases.retry_call(admin, case.id)
    assert outbox_of(services, case.id).status == "pending"
    with services.db.read() as session:
        assert session.scalars(select(Incident.resolved_at).where(Incident.case_id == case.id)).one() is not None
    run_worker(services)
    assert [task.element_id for task in open_tasks(services, case.id)] == ["village_review"]
    # Skipping: the call is given up with the reason and the step goes on without a result.
    other = start(services, ITEM, name="慕容雪松")
    run_worker(services)
    with pytest.raises(ValidationFailed):
        services.cases.skip_call(admin, other.id, " ")
    services.cases.skip_call(admin, other.id, "人口库停机维护三天，窗口已人工核对户口簿")
    assert outbox_of(services, other.id).status == "skipped"
    assert [task.element_id for task in open_tasks(services, other.id)] == ["village_review"]
    with pytest.raises(Conflict):
        services.cases.skip_call(admin, other.id, "再跳过")
    with services.db.read() as session:
        assert audit.verify(session, other.id) == []
