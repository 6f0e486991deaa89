"""A web metric's endpoint on 127.0.0.1 that a test opens and closes: ``{"ok": N}``.

Analysis tests point an AnalysisTemplate's ``web`` provider at it (``jsonPath: {$.ok}``) and
flip ``value`` to make the next measurement pass or fail; ``hits`` counts the measurements.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Gate:
    """The endpoint; serve it with ``serving()``."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.hits = 0
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gate.hits += 1
                body = json.dumps({"ok": gate.value}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                del args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def metric(self, name: str = "gate") -> dict[str, Any]:
        """A metric measured every second whose first failure fails the run."""
        return {
            "name": name,
            "interval": "1s",
            "failureLimit": 0,
            "successCondition": "result >= 1",
            "provider": {"web": {"url": self.url, "jsonPath": "{$.ok}"}},
        }


@contextmanager
def serving(value: int = 0) -> Iterator[Gate]:
    gate = Gate(value)
    thread = threading.Thread(target=gate.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gate
    finally:
        gate.server.shutdown()
        gate.server.server_close()
        thread.join(10)
