"""The prometheus provider against a real Prometheus server (Debian's binary): vector,
scalar, matrix, empty result, NaN, a query error, a server error and a timeout."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from conveyor.analysis.providers import default_providers, measure
from conveyor.clock import SystemClock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import AnalysisPhase
from support import prometheus

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(prometheus.missing(), reason="prometheus is not installed"),
]

S, F, E = AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.ERROR
CLOCK = SystemClock()


@pytest.fixture(scope="module")
def server() -> Iterator[prometheus.PrometheusServer]:
    with prometheus.started() as running:
        yield running


def metric(address: str, query: str, **fields: Any) -> Metric:
    timeout = fields.pop("timeout", None)
    prom: dict[str, Any] = {"address": address, "query": query}
    if timeout is not None:
        prom["timeout"] = timeout
    return Metric.model_validate({"name": "m", "provider": {"prometheus": prom}, **fields})


async def run(m: Metric) -> Any:
    return await measure(m, default_providers(), CLOCK)


@pytest.mark.parametrize(
    ("query", "success", "phase", "value"),
    [
        ('demo_ratio{service="api"}', "result[0] >= 0.95", S, "[0.97]"),
        ('demo_ratio{service="web"}', "result[0] >= 0.95", F, "[0.42]"),
        (
            'sum(demo_requests_total{service="api",status!~"5.."})'
            ' / sum(demo_requests_total{service="api"})',
            "result[0] >= 0.95",
            S,
            "[0.95]",
        ),
        ("sort(demo_ratio)", "all(result, {# > 0.4}) && len(result) == 2", S, "[0.42,0.97]"),
        ('scalar(demo_ratio{service="api"})', "result >= 0.95", S, "0.97"),
        ("demo_missing_series", "len(result) == 0 || result[0] >= 0.95", S, "[]"),
        ("demo_missing_series", "len(result) > 0 && result[0] >= 0.95", F, "[]"),
        ('demo_nan{service="api"}', "isNaN(result[0])", S, "[NaN]"),
        ("scalar(vector(0) / 0)", "result >= 0.95", F, "NaN"),
        ("scalar(vector(1) / 0)", "isInf(result)", S, "+Inf"),
    ],
    ids=[
        "vector-pass",
        "vector-fail",
        "seed-query",
        "vector-many",
        "scalar",
        "empty-ok",
        "empty-fail",
        "nan-vector",
        "nan-scalar",
        "inf",
    ],
)
async def test_results(
    server: prometheus.PrometheusServer, query: str, success: str, phase: Any, value: str
) -> None:
    measurement = await run(metric(server.url, query, successCondition=success))
    assert (measurement.phase, measurement.value, measurement.message) == (phase, value, "")
    assert measurement.finished_at is not None


async def test_range_vector_is_an_error(server: prometheus.PrometheusServer) -> None:
    measurement = await run(metric(server.url, "demo_ratio[1m]", successCondition="true"))
    assert measurement.phase is E
    assert "Prometheus metric type not supported: the query returned a matrix" in (
        measurement.message
    )


async def test_bad_query_is_an_error(server: prometheus.PrometheusServer) -> None:
    measurement = await run(metric(server.url, "sum(", successCondition="true"))
    assert measurement.phase is E
    assert measurement.message.startswith("bad_data:")


async def test_condition_error_is_an_error(server: prometheus.PrometheusServer) -> None:
    measurement = await run(
        metric(server.url, "demo_missing_series", successCondition="result[0] > 1")
    )
    assert measurement.phase is E
    assert "index out of range" in measurement.message


@contextlib.contextmanager
def answering(status: int, body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_server_error_is_an_error() -> None:
    with answering(503, b"<html>upstream unavailable</html>") as url:
        measurement = await run(metric(url, "up", successCondition="true"))
    assert measurement.phase is E
    assert "answered 503 without its JSON" in measurement.message


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    srv = await asyncio.start_server(hold, "127.0.0.1", 0, family=socket.AF_INET)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        srv.close()
        await srv.wait_closed()


async def test_timeout_is_an_error() -> None:
    async with silent_server() as url:
        measurement = await run(metric(url, "up", successCondition="true", timeout=1))
    assert measurement.phase is E
    assert "did not answer within 1s" in measurement.message


async def test_unreachable_server_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    measurement = await run(metric(f"http://127.0.0.1:{port}", "up", successCondition="true"))
    assert measurement.phase is E
    assert "cannot query Prometheus" in measurement.message
