"""A real HTTP server on 127.0.0.1 for connector tests: each POST is handed to a function that decides the answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # names in lower case
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


# (status, body), or None to hang up without answering (what a peer that died looks like).
Answer = tuple[int, bytes] | None


def answer_json(status: int, payload: Any) -> tuple[int, bytes]:
    return status, json.dumps(payload, ensure_ascii=False).encode()


@contextmanager
def serving(answer: Callable[[Request], Answer]) -> Iterator[str]:
    """The server for the block; yields its address (http://127.0.0.1:port). `answer` runs on the server's thread
    for each request, so it may block (a hanging service) without holding the others."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802  (the name http.server calls)
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            found = answer(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
            if found is None:
                self.close_connection = True
                return
            status, body = found
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the caller gave up waiting (a time-out test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the signature http.server calls)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
