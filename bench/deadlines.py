"""The card tick against 100,000 and then 1,000,000 open deadlines with 1,000 due: it should grow with the due.

Creates a database of its own on the PostgreSQL server (BIANMIN_BENCH_PG, default the tests' server), fills it
by SQL with cases, open tasks and open case and step deadlines, times one tick of the card job for each size,
prints both times and their ratio, and drops the database. The server itself is never started or stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, create_engine, select, text  # noqa: E402

from engine import clock, demo, setup  # noqa: E402
from engine.deadlines import cards  # noqa: E402
from engine.models import Case, Task, User  # noqa: E402
from engine.procedures.deploy import current_version  # noqa: E402
from engine.services import Services, open_services  # noqa: E402
from tests.procedures import applicant  # noqa: E402
from tests.procedures import fill as fill_form  # noqa: E402

SERVER = os.environ.get("BIANMIN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASE = "bianmin_bench_deadlines"
# A Monday in an entered holiday year, as the tests use.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)

_CASES = """
INSERT INTO case_record (case_number, item_code, version_id, village_id, town_id, county_id, applicant_name,
    applicant_id_number, applicant_phone, status, started_by_id, accepted_at, promised_date, promised_provisional,
    clock_started_at, revision, event_count, last_event_hash, workflow_state, serializer_version)
SELECT :prefix || lpad(g::text, 7, '0'), t.item_code, t.version_id, t.village_id, t.town_id, t.county_id,
    t.applicant_name, t.applicant_id_number, t.applicant_phone, 'running', t.started_by_id, :started, :later, false,
    :started, 0, 0, repeat('0', 64), '', t.serializer_version
FROM case_record t, generate_series(1, :cases) g WHERE t.id = :template
"""
_TASKS = """
INSERT INTO task (id, case_id, element_id, name, role_code, org_id, status, created_at, promised_date)
SELECT md5(c.id::text || :prefix), c.id, t.element_id, t.name, t.role_code, t.org_id, 'open', :started, :later
FROM case_record c, task t WHERE c.id > :after AND t.id = :template_task
"""
# Case k's clock is due when k <= :due_clocks, its step's limit when k <= :due_steps; the rest look weeks ahead.
_DEADLINES = """
INSERT INTO deadline (case_id, task_id, name, limit_days, started_at, due_date, provisional, yellow_from,
    paused_days, extended_days, status, card, next_check_at)
SELECT c.id, step.task_id, step.name, step.limit_days, :started,
    CASE WHEN k <= step.due THEN :due_date ELSE :later END, false,
    CASE WHEN k <= step.due THEN :yellow_from ELSE :later_yellow END, 0, 0, 'open', '',
    CASE WHEN k <= step.due THEN :now - interval '1 minute' ELSE :now + (k % 50 + 10) * interval '1 day' END
FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM case_record WHERE id > :after) c
CROSS JOIN LATERAL (VALUES (NULL, '承诺办结期限', 30, :due_clocks),
                           (md5(c.id::text || :prefix), '村委会协助并提出意见', 10, :due_steps))
    AS step(task_id, name, limit_days, due)
"""


def fill(connection: Connection, *, template: Case, template_task: Task, prefix: str, cases: int, due: int,
         now: datetime, due_date: date, yellow_from: date, later: date) -> None:
    """`cases` copies of a real case, each with one open step and two open deadlines (its clock and the step's);
    `due` of those deadlines fall due at `now`, in their yellow period (`yellow_from` … `due_date`)."""
    after = connection.execute(text("SELECT coalesce(max(id), 0) FROM case_record")).scalar_one()
    values = {"prefix": prefix, "started": now - timedelta(days=20), "later": later, "template": template.id,
              "template_task": template_task.id, "after": after, "cases": cases, "now": now, "due_date": due_date,
              "yellow_from": yellow_from, "later_yellow": later - timedelta(days=8),
              "due_clocks": due // 2, "due_steps": due - due // 2}
    connection.execute(text(_CASES), values)
    connection.execute(text(_TASKS), values)
    connection.execute(text(_DEADLINES), values)


def _fresh_database() -> str:
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return SERVER.rsplit("/", 1)[0] + f"/{DATABASE}"


def _drop_database() -> None:
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    admin.dispose()


def _template(svc: Services) -> tuple[Case, Task]:
    """One real case accepted through the engine: the rows every filled case copies."""
    with svc.db.read() as session:
        version = current_version(session, "MZ-DIBAO")
        agent = session.scalar(select(User.id).where(User.username == "dongpo_agent"))
    schema = version.forms[version.guide["application_form"]]
    case = svc.cases.start_case(agent, "MZ-DIBAO", "510123101201", applicant("510123101201"), fill_form(schema)).case
    with svc.db.read() as session:
        task = session.scalar(select(Task).where(Task.case_id == case.id))
    return case, task


def _timed_tick(svc: Services, label: str, open_count: int) -> float:
    # A county's database in its steady state: statistics current, freshly loaded rows vacuumed and on disk, so
    # the time is the tick's and not the bulk load's after-effects (hint bits, a checkpoint under way).
    with svc.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
        connection.exec_driver_sql("CHECKPOINT")
    started = time.perf_counter()
    raised = cards.tick(svc.cases)
    elapsed = time.perf_counter() - started
    print(f"{label}: {open_count:>9,} open deadlines, {raised:,} cards raised in one tick: {elapsed:.3f} s",
          flush=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000, help="open deadlines in the first round")
    parser.add_argument("--large", type=int, default=1_000_000, help="open deadlines in the second round")
    parser.add_argument("--due", type=int, default=1_000, help="deadlines due in each round")
    parser.add_argument("--keep", action="store_true", help="leave the database in place afterwards")
    args = parser.parse_args()
    clock.set_now(NOW)
    svc = open_services(_fresh_database())
    try:
        setup.init(svc.db)
        with svc.db.write() as session:
            demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes)
        template, task = _template(svc)
        cards.tick(svc.cases)  # warm: the procedure version and the calendar are read once per process
        now = clock.now()
        days = {"now": now, "due_date": date(2026, 3, 4), "yellow_from": date(2026, 2, 26), "later": date(2026, 5, 29)}
        times = []
        total = 2  # the template case's clock and its step
        for round_, (label, size) in enumerate((("small", args.small), ("large", args.large))):
            started = time.perf_counter()
            new = size - total
            with svc.db.engine.begin() as connection:
                fill(connection, template=template, template_task=task, prefix=f"B{round_}-", cases=new // 2,
                     due=args.due, **days)
            total += new // 2 * 2
            print(f"filled to {total:,} open deadlines in {time.perf_counter() - started:.1f} s", flush=True)
            times.append(_timed_tick(svc, label, total))
        print(f"ratio large/small: {times[1] / times[0]:.2f} (open deadlines ×{args.large / args.small:.0f}, "
              f"due the same {args.due:,})")
    finally:
        svc.db.dispose()
        if not args.keep:
            _drop_database()


if __name__ == "__main__":
    main()
