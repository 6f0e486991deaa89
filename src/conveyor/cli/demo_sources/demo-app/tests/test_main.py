"""demo-app's own tests: what `conveyor ci run` runs (with a coverage gate) before a build."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import main

SHA = "deadbeef" * 5  # 40 hex digits, like a git SHA


def client(**env: str) -> TestClient:
    settings = main.Settings.from_env({"VERSION": SHA, **env})
    return TestClient(main.create_app(settings, rng=random.Random(1)))


def test_root_names_the_version_environment_and_pod() -> None:
    with client(ENVIRONMENT="dev", POD_NAME="demo-app-1", LOG_LEVEL="debug") as http:
        body = http.get("/").json()
    assert (body["version"], body["environment"], body["pod"]) == (SHA, "dev", "demo-app-1")
    assert body["message"] == "Hello from demo-app"


def test_error_rate_one_fails_every_request_but_not_the_probes() -> None:
    with client(ERROR_RATE="1") as http:
        assert {http.get("/").status_code for _ in range(5)} == {500}
        assert http.get("/health").json() == {"status": "ok"}
        assert http.get("/ready").status_code == 200


def test_readiness_fails_once_shutdown_begins() -> None:
    with client() as http:
        http.app.state.lifecycle.begin_shutdown()  # type: ignore[attr-defined]
        reply = http.get("/ready")
    assert (reply.status_code, reply.json()["ready"]) == (503, False)


def test_metrics_count_requests_and_name_the_build() -> None:
    with client(ENVIRONMENT="prod") as http:
        http.get("/")
        text = http.get("/metrics").text
    assert 'handler="/"' in text
    assert f'demo_app_info{{environment="prod",version="{SHA}"}} 1.0' in text


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ERROR_RATE": "2"}, "ERROR_RATE"),
        ({"ERROR_RATE": "lots"}, "ERROR_RATE"),
        ({"SHUTDOWN_DELAY_SECONDS": "-1"}, "SHUTDOWN_DELAY_SECONDS"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
    ids=["rate-too-high", "rate-not-a-number", "negative-delay", "unknown-level"],
)
def test_a_bad_setting_names_itself(env: dict[str, str], named: str) -> None:
    with pytest.raises(main.ConfigError, match=named):
        main.Settings.from_env({"VERSION": SHA, **env})


def test_the_version_comes_from_the_artifact_else_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no checkout around it
    source = tmp_path / "src"
    source.mkdir()
    (tmp_path / "artifact.json").write_text(json.dumps({"revision": SHA}))
    assert main.built_revision(source) == SHA
    (tmp_path / "artifact.json").write_text("not json")
    assert main.built_revision(source) == "unknown"


def test_probes_stay_out_of_the_access_log() -> None:
    quiet = main._QuietProbes()
    args = ("client", "GET", "/ready?probe=1", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, "%s", args, None)
    assert not quiet.filter(record)
    record.args = ("c", "GET", "/", "1.1", 200)
    assert quiet.filter(record)


def test_sigterm_turns_readiness_off_before_the_server_stops() -> None:
    handed: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: handed.append(signum))
    try:
        lifecycle = main.Lifecycle(shutdown_delay=0)
        restore = lifecycle.install(asyncio.new_event_loop())
        os.kill(os.getpid(), signal.SIGTERM)
        assert lifecycle.shutting_down
        assert handed == [signal.SIGTERM]  # handed over to the server's own handler once
        restore()
    finally:
        signal.signal(signal.SIGTERM, previous)
