"""Replay of a case with 500 events: the time to show any event, and the bytes each stored event takes.

Creates a database of its own on the PostgreSQL server (BIANMIN_BENCH_PG, default the tests' server), drives a
real 宅基地 case (village review, 受理, then the land survey claimed and released until the history holds 500
events, then the rest of the case to its end), and times every event twice: the engine's rebuild alone
(`engine.audit.replay`) and the whole page request through Flask's test client as the county auditor. Prints
p50/p95 of each (goal: p95 ≤ 100 ms) and the bytes per event: the table's size on disk over its rows, and the
JSON kept per event. Drops the database afterwards (unless --keep); the server itself is never touched.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The page is asked through a test client: a session key of its own, never the deployment's.
os.environ.setdefault("BIANMIN_SECRET_KEY", secrets.token_hex(32))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from engine import clock, demo, setup  # noqa: E402
from engine.audit import chain  # noqa: E402
from engine.audit.replay import markers_at, moment  # noqa: E402
from engine.models import Case, CaseEvent, ProcedureVersion, Task, Timer, User  # noqa: E402
from engine.procedures.deploy import current_version  # noqa: E402
from engine.procedures.diagram import diagram_info  # noqa: E402
from engine.services import Services, open_services  # noqa: E402
from tests.procedures import applicant  # noqa: E402
from tests.procedures import fill as fill_form  # noqa: E402
from webui import create_app  # noqa: E402

SERVER = os.environ.get("BIANMIN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASE = "bianmin_bench_replay"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)
ITEM, VILLAGE = "ZR-ZHAIJIDI", "510123101201"


def _server(sql: str) -> None:
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(sql))
    admin.dispose()


def _user(svc: Services, **where: object) -> User:
    with svc.db.read() as session:
        found = session.scalars(select(User).filter_by(**where).order_by(User.post_rank)).first()
    assert found is not None, where
    return found


def _open(svc: Services, case_id: int) -> list[Task]:
    with svc.db.read() as session:
        return list(session.scalars(select(Task).where(Task.case_id == case_id, Task.status == "open")
                                    .order_by(Task.element_id)))


def _complete(svc: Services, task: Task) -> None:
    with svc.db.read() as session:
        version = session.get(ProcedureVersion, session.get(Case, task.case_id).version_id)
        schema = version.forms[task.form_file]
    svc.cases.complete(_user(svc, role_code=task.role_code, org_id=task.org_id).id, task.id, fill_form(schema))


def drive(svc: Services, events: int) -> int:
    """A real case of exactly `events` events: two steps, claims and releases of the survey, then on to the end.

    A first case run straight through tells how many events the steps after 受理 add, so the claims and
    releases make up the rest.
    """
    rehearsal = _started(svc)
    _work(svc, rehearsal, 2)
    accepted = _count(svc, rehearsal)
    _work(svc, rehearsal, 20)
    tail = _count(svc, rehearsal) - accepted
    case_id = _started(svc)
    _work(svc, case_id, 2)
    survey = next(task for task in _open(svc, case_id) if task.element_id == "land_survey")
    surveyor = _user(svc, role_code=survey.role_code, org_id=survey.org_id)
    while (left := events - tail - _count(svc, case_id)) > 0:
        svc.cases.claim(surveyor.id, survey.id)
        if left > 1:
            svc.cases.release(surveyor.id, survey.id)
    _work(svc, case_id, 20)
    return case_id


def _started(svc: Services) -> int:
    with svc.db.read() as session:
        version = current_version(session, ITEM)
        schema = version.forms[version.guide["application_form"]]
    agent = _user(svc, username="dongpo_agent")
    return svc.cases.start_case(agent.id, ITEM, VILLAGE, applicant(VILLAGE), fill_form(schema)).case.id


def _work(svc: Services, case_id: int, rounds: int) -> None:
    """Complete every open step, `rounds` times over (or until the case ends); a 公示 timer is passed by moving
    the clock, without counting as a round."""
    done = 0
    while done < rounds:
        tasks = _open(svc, case_id)
        if not tasks:
            clock.travel(timedelta(days=8))
            if svc.cases.run_due_timers() == 0:
                return
            continue
        for task in tasks:
            _complete(svc, task)
        done += 1


def _count(svc: Services, case_id: int) -> int:
    with svc.db.read() as session:
        return session.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)) or 0


def _percentiles(label: str, times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"{label}: {len(ms)} events, p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, max {ms[-1]:.2f} ms "
          f"({'within' if p95 <= 100 else 'OVER'} the 100 ms goal)", flush=True)


def measure(svc: Services, case_id: int) -> None:
    with svc.db.read() as session:
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)))
        info = diagram_info(session.get(ProcedureVersion, session.get(Case, case_id).version_id))
        elements = {row.id: row.element_id for row in [
            *session.execute(select(Task.id, Task.element_id).where(Task.case_id == case_id)),
            *session.execute(select(Timer.id, Timer.element_id).where(Timer.case_id == case_id))]}
    engine_times = []
    for event in events:
        started = time.perf_counter()
        markers_at(info, moment(events, event.seq), elements)
        engine_times.append(time.perf_counter() - started)
    _percentiles("engine (rebuild + diagram markers)", engine_times)
    verify_times = []
    for _ in range(20):
        started = time.perf_counter()
        with svc.db.read() as session:
            assert chain.verify(session, case_id) == []
        verify_times.append(time.perf_counter() - started)
    print(f"verify the case's whole chain ({len(events)} events, read + re-hash): median "
          f"{statistics.median(verify_times) * 1000:.1f} ms over 20 runs", flush=True)

    client = create_app(svc, {"TESTING": True}).test_client()
    auditor = _user(svc, username="auditor")
    with client.session_transaction() as flask_session:
        flask_session["user_id"], flask_session["session_version"] = auditor.id, auditor.session_version
    client.get(f"/cases/{case_id}/replay?at=1")  # warm: templates compiled, the version's diagram parsed once
    page_times = []
    for event in events:
        started = time.perf_counter()
        answer = client.get(f"/cases/{case_id}/replay?at={event.seq}")
        page_times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.status_code
    _percentiles("page request (Flask test client, auditor)", page_times)

    with svc.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) case_event")
        rows = connection.exec_driver_sql("SELECT count(*) FROM case_event").scalar_one()
        heap = connection.exec_driver_sql("SELECT pg_relation_size('case_event')").scalar_one()
        total = connection.exec_driver_sql("SELECT pg_total_relation_size('case_event')").scalar_one()
        row_bytes, json_bytes = connection.exec_driver_sql(
            "SELECT avg(pg_column_size(e.*)), avg(coalesce(octet_length(e.before::text), 0)"
            " + coalesce(octet_length(e.after::text), 0)) FROM case_event e").one()
    print(f"stored per event ({rows} rows in case_event): table {heap / rows:.0f} B/row, with indexes "
          f"{total / rows:.0f} B/row; row {float(row_bytes):.0f} B on average, of which before/after JSON "
          f"{float(json_bytes):.0f} B", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=500, help="events in the replayed case")
    parser.add_argument("--keep", action="store_true", help="leave the database in place afterwards")
    args = parser.parse_args()
    clock.set_now(NOW)
    _server(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    _server(f'CREATE DATABASE "{DATABASE}"')
    svc = open_services(SERVER.rsplit("/", 1)[0] + f"/{DATABASE}")
    try:
        setup.init(svc.db)
        with svc.db.write() as session:
            demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes)
        started = time.perf_counter()
        case_id = drive(svc, args.events)
        print(f"drove a {ITEM} case to {_count(svc, case_id)} events in {time.perf_counter() - started:.1f} s",
              flush=True)
        measure(svc, case_id)
    finally:
        svc.db.dispose()
        if not args.keep:
            _server(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
