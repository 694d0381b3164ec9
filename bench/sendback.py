"""退回 in rounds: one 低保 case sent back from the town's investigation to the village's opinion N times (default
1,000), on a throw-away SQLite file and, unless --sqlite-only, a database of its own on the PostgreSQL server.

Prints, every 100 rounds, the stored workflow state's size, the task rows the case has, and the median time of the
village's completion and of the send-back over the last 100 rounds: with SpiffWorkflow's task reset the state and
the times stay flat, where a loop drawn in the diagram grows the tree each pass and stops at about 300.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from engine import clock, demo, setup  # noqa: E402
from engine.models import Case, ProcedureVersion, Task, User  # noqa: E402
from engine.procedures.deploy import current_version  # noqa: E402
from engine.services import Services, open_services  # noqa: E402
from tests.procedures import applicant, fill  # noqa: E402

SERVER = os.environ.get("BIANMIN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASE = "bianmin_bench_sendback"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)
ITEM, VILLAGE = "MZ-DIBAO", "510123101201"


def _user(svc: Services, username: str) -> int:
    with svc.db.read() as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None, username
    return found


def _open(svc: Services, case_id: int, element_id: str) -> Task:
    with svc.db.read() as session:
        return session.scalars(select(Task).where(Task.case_id == case_id, Task.status == "open",
                                                  Task.element_id == element_id)).one()


def _answer(svc: Services, task: Task) -> dict:
    with svc.db.read() as session:
        version = session.get(ProcedureVersion, session.get(Case, task.case_id).version_id)
        return fill(version.forms[task.form_file], "approve")


def run(svc: Services, rounds: int, label: str) -> None:
    with svc.db.write() as session:
        demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes)
    with svc.db.read() as session:
        schema = current_version(session, ITEM).forms["application.schema.json"]
    agent, committee, town = (_user(svc, name) for name in ("dongpo_agent", "dongpo_committee", "qingshui_civil"))
    case_id = svc.cases.start_case(agent, ITEM, VILLAGE, applicant(VILLAGE), fill(schema)).case.id
    village = _open(svc, case_id, "village_review")
    answer = _answer(svc, village)
    completions: list[float] = []
    send_backs: list[float] = []
    print(f"[{label}] round  state bytes  task rows  complete p50 ms  send back p50 ms", flush=True)
    for done in range(1, rounds + 1):
        began = time.perf_counter()
        svc.cases.complete(committee, village.id, answer)
        completions.append(time.perf_counter() - began)
        investigation = _open(svc, case_id, "town_investigation")
        target = svc.cases.send_back_targets(town, investigation.id)[0].task_id
        began = time.perf_counter()
        step = svc.cases.send_back(town, investigation.id, target, "请补充民主评议记录")
        send_backs.append(time.perf_counter() - began)
        village = _open(svc, case_id, "village_review")
        if done == 1 or done % 100 == 0:
            with svc.db.read() as session:
                size = len(session.scalar(select(Case.workflow_state).where(Case.id == case_id)) or "")
                rows = session.scalar(select(func.count()).select_from(Task).where(Task.case_id == case_id))
            window = slice(-100, None) if done > 1 else slice(0, 1)
            print(f"[{label}] {done:5d}  {size:11d}  {rows:9d}  {statistics.median(completions[window]) * 1000:14.1f}"
                  f"  {statistics.median(send_backs[window]) * 1000:16.1f}", flush=True)
    assert [task.element_id for task in step.open_tasks] == ["village_review"]


def _server(sql: str) -> None:
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(sql))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    clock.set_now(NOW)
    with tempfile.TemporaryDirectory() as folder:
        svc = open_services(f"sqlite:///{folder}/bench.db")
        try:
            setup.init(svc.db)
            run(svc, args.rounds, "sqlite")
        finally:
            svc.db.dispose()
    if args.sqlite_only:
        return
    _server(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    _server(f'CREATE DATABASE "{DATABASE}"')
    svc = open_services(SERVER.rsplit("/", 1)[0] + f"/{DATABASE}")
    try:
        setup.init(svc.db)
        run(svc, args.rounds, "postgresql")
    finally:
        svc.db.dispose()
        _server(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
