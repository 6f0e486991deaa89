"""The demo's app: the endpoints, the failure switch and the version, in process; SIGTERM live.

The demo and the canary demos lean on exactly these behaviours: ``/`` names the build,
ERROR_RATE makes a share of requests fail, ``/metrics`` counts them by status, and readiness
fails as soon as shutdown begins.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conveyor.cli.demo_setup import demo_sources

pytest.importorskip(
    "prometheus_fastapi_instrumentator",
    reason="demo-app's /metrics needs prometheus-fastapi-instrumentator in the test venv",
)

DEMO_APP = demo_sources() / "demo-app"
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    """The demo app's main.py as a module (it is not a package: uvicorn loads main:app)."""
    spec = importlib.util.spec_from_file_location("demo_app_main", DEMO_APP / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("VERSION", SHA)  # its module-level app would otherwise ask git
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[spec.name]
        raise
    return module


def asgi_client(app: Any) -> httpx.AsyncClient:
    """A client calling ``app`` in process (no lifespan: that runs under uvicorn, below)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo")


def client_for(demo: ModuleType, rng: random.Random | None = None, **env: str) -> httpx.AsyncClient:
    """The app configured by ``env`` (VERSION is SHA unless given), as a client."""
    return asgi_client(demo.create_app(demo.Settings.from_env({"VERSION": SHA, **env}), rng=rng))


@pytest.fixture
async def client(demo: ModuleType) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(demo, ENVIRONMENT="dev", POD_NAME="demo-app-abc12") as client:
        yield client


async def samples(client: httpx.AsyncClient, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The values of metric ``name`` on /metrics, keyed by their label sets."""
    reply = await client.get("/metrics")
    assert reply.status_code == 200
    found = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            if sample.name == name:
                found[frozenset(sample.labels.items())] = sample.value
    return found


@pytest.mark.processes
async def test_root_reports_the_version_environment_and_pod(client: httpx.AsyncClient) -> None:
    reply = await client.get("/")
    assert reply.status_code == 200
    body = reply.json()
    assert body["version"] == SHA
    assert (body["app"], body["environment"], body["pod"]) == ("demo-app", "dev", "demo-app-abc12")


async def test_health_and_ready_answer_while_running(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"ready": True})


async def test_readiness_fails_once_shutdown_begins_but_liveness_does_not(
    demo: ModuleType,
) -> None:
    app = demo.create_app(demo.Settings(version=SHA))
    async with asgi_client(app) as client:
        assert (await client.get("/ready")).status_code == 200
        app.state.lifecycle.begin_shutdown()  # what SIGTERM does first
        reply = await client.get("/ready")
        assert (reply.status_code, reply.json()["ready"]) == (503, False)
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/")).status_code == 200  # requests in reach are still served


@pytest.mark.parametrize(("rate", "status"), [("1", 500), ("1.0", 500), ("0", 200), ("", 200)])
async def test_error_rate_one_fails_every_request_and_zero_none(
    demo: ModuleType, rate: str, status: int
) -> None:
    async with client_for(demo, ERROR_RATE=rate) as client:
        replies = [await client.get("/") for _ in range(20)]
        assert {r.status_code for r in replies} == {status}
        assert all(r.json()["version"] == SHA for r in replies)
        assert (await client.get("/health")).status_code == 200  # only / is affected
        assert (await client.get("/ready")).status_code == 200


async def test_a_partial_error_rate_fails_about_that_share(demo: ModuleType) -> None:
    async with client_for(demo, random.Random(7), ERROR_RATE="0.25") as client:
        statuses = [(await client.get("/")).status_code for _ in range(400)]
    failed = statuses.count(500)
    assert failed + statuses.count(200) == 400
    assert 60 <= failed <= 140  # 100 expected; seeded, so the same count every run


async def test_metrics_count_requests_by_status_and_leave_probes_out(demo: ModuleType) -> None:
    async with client_for(demo, ERROR_RATE="1", ENVIRONMENT="prod") as client:
        await client.get("/")
        await client.get("/")
        await client.get("/health")
        await client.get("/ready")
        requests = await samples(client, "http_requests_total")
        info = await samples(client, "demo_app_info")
        assert await samples(client, "process_start_time_seconds")  # the seeds' process metrics

    assert requests == {
        frozenset({("handler", "/"), ("method", "GET"), ("status", "5xx")}): 2.0,
    }
    assert info == {frozenset({("version", SHA), ("environment", "prod")}): 1.0}


async def test_two_apps_in_one_process_keep_their_own_metrics(demo: ModuleType) -> None:
    async with client_for(demo) as first, client_for(demo) as second:
        await first.get("/")
        key = frozenset({("handler", "/"), ("method", "GET"), ("status", "2xx")})
        assert await samples(first, "http_requests_total") == {key: 1.0}
        assert await samples(second, "http_requests_total") == {}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ERROR_RATE", "lots"),
        ("ERROR_RATE", "1.5"),
        ("ERROR_RATE", "-0.1"),
        ("ERROR_RATE", "nan"),
        ("SHUTDOWN_DELAY_SECONDS", "-1"),
        ("LOG_LEVEL", "verbose"),
    ],
)
def test_a_bad_setting_is_refused_by_name(demo: ModuleType, name: str, value: str) -> None:
    with pytest.raises(demo.ConfigError, match=name):
        demo.Settings.from_env({"VERSION": SHA, name: value})


def test_settings_read_the_environment(demo: ModuleType) -> None:
    settings = demo.Settings.from_env(
        {
            "VERSION": f" {SHA} ",
            "ENVIRONMENT": "staging",
            "ERROR_RATE": "0.05",
            "LOG_LEVEL": "ERROR",
            "SHUTDOWN_DELAY_SECONDS": "2",
            "POD_NAME": "demo-app-x",
        }
    )
    assert settings == demo.Settings(
        version=SHA,
        environment="staging",
        pod="demo-app-x",
        error_rate=0.05,
        log_level="error",
        shutdown_delay=2.0,
    )


def test_the_version_is_the_artifacts_revision(demo: ModuleType, tmp_path: Path) -> None:
    """In an artifact, main.py lives in ``<artifact>/src`` beside ``artifact.json``."""
    src = tmp_path / "demo-app" / SHA / "src"
    src.mkdir(parents=True)
    (src.parent / "artifact.json").write_text(json.dumps({"revision": SHA, "tag": SHA}))
    assert demo.built_revision(src) == SHA
    assert demo.Settings.from_env({}, here=src).version == SHA
    assert demo.Settings.from_env({"VERSION": "v2"}, here=src).version == "v2"


@pytest.mark.processes
def test_the_version_of_a_checkout_is_its_head(
    demo: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repo = tmp_path / "checkout"
    repo.mkdir()
    assert demo.built_revision(repo) == "unknown"  # neither an artifact nor a git checkout

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    git("init", "-q")
    (repo / "main.py").write_text("")
    git("add", "-A")
    git("commit", "-q", "-m", "one")
    assert demo.built_revision(repo) == git("rev-parse", "HEAD")


@pytest.mark.parametrize(
    ("path", "logged"),
    [("/", True), ("/?q=1", True), ("/health", False), ("/ready", False), ("/metrics?x", False)],
)
def test_the_access_log_leaves_probes_and_scrapes_out(
    demo: ModuleType, path: str, logged: bool
) -> None:
    args = ("127.0.0.1:5000", "GET", path, "1.1", 200)
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None
    )
    assert demo._QuietProbes().filter(record) is logged


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(url: str, wanted: int, *, timeout: float = 30.0) -> httpx.Response:
    """GET ``url`` until it answers ``wanted``; fail with the last answer."""
    deadline = time.monotonic() + timeout
    last: httpx.Response | httpx.HTTPError | None = None
    while time.monotonic() < deadline:
        try:
            reply = httpx.get(url, timeout=2.0)
        except httpx.HTTPError as err:
            last = err
        else:
            if reply.status_code == wanted:
                return reply
            last = reply
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered {wanted}; last: {last!r}")


@pytest.mark.slow
def test_sigterm_turns_readiness_off_serves_on_then_exits_gracefully() -> None:
    """Under real uvicorn: not ready but serving during the delay; a second SIGTERM ends it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "VERSION": SHA, "SHUTDOWN_DELAY_SECONDS": "300", "PORT": str(port)}
    command = [sys.executable, "-m", "uvicorn", "main:app", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=DEMO_APP,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert poll(f"{base}/ready", 200).json() == {"ready": True}
        assert httpx.get(f"{base}/").json()["version"] == SHA

        proc.send_signal(signal.SIGTERM)
        assert poll(f"{base}/ready", 503).json()["reason"] == "shutting down"
        assert httpx.get(f"{base}/").status_code == 200  # still serving within the delay
        assert proc.poll() is None

        proc.send_signal(signal.SIGTERM)  # a second one skips the rest of the delay
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # uvicorn re-raises the signal it handled once it has shut down cleanly.
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "shutting down: readiness now fails" in output
    assert "Application shutdown complete" in output
