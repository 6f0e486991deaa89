"""Helpers of the AnalysisRun tests: a real HTTP server answering JSON, and a journal whose
writes can be made to fail (as a database error would)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from conveyor.errors import TemporaryError
from conveyor.model.objects import Object
from conveyor.targets.local.journal import MemoryJournal


class JSONServer:
    """Answers every GET with ``body`` as JSON and counts the requests."""

    def __init__(self, body: Any) -> None:
        self.body = body
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                data = json.dumps(outer.body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/metric"

    @contextmanager
    def running(self) -> Iterator[JSONServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()


class BrokenJournal(MemoryJournal):
    """A journal whose flush fails while ``broken``, keeping what it could not write
    buffered, as the store's journal does on a database error."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer: dict[str, Object | None] = {}
        self.broken = False

    def record_object(self, key: str, obj: Object | None) -> None:
        self.buffer[key] = obj

    async def flush(self) -> None:
        if self.broken:
            raise TemporaryError("writing runtime state failed: disk I/O error", obj="db")
        buffered, self.buffer = self.buffer, {}
        for key, obj in buffered.items():
            super().record_object(key, obj)
