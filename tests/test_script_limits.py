"""Hostile diagram code: exits, runaway work, memory and data that cannot be stored fail the step and nothing else.

Engine tests on SQLite and PostgreSQL, API tests through Flask's test client. The limit is 1 second here, so a
stopped attack is asserted within a generous 3 seconds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from flask.testing import FlaskClient

from engine import scriptpool
from engine.errors import BianminError
from engine.models import Case, Task
from engine.procedures.deploy import deploy_folders
from engine.sandbox import SandboxTaskDataEnvironment
from engine.services import Services
from tests.procedures import dibao_with_scripts
from tests.test_api import auth, make_client
from tests.test_engine import form, holder, open_tasks, start

LIULIN = "510123102201"  # a village of another town
LIMIT = 1.0
APPROVE = 'village_decision == "approve"'
_codes = iter(range(1, 10**6))


@pytest.fixture
def one_second(services: Services) -> Iterator[None]:
    """Every test here runs with a 1 s budget per step; the settings come back afterwards."""
    before = scriptpool.current_limits()
    scriptpool.configure(scriptpool.Limits(LIMIT, before.memory_mb, before.workers))
    yield
    scriptpool.configure(before)


def deploy(svc: Services, tmp_path: Path, *, scripts: dict[str, str] | None = None,
           condition: str | None = None) -> str:
    """A 低保 copy whose village review is followed by `scripts` (flow id -> source) and/or whose approve
    condition is `condition`; its item code."""
    code = f"T-LIMITS-{next(_codes)}"
    folder = dibao_with_scripts(tmp_path / code, code, {
        flow: (f"Script_{flow}", "计算", source) for flow, source in (scripts or {}).items()})
    if condition is not None:
        diagram = folder / "process.bpmn"
        xml = diagram.read_text("utf-8")
        assert f">{APPROVE}<" in xml
        diagram.write_text(xml.replace(f">{APPROVE}<", f">{escape(condition)}<", 1), "utf-8")
    with svc.db.write() as session:
        deploy_folders(session, [folder], svc.settings.max_diagram_bytes)
    return code


def snapshot(svc: Services, case_id: int) -> tuple[str, int, list[tuple[str, str]]]:
    with svc.db.read() as session:
        case = session.get(Case, case_id)
        tasks = session.query(Task.id, Task.status).filter(Task.case_id == case_id).order_by(Task.id).all()
        return case.workflow_state, case.event_count, [tuple(row) for row in tasks]


def complete_village_review(svc: Services, case: Case) -> None:
    [task] = open_tasks(svc, case.id)
    svc.cases.complete(holder(svc, task), task.id, form(svc, task, "approve"))


def refused(svc: Services, case: Case, *fragments: str) -> float:
    """Complete the village review, which must fail naming `fragments` and change nothing; how long it took."""
    before = snapshot(svc, case.id)
    started = time.perf_counter()
    with pytest.raises(BianminError) as info:
        complete_village_review(svc, case)
    took = time.perf_counter() - started
    for fragment in fragments:
        assert fragment in info.value.message
    assert kept_unchanged(svc, case.id, before)
    return took


def kept_unchanged(svc: Services, case_id: int, before: tuple[str, int, list[tuple[str, str]]]) -> bool:
    """The step failed and was kept as an incident: the case is as before, but for that failure in its history."""
    state, events, tasks = snapshot(svc, case_id)
    return (state, tasks) == (before[0], before[2]) and events == before[1] + 1


# -- item 2: exits and interrupts -----------------------------------------------------------------

EXITS = ["SystemExit", "KeyboardInterrupt", "GeneratorExit"]


def _exit_diagram(svc: Services, tmp_path: Path, place: str, exc: str) -> tuple[str, str]:
    """(item code, element named in the error)."""
    if place == "script":
        return deploy(svc, tmp_path, scripts={"Flow_village_to_gw": f"checked = 1\nraise {exc}"}), \
            "Script_Flow_village_to_gw"
    return deploy(svc, tmp_path, condition=f"(x for x in [1]).throw({exc}) == 1"), "Gateway_village"


@pytest.mark.parametrize("place", ["script", "condition"])
@pytest.mark.parametrize("exc", EXITS)
def test_an_exit_raised_by_diagram_code_fails_the_step(services: Services, one_second: None, tmp_path: Path,
                                                       place: str, exc: str) -> None:
    code, element = _exit_diagram(services, tmp_path, place, exc)
    case = start(services, code)
    refused(services, case, element, exc, "不能退出或中断流程")
    # The engine answers the next request as usual.
    other = start(services, code)
    assert len(open_tasks(services, other.id)) == 1


@pytest.mark.parametrize("place", ["script", "condition"])
@pytest.mark.parametrize("exc", EXITS)
def test_an_exit_raised_by_diagram_code_answers_the_request(sqlite_services: Services, tmp_path: Path,
                                                            place: str, exc: str) -> None:
    code, element = _exit_diagram(sqlite_services, tmp_path, place, exc)
    client: FlaskClient = make_client(sqlite_services)
    case = start(sqlite_services, code)
    [task] = open_tasks(sqlite_services, case.id)
    before = snapshot(sqlite_services, case.id)
    response = client.post(f"/api/v1/tasks/{task.id}/complete", headers=auth(sqlite_services, "dongpo_committee"),
                           json={"data": form(sqlite_services, task, "approve")})
    assert response.status_code == 202 and response.json["held"], response.json
    assert element in response.json["error"] and exc in response.json["error"]
    assert kept_unchanged(sqlite_services, case.id, before)
    again = client.get(f"/api/v1/tasks/{task.id}", headers=auth(sqlite_services, "dongpo_committee"))
    assert again.status_code == 200 and again.json["status"] == "open"


# -- item 3: work and memory the operating system stops ---------------------------------------------

ATTACKS = {
    "pow": {"condition": f"pow(3**30000, 3**30000, 3**30000+1) == 1 and {APPROVE}"},
    "sum_map": {"scripts": {"Flow_village_to_gw": "x = sum(map(lambda i: sum(range(999999)), range(2500)))"}},
    "recursion": {"scripts": {"Flow_village_to_gw": "def f(n):\n    return 1 if n < 2 else f(n - 1) + f(n - 2)\n"
                                                    "x = f(40)"}},
    "sorted": {"scripts": {"Flow_village_to_gw": "items = list(range(1000000))\nfor i in range(1000):\n"
                                                 "    s = sorted(items, reverse=True)\nitems = None\ns = None"}},
    "zfill": {"scripts": {"Flow_village_to_gw": "s = '1'.zfill(10**9)"}},
    "percent": {"scripts": {"Flow_village_to_gw": "s = '%0999999999d' % 1"}},
    "fstring": {"scripts": {"Flow_village_to_gw": "s = f'{1:999999999}'"}},
}
MEMORY_ATTACKS = {"zfill", "percent", "fstring"}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_is_stopped_and_another_town_works_meanwhile(services: Services, one_second: None,
                                                               tmp_path: Path, attack: str) -> None:
    code = deploy(services, tmp_path, **ATTACKS[attack])
    element = "Gateway_village" if attack == "pow" else "Script_Flow_village_to_gw"
    verdict = "内存" if attack in MEMORY_ATTACKS else f"运行超过 {LIMIT:g} 秒，已停止"
    case = start(services, code)
    other = start(services, "MZ-DIBAO", LIULIN, "liulin_agent")
    took: list[float] = []
    attacker = threading.Thread(target=lambda: took.append(refused(services, case, element, verdict)))
    attacker.start()
    time.sleep(0.2)
    # Another town's case is read and moved on while the attack runs (on SQLite the write waits for the lock).
    with services.db.read() as session:
        assert session.get(Case, other.id).status == "running"
    complete_village_review(services, other)
    attacker.join(timeout=30)
    assert took and took[0] < 3 * LIMIT, took
    assert [task.element_id for task in open_tasks(services, other.id)] == ["town_investigation"]  # moved on


def test_a_killed_worker_is_replaced(services: Services, one_second: None, tmp_path: Path) -> None:
    benign = deploy(services, tmp_path, scripts={"Flow_village_to_gw": "checked = 1"})
    complete_village_review(services, start(services, benign))
    before = set(scriptpool.worker_pids())
    assert before
    runaway = deploy(services, tmp_path, **ATTACKS["recursion"])
    refused(services, start(services, runaway), "运行超过")
    for pid in before - set(scriptpool.worker_pids()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    case = start(services, benign)
    complete_village_review(services, case)
    with services.db.read() as session:
        assert session.get(Case, case.id).variables == {"checked": 1}
    assert 1 <= len(scriptpool.worker_pids()) <= scriptpool.current_limits().workers


# Each script alone keeps well inside the budget; together they pass it.
_BUSY = "started = datetime.now()\nwhile (datetime.now() - started).total_seconds() < 0.6:\n    waited = 1"


def test_the_budget_is_shared_by_everything_one_step_runs(services: Services, one_second: None,
                                                          tmp_path: Path) -> None:
    one = deploy(services, tmp_path, scripts={"Flow_village_to_gw": _BUSY})
    complete_village_review(services, start(services, one))
    two = deploy(services, tmp_path, scripts={"Flow_village_to_gw": _BUSY, "Flow_village_approve": _BUSY})
    took = refused(services, start(services, two), "Script_Flow_village_approve", f"运行超过 {LIMIT:g} 秒")
    assert took < 3 * LIMIT


# -- item 7: data a script leaves that a case cannot store ------------------------------------------

@pytest.mark.parametrize(("value", "type_name"), [
    ("range(3)", "range"), ("b'x'", "bytes"), ("(i for i in [1])", "generator"), ("{1, 2}", "set"),
    ("map(str, [1])", "map"), ("{(1, 2): 'x'}", "tuple"),
])
def test_data_a_script_cannot_store_fails_the_step_naming_the_variable(services: Services, one_second: None,
                                                                       tmp_path: Path, value: str,
                                                                       type_name: str) -> None:
    code = deploy(services, tmp_path, scripts={
        "Flow_village_to_gw": f"kept = {value} if village_decision == 'approve' else 0"})
    case = start(services, code)
    refused(services, case, "Script_Flow_village_to_gw", '变量 "kept"', type_name, "无法保存")
    # Not stuck: the same step goes through when the script leaves something storable.
    [task] = open_tasks(services, case.id)
    services.cases.complete(holder(services, task), task.id, form(services, task, "reject"))
    with services.db.read() as session:
        stored = session.get(Case, case.id)
        assert (stored.status, stored.variables) == ("completed", {"kept": 0})


def test_storable_values_keep_their_types(services: Services, one_second: None, tmp_path: Path) -> None:
    code = deploy(services, tmp_path, scripts={"Flow_village_to_gw": (
        "when = datetime(2026, 3, 9, 10, 30)\non = date(2026, 3, 9)\nspan = timedelta(days=2)\npair = (1, 2)")})
    case = start(services, code)
    complete_village_review(services, case)
    # Read back from the database, not from this process's cache.
    services.cases.states.take(case.id, case.revision + 1)
    with services.db.read() as session:
        stored = session.get(Case, case.id)
        workflow = services.cases.load(stored, services.cases.versions.get(session, stored.version_id))
    data = next(task.data for task in workflow.get_tasks() if "when" in task.data)
    assert (data["when"], data["on"], data["span"], data["pair"]) == \
        (datetime(2026, 3, 9, 10, 30), date(2026, 3, 9), timedelta(days=2), [1, 2])


# -- the pool: shared by threads, never shared across a fork -----------------------------------------

def test_threads_share_the_workers() -> None:
    environment = SandboxTaskDataEnvironment()
    results: dict[int, object] = {}

    def run(n: int) -> None:
        data: dict[str, object] = {"n": n}
        environment.execute("square = n * n", data)
        results[n] = data["square"]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == {n: n * n for n in range(12)}
    assert 1 <= len(scriptpool.worker_pids()) <= scriptpool.current_limits().workers


def test_a_forked_process_starts_workers_of_its_own() -> None:
    """A web server forks its workers after the app is loaded: a child must never talk to its parent's workers."""
    environment = SandboxTaskDataEnvironment()
    environment.execute("x = 1", {})
    parents = set(scriptpool.worker_pids())
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            data: dict[str, object] = {}
            environment.execute("x = 2", data)
            os.write(writer, json.dumps([data["x"], scriptpool.worker_pids()]).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as answer:
        value, pids = json.loads(answer.read())
    os.waitpid(child, 0)
    assert value == 2 and pids and not set(pids) & parents
    data: dict[str, object] = {}
    environment.execute("x = 3", data)
    assert data == {"x": 3} and set(scriptpool.worker_pids()) & parents


def test_unstorable_script_data_answers_a_clear_error_through_the_api(sqlite_services: Services,
                                                                      tmp_path: Path) -> None:
    code = deploy(sqlite_services, tmp_path, scripts={"Flow_village_to_gw": "kept = range(3)"})
    client: FlaskClient = make_client(sqlite_services)
    case = start(sqlite_services, code)
    [task] = open_tasks(sqlite_services, case.id)
    headers = auth(sqlite_services, "dongpo_committee")
    before = snapshot(sqlite_services, case.id)
    response = client.post(f"/api/v1/tasks/{task.id}/complete", headers=headers,
                           json={"data": form(sqlite_services, task, "approve")})
    assert response.status_code == 202, response.json
    assert '变量 "kept" 的值是 range 类型，无法保存' in response.json["error"]
    assert kept_unchanged(sqlite_services, case.id, before)
    # Sent again, the same answer, the same incident: the case is not stuck.
    again = client.post(f"/api/v1/tasks/{task.id}/complete", headers=headers,
                        json={"data": form(sqlite_services, task, "approve")})
    assert again.status_code == 202 and again.json["incident_id"] == response.json["incident_id"]
