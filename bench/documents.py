"""PDF render time of the written documents: each kind rendered repeatedly, HTML and WeasyPrint timed apart.

Builds a throw-away SQLite database in a temporary folder, issues one document of each kind on a 低保 case, then
renders each kind's HTML and PDF `--rounds` times (default 20) and prints p50/p95 in milliseconds, the first (cold)
PDF render separately (it loads pango and the CJK fonts), the PDF's size, and the time to hand back a cached copy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import clock, demo, setup  # noqa: E402
from engine.cases import locking  # noqa: E402
from engine.documents import issuing, rendering  # noqa: E402
from engine.services import open_services  # noqa: E402
from tests.conftest import TEST_START, user_id  # noqa: E402
from tests.test_documents import FACTS  # noqa: E402
from tests.test_engine import start  # noqa: E402


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    clock.set_now(TEST_START)
    with tempfile.TemporaryDirectory() as folder:
        svc = open_services(f"sqlite:///{Path(folder) / 'bench.db'}")
        setup.init(svc.db)
        with svc.db.write() as session:
            demo.load(session, ROOT / "bpmn", svc.settings.max_diagram_bytes, created_by="bench")
        case = start(svc, name="欧阳晓明")
        documents = {}
        for kind, facts in FACTS.items():
            with svc.db.write() as session:
                actor = locking.actor(session, user_id(svc, "qingshui_window"))
                documents[kind] = issuing.issue(session, locking.lock_case(session, case.id), kind, facts, actor,
                                                clock.now(), department="县民政局")
        print(f"documents: {rounds} renders of each kind (SQLite, one 2-core machine)")
        for kind, document in documents.items():
            html_times, pdf_times, cold, size = [], [], 0.0, 0
            for round_ in range(rounds + 1):
                began = time.perf_counter()
                with svc.db.read() as session:
                    html = rendering.render_html(session, document, clear=True)
                rendered = time.perf_counter()
                data = rendering.pdf_bytes(html)
                done = time.perf_counter()
                if round_ == 0:
                    cold = done - began
                    continue
                html_times.append(rendered - began)
                pdf_times.append(done - rendered)
                size = len(data)
            attachments = Path(folder) / "attachments"
            rendering.pdf_file(svc.db, document.id, attachments, clear=True)
            began = time.perf_counter()
            rendering.pdf_file(svc.db, document.id, attachments, clear=True)
            cached = time.perf_counter() - began
            print(f"  {kind:<18} html {_ms(html_times)} | pdf {_ms(pdf_times)} | first {cold * 1000:6.0f} ms"
                  f" | {size / 1024:5.1f} KiB | cached {cached * 1000:5.1f} ms")
        svc.db.dispose()


if __name__ == "__main__":
    main()
