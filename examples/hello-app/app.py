"""A tiny HTTP service for Conveyor's local runtime: no dependencies, graceful on SIGTERM.

It listens on $PORT and answers:
  /         its version (the VERSION file, or $VERSION) and the Pod that served the request
  /health   liveness: fails once $FAIL_HEALTH_AFTER requests to it have been answered
  /ready    readiness: fails while the file named by $NOT_READY_FILE exists
On SIGTERM it stops accepting connections, finishes the requests in flight and exits.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = os.environ.get("VERSION") or (HERE / "VERSION").read_text().strip()
POD = os.environ.get("POD_NAME", "")
FAIL_HEALTH_AFTER = int(os.environ.get("FAIL_HEALTH_AFTER", "0") or 0)
NOT_READY_FILE = os.environ.get("NOT_READY_FILE", "")

health_calls = 0
in_flight = 0
lock = threading.Lock()
drained = threading.Condition(lock)


class Server(ThreadingHTTPServer):
    # Room for a burst of new connections (the default backlog of 5 stalls them for 1 s).
    request_queue_size = 128
    daemon_threads = True


class Handler(BaseHTTPRequestHandler):
    # Headers and body go out in two writes: without this, Nagle delays each reply ~40 ms.
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet access log
        return

    def _send(self, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        global health_calls, in_flight
        with lock:
            in_flight += 1
        try:
            if self.path == "/health":
                with lock:
                    health_calls += 1
                    failing = FAIL_HEALTH_AFTER and health_calls > FAIL_HEALTH_AFTER
                self._send(500 if failing else 200, {"status": "failing" if failing else "ok"})
            elif self.path == "/ready":
                ready = not (NOT_READY_FILE and os.path.exists(NOT_READY_FILE))
                self._send(200 if ready else 503, {"ready": ready})
            else:
                self._send(200, {"version": VERSION, "pod": POD})
        finally:
            with lock:
                in_flight -= 1
                drained.notify_all()


def main() -> None:
    server = Server(("127.0.0.1", int(os.environ.get("PORT", "8080"))), Handler)

    def stop(*_: object) -> None:
        def drain() -> None:
            server.shutdown()
            with lock:
                drained.wait_for(lambda: in_flight == 0, timeout=10)
        threading.Thread(target=drain, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"hello-app {VERSION} listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
    print("hello-app stopped", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
