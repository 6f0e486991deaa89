"""A real Prometheus (Debian's binary) scraping a small local target, for the provider tests.

The target serves fixed series in Prometheus' text format on 127.0.0.1; Prometheus scrapes
it every second from a free port and a temporary TSDB. ``started()`` yields once a query
returns the target's data, and stops both on exit. Tests skip when the binary is missing
(``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

SERIES = """\
# TYPE http_requests_total counter
http_requests_total{{service="api",status="200"}} {ok}
http_requests_total{{service="api",status="500"}} {bad}
# TYPE demo_requests_total counter
demo_requests_total{{service="api",status="200"}} 950
demo_requests_total{{service="api",status="500"}} 50
demo_requests_total{{service="web",status="200"}} 10
# TYPE demo_ratio gauge
demo_ratio{{service="api"}} 0.97
demo_ratio{{service="web"}} 0.42
# TYPE demo_nan gauge
demo_nan{{service="api"}} NaN
"""
"""Fixed gauges, and the seeds' http_requests_total growing by 950 ok and 50 errors per
scrape, so that the seeds' rate() query gives a success rate of 0.95."""


@dataclass(frozen=True)
class PrometheusServer:
    url: str


def binary() -> str | None:
    return shutil.which("prometheus")


def missing() -> bool:
    """Skip without prometheus, except in CI, where a missing binary must fail, not hide tests."""
    return binary() is None and not os.environ.get("CI")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Target(BaseHTTPRequestHandler):
    scrapes = 0

    def do_GET(self) -> None:
        _Target.scrapes += 1
        body = SERIES.format(ok=950 * _Target.scrapes, bad=50 * _Target.scrapes).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def started(timeout: float = 90.0) -> Iterator[PrometheusServer]:
    """A running Prometheus that has scraped ``SERIES`` at least once."""
    exe = binary()
    assert exe is not None, "prometheus is not installed (apt-get install prometheus)"
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="conveyor-prom-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "- job_name: fixture\n"
            f"  static_configs: [{{targets: ['127.0.0.1:{target.server_address[1]}']}}]\n"
        )
        process = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp}/data",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_for_data(url, process, timeout)
            yield PrometheusServer(url)
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            target.shutdown()
            target.server_close()


def _wait_for_data(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"prometheus exited with {process.returncode}: {err[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            query = "demo_ratio and on() rate(http_requests_total[2m])"  # two scrapes at least
            answer = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5)
            if answer.status_code == 200 and answer.json()["data"]["result"]:
                return
        time.sleep(0.2)
    raise AssertionError(f"prometheus at {url} had no data after {timeout}s")
