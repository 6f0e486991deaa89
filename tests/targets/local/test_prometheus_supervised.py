"""The Prometheus Conveyor runs (CONVEYOR_PROMETHEUS=auto), with Debian's real binary: it
scrapes a Pod of the local runtime through the file_sd targets, the seeds' success-rate query
answers through the prometheus provider at ``http://prometheus:9090``, it scrapes Conveyor's
own /metrics, and it comes back when killed. Without it, analysis says what to do."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from conveyor.analysis.providers import default_providers, measure
from conveyor.bootstrap import supervised_prometheus
from conveyor.clock import SystemClock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import AnalysisPhase
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.kubelet import KubeletOptions, ResolvedImage
from conveyor.targets.local.monitoring.supervisor import write_self_target
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from support import prometheus
from support.runtime_helpers import READY_PROBE, deployment, service, service_port, wait_for
from support.server_helpers import ServerProcess

pytestmark = pytest.mark.slow

needs_prometheus = pytest.mark.skipif(prometheus.missing(), reason="prometheus is not installed")

APP = """\
import itertools, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

REGISTRY = CollectorRegistry()
REQUESTS = Counter("http_requests", "Requests", ["handler", "method", "status"],
                   registry=REGISTRY)
SERIAL = itertools.count(1)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        kind = "text/plain"
        if self.path == "/metrics":
            status, body, kind = 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST
        elif self.path == "/ready":
            status, body = 200, b"ready"
        else:  # one request in 20 fails
            status = 500 if next(SERIAL) % 20 == 0 else 200
            REQUESTS.labels("/", "GET", str(status)).inc()
            body = b"hello"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""

SEEDS_QUERY = (
    'sum(rate(http_requests_total{service="x",status!~"5.."}[2m])) /\n'
    'sum(rate(http_requests_total{service="x"}[2m]))\n'
)


@dataclass
class Images:
    """The artifact store's seam: one image, the metrics app, run by this venv's python."""

    known: dict[str, ResolvedImage] = field(default_factory=dict)

    def resolve(self, image: str) -> ResolvedImage | None:
        return self.known.get(image)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    app = tmp_path / "metrics-app"
    app.mkdir()
    (app / "app.py").write_text(APP)
    image = ResolvedImage(app, (str(Path(sys.executable).parent),), None)
    running = LocalRuntime(
        runtime_dir=tmp_path / "home" / "runtime",
        journal=MemoryJournal(),
        images=Images({"metrics-app:v1": image}),
        kubelet_options=KubeletOptions(backoff_base=0.5, backoff_cap=2.0),
    )
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def settings(tmp_path: Path, mode: str = "auto") -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url="sqlite+aiosqlite://",
        prometheus=mode,
        prometheus_scrape_interval=1.0,
    )


def seeds_metric(address: str = "http://prometheus:9090") -> Metric:
    return Metric.model_validate(
        {
            "name": "success-rate",
            "successCondition": "result[0] >= 0.9",
            "provider": {"prometheus": {"address": address, "query": SEEDS_QUERY}},
        }
    )


async def _traffic(port: int) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        while True:
            try:
                await client.get(f"http://127.0.0.1:{port}/")
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.02)


@needs_prometheus
async def test_auto_prometheus_scrapes_a_pod_and_answers_the_seeds_query(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    target = LocalTarget(runtime)
    async with supervised_prometheus(settings(tmp_path), runtime) as supervisor:
        assert supervisor is not None
        await target.apply(deployment("x", "metrics-app:v1", probes=READY_PROBE))
        await target.apply(service("x"))
        svc_key = ObjectKey("", "Service", "default", "x")

        async def port() -> int | None:
            svc = runtime.store.get(svc_key)
            return service_port(svc) if svc else None

        traffic = asyncio.create_task(_traffic(await wait_for(port, what="Service x's port")))
        providers = default_providers(runtime.resolve_url)
        clock = SystemClock()

        async def answered() -> Any:
            taken = await measure(seeds_metric(), providers, clock)
            return taken if taken.phase is not AnalysisPhase.ERROR and taken.value != "[]" else None

        try:
            taken = await wait_for(answered, timeout=120, what="the seeds' query to answer")
        finally:
            traffic.cancel()
        # The Service by its cluster name, through the web provider: the local proxy answers.
        web = Metric.model_validate(
            {
                "name": "ready",
                "successCondition": 'result == "ready"',
                "provider": {"web": {"url": "http://x.default.svc.cluster.local/ready"}},
            }
        )
        through_service = await measure(web, providers, clock)
    assert through_service.phase is AnalysisPhase.SUCCESSFUL, through_service
    rate = float(str(taken.value).strip("[]"))
    assert 0.9 <= rate < 1.0, taken  # one request in 20 fails: 5xx are left out of the top
    assert taken.phase is AnalysisPhase.SUCCESSFUL


@needs_prometheus
async def test_conveyors_own_metrics_are_scraped_and_a_killed_prometheus_comes_back(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    own = ThreadingHTTPServer(("127.0.0.1", 0), _OwnMetrics)
    threading.Thread(target=own.serve_forever, daemon=True).start()
    try:
        async with supervised_prometheus(settings(tmp_path), runtime) as supervisor:
            assert supervisor is not None
            write_self_target(runtime.prometheus_targets_dir, f"http://127.0.0.1:{own.server_port}")
            query = 'conveyor_test_up{job="conveyor",service="conveyor"}'
            assert await _query(runtime, query) == "1"
            first = supervisor.pid
            assert first is not None
            os.kill(first, signal.SIGKILL)

            async def restarted() -> bool:
                return supervisor.pid not in (None, first) and await supervisor.wait_ready(1)

            await wait_for(restarted, timeout=60, what="a new Prometheus process")
            assert await _query(runtime, query) == "1"
        assert supervisor.pid is None, "stopped with the runtime's supervisor"
    finally:
        own.shutdown()
        own.server_close()


async def _query(runtime: LocalRuntime, query: str) -> str:
    url = runtime.resolve_url("http://prometheus:9090") + "/api/v1/query"

    async def value() -> str | None:
        try:
            async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
                body = (await client.get(url, params={"query": query})).json()
        except (httpx.HTTPError, ValueError):
            return None
        result = body.get("data", {}).get("result") or []
        return str(result[0]["value"][1]) if result else None

    return str(await wait_for(value, timeout=90, what=f"{query} in Prometheus"))


class _OwnMetrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"# TYPE conveyor_test_up gauge\nconveyor_test_up 1\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@needs_prometheus
async def test_conveyor_server_runs_prometheus_scraping_itself_and_stops_it(
    tmp_path: Path,
) -> None:
    env = {"CONVEYOR_PROMETHEUS": "auto", "CONVEYOR_PROMETHEUS_SCRAPE_INTERVAL": "1"}
    with ServerProcess(tmp_path / "home", "--poll-interval", "300", env=env) as server:
        assert server.proc is not None
        parent = psutil.Process(server.proc.pid)

        async def child() -> psutil.Process | None:
            found = [p for p in parent.children() if p.name() == "prometheus"]
            return found[0] if found else None

        prom = await wait_for(child, timeout=60, what="a prometheus child of the server")
        listen = next(a for a in prom.cmdline() if a.startswith("--web.listen-address="))
        url = "http://" + listen.split("=", 1)[1] + "/api/v1/query"

        async def own_metrics_scraped() -> bool:
            try:
                async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
                    query = {"query": 'up{job="conveyor"} == 1'}
                    body = (await client.get(url, params=query)).json()
            except (httpx.HTTPError, ValueError):
                return False
            return bool(body.get("data", {}).get("result"))

        await wait_for(own_metrics_scraped, timeout=90, what="Conveyor's /metrics scraped")
        assert server.stop() in (0, -15)  # SIGTERM: graceful
    assert not prom.is_running(), "Prometheus outlived the server"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("auto", "apt-get install prometheus"),  # the binary is missing from PATH below
        ("off", "CONVEYOR_PROMETHEUS=off"),
    ],
)
async def test_without_prometheus_analysis_says_what_to_do(
    mode: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    idle = LocalRuntime(runtime_dir=tmp_path / "rt", journal=MemoryJournal(), images=Images())
    async with supervised_prometheus(settings(tmp_path, mode), idle) as supervisor:
        assert supervisor is None
        taken = await measure(seeds_metric(), default_providers(idle.resolve_url), SystemClock())
    assert taken.phase is AnalysisPhase.ERROR
    assert message in (taken.message or "")


async def test_a_configured_url_is_where_the_seeds_address_goes(tmp_path: Path) -> None:
    idle = LocalRuntime(runtime_dir=tmp_path / "rt", journal=MemoryJournal(), images=Images())
    async with supervised_prometheus(settings(tmp_path, "http://10.1.2.3:9091"), idle):
        assert idle.resolve_url("http://prometheus:9090/") == "http://10.1.2.3:9091/"
