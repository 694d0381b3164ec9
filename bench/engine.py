"""Throughput of 低保 cases (start, then each user task completed in turn), four ways.

(a) raw SpiffWorkflow in memory, serializing and deserializing at every step;
(b) Bianmin's engine service without HTTP, on SQLite;
(c) the same on PostgreSQL (127.0.0.1:5432, database created for the run);
(d) the HTTP API under a real WSGI server (waitress) on 127.0.0.1, one sequential client that per case
    starts it, then for each task lists the acting user's tasks and completes it;
(e) as (b), with three script tasks added to the diagram (each a round trip to a script worker);
and the cost of one round trip to a script worker.

The 公示 timers are set to PT0S in a copy of the shipped procedure (diagram and item.toml) so the loop
measures the engine, not the calendar. Usage: python bench/engine.py [--cases N] [--rounds R] [--skip-pg] [--skip-http]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # noqa: E402
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from engine import demo, setup  # noqa: E402
from engine.models import OrgUnit, User  # noqa: E402
from engine.people import accounts  # noqa: E402
from engine.procedures.deploy import deploy_folders  # noqa: E402
from engine.sandbox import SandboxTaskDataEnvironment  # noqa: E402
from engine.services import Services, open_services  # noqa: E402
from tests.procedures import AID_SCRIPTS, applicant, dibao_with_scripts, fill  # noqa: E402

PG_SERVER = os.environ.get("BIANMIN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ITEM = "BENCH-DIBAO"
SCRIPT_ITEM = "BENCH-DIBAO-SCRIPTS"
VILLAGE = "510123101201"


def bench_folder(tmp: Path, code: str = ITEM) -> Path:
    if code == SCRIPT_ITEM:
        folder = dibao_with_scripts(tmp, code, AID_SCRIPTS)
    else:
        folder = tmp / "dibao"
        shutil.copytree(ROOT / "bpmn" / "dibao", folder)
        guide = folder / "item.toml"
        guide.write_text(guide.read_text("utf-8").replace('code = "MZ-DIBAO"', f'code = "{code}"'), "utf-8")
    diagram = folder / "process.bpmn"
    diagram.write_text(diagram.read_text("utf-8").replace('"P7D"', '"PT0S"'), "utf-8")
    # The shipped 公示 lengths are item.toml's [timers] (at its end); without them the diagram's PT0S applies.
    guide = folder / "item.toml"
    guide.write_text(guide.read_text("utf-8").split("\n[timers.")[0], "utf-8")
    return folder


def worker_round_trip(calls: int = 2000) -> float:
    """Microseconds one small script takes through a script worker (the worker already started)."""
    environment = SandboxTaskDataEnvironment()
    data = {"household_size": 3, "annual_income_per_capita": 420.5, "reason": "家中老人常年患病"}
    environment.execute("aid_amount = household_size * 100", dict(data))
    started = time.perf_counter()
    for _ in range(calls):
        environment.execute("aid_amount = household_size * 100", dict(data))
    return (time.perf_counter() - started) / calls * 1e6


def forms_of(folder: Path) -> dict[str, dict]:
    """Each form's filled-in data, prepared before timing starts."""
    return {p.name: fill(json.loads(p.read_text("utf-8"))) for p in (folder / "forms").glob("*.schema.json")}


def raw_spiff(folder: Path, cases: int) -> tuple[int, float]:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(folder / "process.bpmn"))
    spec, subs = parser.get_spec("dibao"), parser.get_subprocess_specs("dibao")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    forms = forms_of(folder)
    application = forms["application.schema.json"]
    steps = 0
    started = time.perf_counter()
    for _ in range(cases):
        workflow = BpmnWorkflow(spec, subs)
        workflow.data.update(application)
        workflow.do_engine_steps()
        ready = [task.id for task in workflow.get_tasks(state=TaskState.READY, manual=True)]
        state = serializer.serialize_json(workflow)
        steps += 1
        while ready:
            workflow = serializer.deserialize_json(state)
            task = workflow.get_task_from_id(ready[0])
            task.data.update(forms[task.task_spec.extensions["properties"]["formJsonSchemaFilename"]])
            task.run()
            workflow.do_engine_steps()
            ready = [task.id for task in workflow.get_tasks(state=TaskState.READY, manual=True)]
            state = serializer.serialize_json(workflow)
            steps += 1
        assert workflow.is_completed()
    return steps, time.perf_counter() - started


def prepare(url: str, *folders: Path) -> Services:
    svc = open_services(url)
    setup.init(svc.db)
    with svc.db.write() as session:
        demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes)
        deploy_folders(session, list(folders), svc.settings.max_diagram_bytes)
    return svc


def holders(svc: Services) -> dict[tuple[str, int], int]:
    with svc.db.read() as session:
        return {(u.role_code, u.org_id): u.id for u in session.scalars(select(User).where(User.post_rank == "A"))}


def engine_service(svc: Services, folder: Path, cases: int, item: str = ITEM) -> tuple[int, float]:
    forms = forms_of(folder)
    application = forms["application.schema.json"]
    posts = holders(svc)
    agent = posts[("village_agent", _org_id(svc, VILLAGE))]
    steps = 0
    started = time.perf_counter()
    for _ in range(cases):
        step = svc.cases.start_case(agent, item, VILLAGE, applicant(), application)
        steps += 1
        while step.open_tasks:
            task = step.open_tasks[0]
            step = svc.cases.complete(posts[(task.role_code, task.org_id)], task.id, forms[task.form_file])
            steps += 1
        assert step.case.status == "completed"
    return steps, time.perf_counter() - started


def _org_id(svc: Services, code: str) -> int:
    with svc.db.read() as session:
        return session.scalar(select(OrgUnit.id).where(OrgUnit.code == code))


def http_api(url: str, folder: Path, cases: int) -> tuple[int, float]:
    svc = open_services(url)
    forms = forms_of(folder)
    application = forms["application.schema.json"]
    posts = holders(svc)
    with svc.db.write() as session:
        tokens = {uid: accounts.create_token(session, session.get(User, uid).username) for uid in posts.values()}
    agent_token = tokens[posts[("village_agent", _org_id(svc, VILLAGE))]]
    with svc.db.read() as session:
        org_codes = {unit.id: unit.code for unit in session.scalars(select(OrgUnit))}
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", "from waitress import serve; from webui import create_app; "
         f"serve(create_app(), host='127.0.0.1', port={port}, threads=4, _quiet=True)"],
        env={"BIANMIN_SECRET_KEY": secrets.token_hex(32), **os.environ, "BIANMIN_DATABASE_URL": url}, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_for(f"{base}/openapi.json")

        # One keep-alive connection, as a real client (or a browser) would hold.
        connection = http.client.HTTPConnection("127.0.0.1", port)

        def call(method: str, path: str, token: str, body: dict | None = None) -> dict:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, f"/api/v1{path}", body=payload, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            answer = json.loads(response.read())
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {answer}")
            return answer

        by_post = {(role, code): tokens[uid] for (role, org_id), uid in posts.items()
                   for code in [org_codes[org_id]]}
        steps = 0
        started = time.perf_counter()
        for _ in range(cases):
            case = call("POST", "/cases", agent_token,
                        {"item_code": ITEM, "village_code": VILLAGE, "applicant": applicant(), "data": application})
            steps += 1
            while case["tasks"]:
                task = case["tasks"][0]
                token = by_post[(task["role"]["code"], task["org"]["code"])]
                listed = call("GET", "/tasks?scope=post", token)
                mine = next(t for t in listed["tasks"] if t["id"] == task["id"])
                case = call("POST", f"/tasks/{mine['id']}/complete", token, {"data": forms[mine["form"]]})
                steps += 1
            assert case["status"] == "completed", case
        return steps, time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(url).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer at {url}")


def fresh_pg() -> str:
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "bianmin_bench" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "bianmin_bench"'))
    admin.dispose()
    return PG_SERVER.rsplit("/", 1)[0] + "/bianmin_bench"


def best(label: str, run: Callable[[], tuple[int, float]], cases: int, rounds: int) -> tuple[float, float]:
    """Best of `rounds` runs (as timeit does): other load on the machine only ever slows a run down."""
    results = [run() for _ in range(rounds)]
    steps, seconds = min(results, key=lambda result: result[1])
    spread = ", ".join(f"{s / t:.0f}" for s, t in results)
    print(f"{label:<46} {steps / seconds:8.1f} steps/s {cases / seconds:8.1f} cases/s  (runs: {spread} steps/s)")
    return steps / seconds, cases / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="runs per measurement; the best is reported")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bianmin-bench-"))
    folder = bench_folder(tmp / "src")
    scripted = bench_folder(tmp / "scripted", SCRIPT_ITEM)
    n, rounds = args.cases, args.rounds
    raw_spiff(folder, 5)
    a, _ = best("(a) raw SpiffWorkflow, serialize every step", lambda: raw_spiff(folder, n), n, rounds)
    sqlite_url = f"sqlite:///{tmp / 'bench.db'}"
    svc = prepare(sqlite_url, folder, scripted)
    engine_service(svc, folder, 5)
    b, _ = best("(b) Bianmin engine service, SQLite", lambda: engine_service(svc, folder, n), n, rounds)
    print(f"    b/a = {b / a:.2f}  (goal >= 0.5)")
    engine_service(svc, scripted, 5, SCRIPT_ITEM)
    e, _ = best("(e) as (b), 3 script tasks per case", lambda: engine_service(svc, scripted, n, SCRIPT_ITEM), n,
                rounds)
    print(f"    e/b = {e / b:.2f}; one script worker round trip: {worker_round_trip():.0f} µs")
    if not args.skip_pg:
        pg = prepare(fresh_pg(), folder)
        engine_service(pg, folder, 5)
        c, _ = best("(c) Bianmin engine service, PostgreSQL", lambda: engine_service(pg, folder, n), n, rounds)
        print(f"    c/a = {c / a:.2f}  (goal >= 0.3)")
    if not args.skip_http:
        _, d = best("(d) HTTP API, waitress, SQLite, 1 client", lambda: http_api(sqlite_url, folder, n), n, rounds)
        print(f"    (d) = {d:.1f} cases/s  (goal >= 30)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
