"""Helpers of the CLI's end-to-end tests: run `conveyor`, the hello app, a load generator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conveyor.artifacts import ArtifactStore
from conveyor.settings import Settings
from support.runtime_helpers import READY_PROBE, deployment, make_app_repo, service
from support.server_helpers import CONVEYOR


def conveyor(
    home: Path, *args: str, input: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real console script with CONVEYOR_HOME=home (it finds the server there)."""
    full_env = {**os.environ, "CONVEYOR_HOME": str(home)}
    full_env.pop("CONVEYOR_SERVER", None)
    full_env.pop("CONVEYOR_AUTH_TOKEN", None)
    full_env.update(env or {})
    return subprocess.run(
        [str(CONVEYOR), *args],
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=180,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def app_json(home: Path, name: str) -> dict[str, Any]:
    return dict(json.loads(ok(conveyor(home, "app", "get", name, "-o", "json"))))


def wait_json(
    home: Path, name: str, check: Callable[[dict[str, Any]], bool], *, what: str, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = app_json(home, name)
        if check(app):
            return app
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; status: {app.get('status')}")


def build_hello(home: Path, root: Path) -> list[str]:
    """hello-app at two commits, built into home's artifact store; returns the two SHAs."""
    repo, shas = make_app_repo(root, ["v1", "v2"])
    store = ArtifactStore(Settings.from_env(home=home).artifacts_dir)

    async def build() -> None:
        for sha in shas:
            await store.build("hello", source=str(repo), revision=sha)

    asyncio.run(build())
    return shas


def web_manifests(sha: str, *, replicas: int = 2) -> list[dict[str, Any]]:
    """hello:<sha> behind a Service; it answers with the SHA (its VERSION)."""
    web = deployment(
        "hello",
        f"hello:{sha}",
        replicas=replicas,
        env=[{"name": "VERSION", "value": sha}],
        probes=READY_PROBE,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        namespace="web",
    )
    return [web, service("hello", namespace="web")]


def version_at(url: str) -> str | None:
    try:
        reply = httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return None
    return str(reply.json()["version"]) if reply.status_code == 200 else None


def wait_version(url: str, version: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = version_at(url)
        if seen == version:
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered {version}; last: {seen}")


@dataclass
class Load:
    """Steady GETs against a URL from a thread, counting answers and failures."""

    url: str
    rate: float = 60.0
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    last: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(10)

    def _run(self) -> None:
        period = 1.0 / self.rate
        with httpx.Client(timeout=5.0) as client:
            deadline = time.monotonic() + 300  # bounded whatever happens
            while not self._stop.is_set() and time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    reply = client.get(self.url)
                    if reply.status_code != 200:
                        self.failures.append(f"HTTP {reply.status_code}: {reply.text[:100]}")
                    else:
                        version = str(reply.json()["version"])
                        self.versions[version] += 1
                        self.last = [*self.last[-19:], version]
                except httpx.HTTPError as err:
                    self.failures.append(f"{type(err).__name__}: {err}")
                time.sleep(max(0.0, period - (time.monotonic() - started)))

    @property
    def total(self) -> int:
        return sum(self.versions.values()) + len(self.failures)

    def wait_steady(self, version: str, timeout: float = 90.0) -> None:
        """Until the last 20 answers were all ``version``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.last) == 20 and set(self.last) == {version}:
                return
            time.sleep(0.1)
        raise AssertionError(f"never steadily {version}; last answers: {self.last}")
