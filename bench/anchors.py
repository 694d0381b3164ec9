"""Daily anchors over a county of 10,000 cases and 200,000 events: the time to write one, its file's size, and the
time to check it again.

Makes a database of its own (PostgreSQL on BIANMIN_BENCH_PG, default the tests' server, and a SQLite file), starts
one real 低保 case, then copies its row to 10,000 cases, each with a chain of 20 events hashed as the engine hashes
them (the anchor reads only the chains, so copies are as good as driven cases here and take seconds, not hours).
Times `anchors.write` (heads at the day's end, digest, file) and `anchors.check_document` (heads again, then every
chain read back from its anchored head), and prints the file's size, plain and gzipped. Drops the database after.
"""

from __future__ import annotations

import argparse
import gzip
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BIANMIN_SECRET_KEY", secrets.token_hex(32))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402

from engine import clock, demo, setup  # noqa: E402
from engine.audit import anchors, links  # noqa: E402
from engine.models import Case, CaseEvent  # noqa: E402
from engine.services import Services, open_services  # noqa: E402
from tests.test_engine import start  # noqa: E402

SERVER = os.environ.get("BIANMIN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DATABASE = "bianmin_bench_anchors"
DAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)
BATCH = 5000


def _server(sql: str) -> None:
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(sql))
    admin.dispose()


def fill(svc: Services, cases: int, per_case: int) -> None:
    """The real case and `cases - 1` copies of it, each copy with `per_case` chained events through the day."""
    model = start(svc)
    cases_table, events_table = Case.__table__, CaseEvent.__table__
    with svc.db.read() as session:
        row = dict(session.execute(select(cases_table).where(cases_table.c.id == model.id)).mappings().one())
    case_rows, event_rows = [], []
    for n in range(model.id + 1, model.id + cases):
        prev = links.GENESIS
        for seq in range(1, per_case + 1):
            event = {"case_id": n, "seq": seq, "at": (NOW + timedelta(seconds=seq * 60 + n % 600)).astimezone(UTC),
                     "actor_id": None, "actor_name": "清水镇便民服务中心窗口（A岗）", "kind": "task_completed",
                     "task_id": None, "step": "村委会协助并提出意见", "before": None,
                     "after": {"village_decision": "approve", "village_opinion": f"经入户调查，情况属实（{n}）"},
                     "post": "town_window@2", "address": "10.23.4.17"}
            event["prev_hash"] = prev
            event["hash"] = prev = links.digest(prev, event, links.CASE_KEYS, links.CASE_OPTIONAL)
            event_rows.append(event)
        case_rows.append(row | {"id": n, "case_number": f"MZ-DIBAO-20260302-{n:05d}", "event_count": per_case,
                                "last_event_hash": prev})
        if len(event_rows) >= BATCH or n == model.id + cases - 1:
            with svc.db.write() as session:
                session.execute(insert(cases_table), case_rows)
                session.execute(insert(events_table), event_rows)
            case_rows, event_rows = [], []


def measure(svc: Services, name: str, directory: Path) -> None:
    clock.set_now(NOW + timedelta(days=1))
    started = time.perf_counter()
    row = anchors.write(svc.db, directory, DAY)
    written = time.perf_counter() - started
    assert row is not None
    path = Path(row.path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    started = time.perf_counter()
    with svc.db.read() as session:
        checked = anchors.check_document(session, anchors.read_file(path))
    check = time.perf_counter() - started
    assert checked.consistent, checked.differences[:3]
    print(f"{name}: {row.counts['cases']} cases, {row.counts['case_events']} case events")
    print(f"  write anchor (heads, digest, file): {written * 1000:.0f} ms")
    print(f"  file {path.name}: {path.stat().st_size / 1024:.0f} KB on disk ({len(raw) / 1024:.0f} KB as JSON)")
    print(f"  check-anchor (heads + every chain read back): {check * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--events-per-case", type=int, default=20)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    clock.set_now(NOW)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("postgresql", "sqlite"):
            if args.only and name != args.only:
                continue
            if name == "postgresql":
                _server(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
                _server(f'CREATE DATABASE "{DATABASE}"')
                url = SERVER.rsplit("/", 1)[0] + f"/{DATABASE}"
            else:
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            svc = open_services(url)
            try:
                setup.init(svc.db)
                with svc.db.write() as session:
                    demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes, created_by="bench")
                clock.set_now(NOW)
                fill(svc, args.cases, args.events_per_case)
                measure(svc, name, Path(tmp) / name)
            finally:
                svc.db.dispose()
                if name == "postgresql":
                    _server(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
