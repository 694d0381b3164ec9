"""Inbox reads and completions against several gunicorn workers on PostgreSQL while processes are killed.

Starts its own PostgreSQL cluster, fills it to --cases cases (a few dozen template cases made through
the engine in every state, then copied in SQL with their tasks, timers and re-hashed history), and runs
gunicorn workers, the scheduler and client processes reading inboxes and completing tasks through the
API as the staff of every post. Meanwhile it SIGKILLs a web worker and the scheduler again and again
(restarting the scheduler) and restarts PostgreSQL once. Afterwards it checks that every acknowledged
completion is in its case's history exactly once and none is doubled, that every due timer fired once
and that every touched case's history chain verifies, and prints the rate and p95 of both requests.

Usage: python bench/faults.py [--cases N] [--seconds S] [--runs WORKERSxCLIENTS,...] [--timers K]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from bench.engine import forms_of, free_port, holders, wait_for  # noqa: E402
from engine import clock, demo, setup  # noqa: E402
from engine.audit import chain  # noqa: E402
from engine.models import Case, CaseEvent, OrgUnit, Task, Timer, User  # noqa: E402
from engine.people import accounts  # noqa: E402
from engine.procedures.spiff import utc_from_iso  # noqa: E402
from engine.services import Services, open_services  # noqa: E402
from engine.tasks import inbox  # noqa: E402
from engine.vocabulary import CaseStatus, EventKind, TaskStatus, TimerStatus  # noqa: E402
from tests.procedures import applicant, fill  # noqa: E402

PG_BIN = Path(os.environ.get("BIANMIN_PG_BIN", "/usr/lib/postgresql/15/bin"))
BIN = Path(sys.executable).parent
FOLDERS = {"MZ-DIBAO": "dibao", "MZ-TEKUN": "tekun", "ZR-ZHAIJIDI": "zhaijidi"}
VILLAGES = [code for *_, villages in demo.TOWNS for code, _, _ in villages]
# Share of the copies per template state: most cases of a county are long finished.
SHARES = {"done": 0.85, "open": 0.12, "timer": 0.03}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INBOX_LIMIT = 20


# -- the PostgreSQL cluster ------------------------------------------------------------------------


class Cluster:
    """A throw-away cluster in `root`, run as the postgres user when this script runs as root."""

    def __init__(self, root: Path) -> None:
        self.root, self.data, self.port = root, root / "pgdata", free_port()
        self.as_root = os.geteuid() == 0
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/bianmin"
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=bianmin"

    def _run(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    def create(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                       "max_connections = 300\nshared_buffers = 256MB\nmax_wal_size = 8GB\n"
                       "checkpoint_timeout = 30min\n")
        self.start()
        with psycopg.connect(self.dsn.replace("dbname=bianmin", "dbname=postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE bianmin")

    def start(self) -> None:
        # Recovery after the crash restart may take a while on a loaded machine.
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-w", "-t", "600",
                  "-o", f"-p {self.port}", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "600", "stop")

    def crash_restart(self) -> None:
        """Stopped as a crash would stop it (no shutdown checkpoint), then started: recovery replays the log."""
        self.stop("immediate")
        self.start()


# -- preparation: template cases through the engine, copies in SQL --------------------------------


@dataclass
class Template:
    case_id: int
    state: str  # open, timer or done
    copies: int = 0


def _case_state(svc: Services, case_id: int) -> tuple[list[Task], list[Timer], str]:
    with svc.db.read() as session:
        tasks = list(session.scalars(select(Task).where(Task.case_id == case_id, Task.status == TaskStatus.OPEN)
                                     .order_by(Task.created_at, Task.id)))
        timers = list(session.scalars(select(Timer).where(Timer.case_id == case_id,
                                                          Timer.status == TimerStatus.WAITING)))
        status = session.scalar(select(Case.status).where(Case.id == case_id))
    return tasks, timers, status


def _walk(svc: Services, posts: dict[tuple[str, int], int], item: str, village: tuple[str, int],
          steps: int | None, reject: bool) -> tuple[int, int]:
    """A case of `item` moved on `steps` steps (None: to its end); returns it and the steps taken."""
    folder = ROOT / "bpmn" / FOLDERS[item]
    guide = tomllib.loads((folder / "item.toml").read_text("utf-8"))
    schemas = {p.name: json.loads(p.read_text("utf-8")) for p in (folder / "forms").glob("*.schema.json")}
    code, village_id = village
    step = svc.cases.start_case(posts[("village_agent", village_id)], item, code, applicant(code),
                                fill(schemas[guide["application_form"]]))
    case_id, taken = step.case.id, 0
    while steps is None or taken < steps:
        tasks, timers, status = _case_state(svc, case_id)
        clock.travel(timedelta(hours=1))
        if tasks:
            task = tasks[0]
            data = fill(schemas[task.form_file], "reject" if reject else "approve") if task.form_file else {}
            svc.cases.complete(posts[(task.role_code, task.org_id)], task.id, data)
        elif timers:
            clock.set_now(max(timer.due_at for timer in timers) + timedelta(minutes=1))
            svc.cases.fire_timers(case_id)
        else:
            break
        taken += 1
    return case_id, taken


def make_templates(svc: Services) -> list[Template]:
    """Per procedure and village: one case stopped at every state along the approving path, one rejected."""
    posts = holders(svc)
    with svc.db.read() as session:
        village_ids = {unit.code: unit.id for unit in session.scalars(select(OrgUnit))}
    start = clock.now() - timedelta(days=45)
    made: list[int] = []
    for item in FOLDERS:
        for code in VILLAGES:
            village = (code, village_ids[code])

            def begin() -> None:
                clock.set_now(start + timedelta(hours=2 * len(made)))

            begin()
            full, length = _walk(svc, posts, item, village, None, reject=False)
            made.append(full)
            for steps in range(length):
                begin()
                made.append(_walk(svc, posts, item, village, steps, reject=False)[0])
            begin()
            # Refused where the procedure can refuse: 低保's village only recommends, so its case goes on to the town.
            made.append(_walk(svc, posts, item, village, None, reject=True)[0])
    clock.reset()
    templates = []
    for case_id in made:
        tasks, timers, status = _case_state(svc, case_id)
        templates.append(Template(case_id, "open" if tasks else "timer" if timers else "done"))
        assert tasks or timers or status == CaseStatus.COMPLETED, (case_id, status)
    return templates


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _spliced(text: str, replacements: dict[str, str]) -> str:
    """SQL building `text` with each key of `replacements` swapped for its SQL expression."""
    if not replacements:
        return _literal(text)
    pattern = re.compile("|".join(re.escape(key) for key in sorted(replacements, key=len, reverse=True)))
    parts, position = [], 0
    for match in pattern.finditer(text):
        parts += [_literal(text[position:match.start()]), replacements[match.group()]]
        position = match.end()
    parts.append(_literal(text[position:]))
    return "(" + " || ".join(part for part in parts if part != "''") + ")"


def _case_when(column: str, mapping: dict[str, str], default: str) -> str:
    if not mapping:
        return default
    cases = " ".join(f"WHEN {_literal(key)} THEN {value}" for key, value in mapping.items())
    return f"CASE {column} {cases} ELSE {default} END"


def copy_template(conn: psycopg.Connection, svc: Services, template: Template, first_id: int, first_number: int,
                  timer_due: datetime) -> None:
    """Insert `template.copies` copies of a case: new ids, case numbers and task ids, the history re-hashed.

    Every task id (SpiffWorkflow's UUIDs, in the stored state, the task and timer rows and the history)
    becomes md5(old id, copy number); waiting timers fall due at `timer_due`.
    """
    with svc.db.read() as session:
        case = session.get(Case, template.case_id)
        state, number = case.workflow_state, case.case_number
        events = list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))
        waiting = list(session.scalars(select(Timer).where(Timer.case_id == case.id,
                                                           Timer.status == TimerStatus.WAITING)))
    canonical = [chain.canonical({key: getattr(event, key) for key in chain.HASHED}) for event in events]
    ids = sorted(set(UUID.findall(state)).union(*(UUID.findall(text) for text in canonical)))
    columns = {old: f"u{i}" for i, old in enumerate(ids)}
    prefix, _, digits = number.rpartition("-")
    replacements = {old: f"s.{column}" for old, column in columns.items()}
    replacements[number] = "s.case_number"
    state_replacements = dict(replacements)
    for timer in waiting:
        # The stored state holds the due time as SpiffWorkflow wrote it; the row holds the same moment.
        old = json.loads(state)["tasks"][timer.id]["internal_data"]["event_value"]
        assert utc_from_iso(old) == timer.due_at
        state_replacements[json.dumps(old)] = _literal(json.dumps(timer_due.isoformat()))
    ids_sql = ", ".join(f"md5({_literal(old + ':')} || g.n)::uuid::text AS {column}" for old, column in columns.items())
    conn.execute("DROP TABLE IF EXISTS stage")
    conn.execute(
        f"CREATE TEMP TABLE stage AS SELECT g.n, {first_id - 1} + g.n AS case_id, "
        f"{_literal(prefix + '-')} || lpad(number, greatest({len(digits)}, length(number)), '0') AS case_number"
        f"{', ' + ids_sql if ids_sql else ''} FROM generate_series(1, {template.copies}) g(n), "
        f"LATERAL (SELECT ({first_number - 1} + g.n)::text AS number) c")
    hashes, previous = [], _literal(chain.GENESIS)
    for seq, text in enumerate(canonical, 1):
        old_case = f'"case_id":{template.case_id},"kind"'
        expression = _spliced(text, {**replacements, old_case: "'\"case_id\":' || s.case_id || ',\"kind\"'"})
        digest = f"encode(sha256(convert_to({previous} || {expression}, 'UTF8')), 'hex')"
        hashes.append(f"LATERAL (SELECT {digest} AS h{seq}) e{seq}")
        previous = f"e{seq}.h{seq}"
    conn.execute("DROP TABLE IF EXISTS stage_chain")
    heads = ", ".join(f"e{i}.h{i}" for i in range(1, len(events) + 1))
    conn.execute(f"CREATE TEMP TABLE stage_chain AS SELECT s.*, {heads} FROM stage s, {', '.join(hashes)}")
    task_ids = {old: f"s.{column}" for old, column in columns.items()}
    case_columns = [c.name for c in Case.__table__.columns if c.name not in ("id", "case_number", "workflow_state",
                                                                             "last_event_hash")]
    conn.execute(
        f"INSERT INTO case_record (id, case_number, workflow_state, last_event_hash, {', '.join(case_columns)}) "
        f"SELECT s.case_id, s.case_number, {_spliced(state, state_replacements)}, s.h{len(events)}, "
        f"{', '.join('t.' + c for c in case_columns)} FROM stage_chain s, case_record t "
        f"WHERE t.id = {template.case_id}")
    task_columns = [c.name for c in Task.__table__.columns if c.name not in ("id", "case_id")]
    conn.execute(
        f"INSERT INTO task (id, case_id, {', '.join(task_columns)}) SELECT {_case_when('t.id', task_ids, 't.id')}, "
        f"s.case_id, {', '.join('t.' + c for c in task_columns)} FROM stage_chain s, task t "
        f"WHERE t.case_id = {template.case_id}")
    timer_columns = [c.name for c in Timer.__table__.columns if c.name not in ("id", "case_id", "due_at")]
    conn.execute(
        f"INSERT INTO timer (id, case_id, due_at, {', '.join(timer_columns)}) SELECT "
        f"{_case_when('t.id', task_ids, 't.id')}, s.case_id, CASE WHEN t.status = {_literal(TimerStatus.WAITING)} "
        f"THEN {_literal(timer_due.isoformat())}::timestamptz ELSE t.due_at END, "
        f"{', '.join('t.' + c for c in timer_columns)} FROM stage_chain s, timer t "
        f"WHERE t.case_id = {template.case_id}")
    by_seq = lambda column: "CASE t.seq " + " ".join(  # noqa: E731
        f"WHEN {seq} THEN {column(seq)}" for seq in range(1, len(events) + 1)) + " END"
    conn.execute(
        "INSERT INTO case_event (case_id, seq, at, actor_id, actor_name, kind, task_id, step, before, after, "
        f"prev_hash, hash) SELECT s.case_id, t.seq, t.at, t.actor_id, t.actor_name, t.kind, "
        f"{_case_when('t.task_id', task_ids, 't.task_id')}, t.step, t.before, t.after, "
        f"{by_seq(lambda seq: _literal(chain.GENESIS) if seq == 1 else f's.h{seq - 1}')}, "
        f"{by_seq(lambda seq: f's.h{seq}')} "
        f"FROM stage_chain s, case_event t WHERE t.case_id = {template.case_id}")
    for event in events:
        for value in (event.before, event.after):
            # Their text is copied unchanged, so it must name nothing a copy renames.
            assert not any(key in json.dumps(value, ensure_ascii=False) for key in replacements), event.kind


def prepare(cluster: Cluster, cases: int) -> tuple[Services, dict[str, Any]]:
    started = time.perf_counter()
    svc = open_services(cluster.url)
    setup.init(svc.db)
    with svc.db.write() as session:
        demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes)
    templates = make_templates(svc)
    made = time.perf_counter()
    remaining = max(0, cases - len(templates))
    for state, share in SHARES.items():
        chosen = [t for t in templates if t.state == state]
        for template in chosen:
            template.copies = int(remaining * share / len(chosen))
    templates[0].copies += remaining - sum(t.copies for t in templates)
    with svc.db.read() as session:
        next_id = session.scalar(select(func.max(Case.id))) + 1
        numbers = Counter(number.rsplit("-", 1)[0] for number in session.scalars(select(Case.case_number)))
    timer_due = clock.now() + timedelta(days=7)
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        for template in templates:
            if not template.copies:
                continue
            with svc.db.read() as session:
                number = session.scalar(select(Case.case_number).where(Case.id == template.case_id))
            day = number.rsplit("-", 1)[0]
            copy_template(conn, svc, template, next_id, numbers[day] + 1, timer_due)
            next_id += template.copies
            numbers[day] += template.copies
        conn.execute("SELECT setval('case_record_id_seq', (SELECT max(id) FROM case_record))")
        conn.execute("UPDATE case_sequence SET last = c.last FROM (SELECT split_part(case_number, '-', 1) || '-' || "
                     "split_part(case_number, '-', 2) AS item, split_part(case_number, '-', 3) AS day, "
                     "max(split_part(case_number, '-', 4)::int) AS last FROM case_record GROUP BY 1, 2) c "
                     "WHERE case_sequence.item_code = c.item AND case_sequence.day = c.day")
        conn.execute("VACUUM ANALYZE")
        # So the crash restart replays only what the run wrote, not the whole load.
        conn.execute("CHECKPOINT")
        rows = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                for table in ("case_record", "task", "timer", "case_event")}
        size = conn.execute("SELECT pg_size_pretty(pg_database_size('bianmin'))").fetchone()[0]  # type: ignore[index]
    info = {"templates": len(templates), "template_seconds": made - started,
            "seconds": time.perf_counter() - started, "rows": rows, "size": size,
            "states": Counter(t.state for t in templates)}
    return svc, info


# -- the run: servers, scheduler, clients, faults --------------------------------------------------


@dataclass
class Staff:
    token: str
    username: str


def staff_tokens(svc: Services) -> list[Staff]:
    """A token for the A holder of every post that works tasks (village committees, town and county posts)."""
    posts = holders(svc)
    with svc.db.write() as session:
        users = [session.get(User, uid) for uid in posts.values()]
        return [Staff(accounts.create_token(session, user.username), user.username) for user in users
                if user.role_code not in ("village_agent", "supervisor", "auditor", "admin")]


def form_data() -> dict[str, dict[str, Any]]:
    """Approving data per procedure and form file, as a clerk would fill it in."""
    return {f"{item}/{name}": data for item, folder in FOLDERS.items()
            for name, data in forms_of(ROOT / "bpmn" / folder).items()}


def client(port: int, staff: list[Staff], forms: dict[str, dict[str, Any]], until: float, seed: int,
           out: Path) -> None:
    """Reads inboxes of random staff and completes one of the first tasks shown; records every request."""
    rng = random.Random(seed)
    records: list[tuple[str, float, float, int, str | None]] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(method: str, path: str, token: str, body: dict | None = None) -> tuple[int, Any]:
        nonlocal connection
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            response = connection.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw.startswith(b"{") else None
        except (OSError, http.client.HTTPException):
            # The worker died mid-request: the outcome is unknown, so it counts as not acknowledged.
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            return 0, None

    while time.time() < until:
        person = rng.choice(staff)
        scope = "post" if rng.random() < 0.8 else "mine"
        started = time.time()
        status, body = call("GET", f"/api/v1/tasks?scope={scope}&limit={INBOX_LIMIT}", person.token)
        records.append(("inbox", started, time.time() - started, status, None))
        tasks = body["tasks"] if status == 200 and body else []
        if not tasks:
            continue
        task = rng.choice(tasks[:5])
        started = time.time()
        status, _ = call("POST", f"/api/v1/tasks/{task['id']}/complete", person.token,
                         {"data": forms[f"{task['item_code']}/{task['form']}"]})
        records.append(("complete", started, time.time() - started, status, task["id"]))
    out.write_text(json.dumps(records))


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


@dataclass
class Faults:
    """SIGKILLs a web worker and the scheduler in turn every `every` seconds; restarts PostgreSQL once, midway."""

    cluster: Cluster
    server: subprocess.Popen
    start_scheduler: Any
    every: float
    restart_at: float
    until: float
    scheduler: subprocess.Popen | None = None
    counts: Counter = field(default_factory=Counter)

    def run(self) -> None:
        turn = 0
        restarted = False
        while time.time() < self.until:
            time.sleep(self.every)
            if not restarted and time.time() >= self.restart_at:
                self.cluster.crash_restart()
                self.counts["postgresql restarts"] += 1
                restarted = True
            elif turn % 2 == 0:
                workers = _children(self.server.pid)
                if workers:
                    os.kill(random.choice(workers), signal.SIGKILL)
                    self.counts["web workers killed"] += 1
            else:
                assert self.scheduler is not None
                self.scheduler.send_signal(signal.SIGKILL)
                self.scheduler.wait()
                self.counts["schedulers killed"] += 1
                self.scheduler = self.start_scheduler()
            turn += 1


def make_timers_due(cluster: Cluster, count: int, start: float, seconds: float) -> int:
    """Bring `count` waiting timers forward to fall due during the run (in their rows and in the stored state)."""
    with psycopg.connect(cluster.dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT t.id, t.case_id, t.due_at FROM timer t WHERE t.status = %s AND t.due_at > now() "
                            "ORDER BY t.case_id DESC LIMIT %s", (TimerStatus.WAITING, count)).fetchall()
        rng = random.Random(count)
        for timer_id, case_id, due_at in rows:
            due = datetime.fromtimestamp(start + rng.uniform(0, seconds * 0.8), due_at.tzinfo)
            old, new = json.dumps(due_at.isoformat()), json.dumps(due.isoformat())
            with conn.transaction():
                updated = conn.execute("UPDATE case_record SET workflow_state = replace(workflow_state, %s, %s) "
                                       "WHERE id = %s AND strpos(workflow_state, %s) > 0", (old, new, case_id, old))
                assert updated.rowcount == 1, (case_id, old)
                conn.execute("UPDATE timer SET due_at = %s WHERE id = %s", (due, timer_id))
    return len(rows)


@dataclass
class Outcome:
    workers: int
    clients: int
    seconds: float
    records: list[tuple[str, float, float, int, str | None]]
    faults: Counter
    timers_due: int
    checks: dict[str, Any]


def run(cluster: Cluster, svc: Services, staff: list[Staff], workers: int, clients: int, seconds: float,
        timers: int, kill_every: float) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix="bianmin-faults-run-"))
    env = {**os.environ, "BIANMIN_DATABASE_URL": cluster.url, "BIANMIN_SECRET_KEY": secrets.token_hex(32),
           "BIANMIN_ENV": "production", "BIANMIN_INSTANCE": str(tmp), "PYTHONPATH": str(ROOT)}
    port = free_port()
    with open(tmp / "server.log", "w") as log:
        server = subprocess.Popen([str(BIN / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{port}",
                                   "webui:create_app()"], cwd=ROOT, env=env, stdout=log, stderr=log)

        def start_scheduler() -> subprocess.Popen:
            return subprocess.Popen([str(BIN / "bianmin"), "scheduler", "--interval", "1"], cwd=ROOT, env=env,
                                    stdout=log, stderr=log)

        start = time.time() + 10
        until = start + seconds
        faults = Faults(cluster, server, start_scheduler, kill_every, start + seconds / 2, until)
        try:
            wait_for(f"http://127.0.0.1:{port}/api/v1/openapi.json")
            due = make_timers_due(cluster, timers, start, seconds)
            faults.scheduler = start_scheduler()
            forms = form_data()
            context = multiprocessing.get_context("spawn")
            outs = [tmp / f"client{i}.json" for i in range(clients)]
            processes = [context.Process(target=client, args=(port, staff, forms, until, i, outs[i]))
                         for i in range(clients)]
            for process in processes:
                process.start()
            time.sleep(max(0.0, start - time.time()))
            fault_thread = threading.Thread(target=faults.run)
            fault_thread.start()
            for process in processes:
                process.join()
            fault_thread.join()
            records = [tuple(r) for out in outs for r in json.loads(out.read_text())]
            caught_up = _await_timers(cluster, until)
            # This process's pooled connections died with the PostgreSQL restart.
            svc.db.engine.dispose()
            checks = check(svc, records, start)
            checks["timers waiting past due after the run"] = caught_up
            errors = Counter(line.strip()[:160] for line in (tmp / "server.log").read_text().splitlines()
                             if re.match(r"\w+(\.\w+)*(Error|Exception): ", line.strip()))
            checks["server errors logged"] = dict(errors.most_common(4))
            return Outcome(workers, clients, seconds, records, faults.counts, due, checks)  # type: ignore[arg-type]
        finally:
            for process in (server, faults.scheduler):
                if process is not None and process.poll() is None:
                    process.terminate()
                    process.wait(30)
            shutil.rmtree(tmp, ignore_errors=True)


def _await_timers(cluster: Cluster, until: float, patience: float = 120) -> int:
    """Give the scheduler time to fire what fell due during the run; how many are still waiting."""
    deadline = time.time() + patience
    while True:
        try:
            with psycopg.connect(cluster.dsn) as conn:
                waiting = conn.execute("SELECT count(*) FROM timer WHERE status = %s AND due_at <= to_timestamp(%s)",
                                       (TimerStatus.WAITING, until)).fetchone()[0]  # type: ignore[index]
        except psycopg.OperationalError:
            waiting = -1  # still recovering from the restart
        if not waiting or time.time() > deadline:
            return waiting
        time.sleep(1)


def check(svc: Services, records: list, start: float) -> dict[str, Any]:
    """Completions acknowledged, lost, doubled; timers fired once; chains of every touched case."""
    acknowledged = {r[4] for r in records if r[0] == "complete" and 200 <= r[3] < 300}
    attempted = {r[4] for r in records if r[0] == "complete"}
    with svc.db.read() as session:
        task_cases = dict(session.execute(select(Task.id, Task.case_id).where(Task.id.in_(attempted))).all())
        fired = dict(session.execute(select(Timer.id, Timer.case_id).where(
            Timer.status == TimerStatus.FIRED, Timer.fired_at >= datetime.fromtimestamp(start - 5).astimezone())).all())
        touched = set(task_cases.values()) | set(fired.values())
        completions = Counter(session.scalars(select(CaseEvent.task_id).where(
            CaseEvent.case_id.in_(touched), CaseEvent.kind == EventKind.TASK_COMPLETED)))
        firings = Counter(session.scalars(select(CaseEvent.task_id).where(
            CaseEvent.case_id.in_(touched), CaseEvent.kind == EventKind.TIMER_FIRED)))
        completed_rows = set(session.scalars(select(Task.id).where(Task.id.in_(attempted),
                                                                   Task.status == TaskStatus.COMPLETED)))
        broken = [case_id for case_id in sorted(touched) if chain.verify(session, case_id)]
    return {
        "completions acknowledged": len(acknowledged),
        "acknowledged but not in history once": sum(1 for t in acknowledged if completions[t] != 1),
        "acknowledged but task row not completed": len(acknowledged - completed_rows),
        "completions doubled": sum(1 for count in completions.values() if count > 1),
        "timers fired during the run": len(fired),
        "timers fired other than once": sum(1 for t in fired if firings[t] != 1),
        "cases touched": len(touched),
        "history chains broken": len(broken),
    }


def _ms(values: list[float], share: float) -> float:
    """The value `share` of the requests stayed under, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else float("nan")


def inbox_queries(cluster: Cluster) -> None:
    """The inbox query alone, in the database, for the busiest post of each level (no HTTP, no contention)."""
    svc = open_services(cluster.url)
    with svc.db.read() as session:
        busiest = session.execute(
            select(Task.role_code, Task.org_id, func.count()).where(Task.status == TaskStatus.OPEN)
            .group_by(Task.role_code, Task.org_id).order_by(func.count().desc())).all()
        for role_code, org_id, count in busiest[:3]:
            user = session.scalar(select(User).where(User.role_code == role_code, User.org_id == org_id,
                                                     User.post_rank == "A"))
            for scope in inbox.SCOPES:
                statement = inbox.INBOX_ROWS[(scope, "due", False)].compile(dialect=svc.db.engine.dialect)
                params = {**statement.params, **inbox._params(user), "limit": INBOX_LIMIT}
                plan = session.connection().exec_driver_sql(
                    f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", params).scalar_one()[0]
                print(f"inbox query, {scope:<4} of {user.username} ({count} open tasks on the post): "
                      f"{plan['Execution Time']:.2f} ms in the database")
    svc.db.dispose()


def report(outcome: Outcome) -> None:
    print(f"\n== {outcome.workers} gunicorn workers, {outcome.clients} clients, {outcome.seconds:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f} ==")
    for kind in ("inbox", "complete"):
        ok = [r for r in outcome.records if r[0] == kind and 200 <= r[3] < 300]
        statuses = Counter(r[3] for r in outcome.records if r[0] == kind)
        took = [r[2] for r in ok]
        print(f"{kind:<9} {len(ok) / outcome.seconds:7.1f}/s  p95 {_ms(took, 0.95):7.1f} ms  "
              f"median {_ms(took, 0.5):6.1f} ms  "
              f"statuses {dict(sorted(statuses.items()))} (0 = connection lost)")
    print("faults:", dict(outcome.faults), f"timers made due: {outcome.timers_due}")
    for name, value in outcome.checks.items():
        print(f"  {name}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--runs", default="4x4", help="comma-separated WORKERSxCLIENTS, run in turn")
    parser.add_argument("--timers", type=int, default=300, help="waiting timers brought forward to fall due per run")
    parser.add_argument("--kill-every", type=float, default=5, help="seconds between kills")
    parser.add_argument("--keep", type=Path, help="prepare the cluster in this folder and keep it; reuse it if there")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bianmin-faults-"))
    root.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(root)
    reuse = cluster.data.exists()
    if reuse:
        cluster.start()
    else:
        cluster.create()
    try:
        if reuse:
            svc = open_services(cluster.url)
            print(f"reusing the prepared cluster in {root}")
        else:
            svc, info = prepare(cluster, args.cases)
            print(f"prepared in {info['seconds']:.0f} s ({info['templates']} template cases through the engine in "
                  f"{info['template_seconds']:.0f} s: {dict(info['states'])}), database {info['size']}")
            print("rows:", info["rows"])
        inbox_queries(cluster)
        staff = staff_tokens(svc)
        for spec in args.runs.split(","):
            workers, clients = (int(n) for n in spec.lower().split("x"))
            report(run(cluster, svc, staff, workers, clients, args.seconds, args.timers, args.kill_every))
        svc.db.dispose()
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
