"""Shared pieces of the kubelet tests: a tiny HTTP server workload, stand-ins for the artifact
store and the object store, a recorder of statuses and events, and Pod builders.

It holds no tests; other test modules import it by name (pytest puts this directory on
sys.path, as the test directories have no __init__.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conveyor.clock import SystemClock
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.kubelet import Kubelet, KubeletOptions, ResolvedImage

FAST = KubeletOptions(
    backoff_base=0.2,
    backoff_cap=1.0,
    backoff_reset_after=60.0,
    image_retry_base=0.2,
    config_retry_period=0.1,
    shutdown_grace=1.0,
)

SERVER = r"""
import http.server, json, os, signal, sys, threading

if os.environ.get("IGNORE_TERM"):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.environ.get("PID_FILE"):
    with open(os.environ["PID_FILE"], "w") as f:
        f.write(str(os.getpid()))
healthy_left = int(os.environ.get("HEALTH_OK_COUNT", "1000000"))
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global healthy_left
        code, body = 200, b"hello from " + os.environ.get("HOSTNAME", "?").encode()
        if self.path == "/env":
            body = json.dumps(dict(os.environ)).encode()
        elif self.path == "/cwd":
            body = os.getcwd().encode()
        elif self.path == "/health":
            with lock:
                healthy_left -= 1
                code = 200 if healthy_left >= 0 else 500
        elif self.path == "/ready":
            code = 200 if os.path.exists(os.environ.get("READY_FILE", "/nonexistent")) else 503
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

port = int(os.environ["PORT"])
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"listening on {port}", flush=True)
server.serve_forever()
"""


async def fetch(port: int, path: str = "/", *, timeout: float = 15.0) -> httpx.Response:
    """GET from the workload on ``port``, retrying while it is not listening yet.

    A container without a readiness probe is Ready as soon as it runs (as in Kubernetes),
    which can be before its server has bound the port.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        while True:
            try:
                return await client.get(f"http://127.0.0.1:{port}{path}")
            except httpx.TransportError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)


def write_server(tmp_path: Path) -> Path:
    """The server workload, as a script in ``tmp_path``."""
    path = tmp_path / "server.py"
    path.write_text(SERVER)
    return path


@dataclass
class Images:
    """The artifact store stand-in: images that resolve, changeable during a test."""

    known: dict[str, ResolvedImage] = field(default_factory=dict)

    def resolve(self, image: str) -> ResolvedImage | None:
        return self.known.get(image)


@dataclass
class Lookup:
    """The object store stand-in: ConfigMaps and Secrets by key."""

    objects: dict[ObjectKey, Object] = field(default_factory=dict)

    def get(self, key: ObjectKey) -> Object | None:
        return self.objects.get(key)

    def add_config_map(self, name: str, data: dict[str, str], namespace: str = "default") -> None:
        self.objects[ObjectKey("", "ConfigMap", namespace, name)] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace},
            "data": data,
        }

    def add_secret(self, name: str, data: dict[str, str], namespace: str = "default") -> None:
        self.objects[ObjectKey("", "Secret", namespace, name)] = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }


@dataclass
class Recorder:
    """Every status and event the kubelet reports, with a way to wait for one."""

    statuses: list[tuple[ObjectKey, dict[str, Any]]] = field(default_factory=list)
    events: list[tuple[ObjectKey, str, str, str]] = field(default_factory=list)

    def on_status(self, key: ObjectKey, status: dict[str, Any]) -> None:
        self.statuses.append((key, status))

    def on_event(self, key: ObjectKey, reason: str, message: str, kind: str) -> None:
        self.events.append((key, reason, message, kind))

    def latest(self, key: ObjectKey) -> dict[str, Any]:
        return next(s for k, s in reversed(self.statuses) if k == key)

    def history(self, key: ObjectKey) -> list[dict[str, Any]]:
        return [s for k, s in self.statuses if k == key]

    def reasons(self, key: ObjectKey) -> list[str]:
        return [reason for k, reason, _, _ in self.events if k == key]

    async def until(
        self, check: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition"
    ) -> Any:
        """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = check()
            if result:
                return result
            if asyncio.get_running_loop().time() > deadline:
                last = self.statuses[-1][1] if self.statuses else None
                raise AssertionError(f"timed out waiting for {what}; last status: {last}")
            await asyncio.sleep(0.02)

    async def status_where(
        self, key: ObjectKey, check: Callable[[dict[str, Any]], bool], what: str = "status"
    ) -> dict[str, Any]:
        """Wait for the latest status of ``key`` to satisfy ``check``."""

        def latest_ok() -> dict[str, Any] | None:
            if not any(k == key for k, _ in self.statuses):
                return None
            status = self.latest(key)
            return status if check(status) else None

        result: dict[str, Any] = await self.until(latest_ok, what=what)
        return result


def container_state(status: dict[str, Any], index: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = status["containerStatuses"][index]["state"]
    return state


def condition(status: dict[str, Any], kind: str) -> str:
    return next(c["status"] for c in status["conditions"] if c["type"] == kind)


def is_running_ready(status: dict[str, Any]) -> bool:
    return status["phase"] == "Running" and condition(status, "Ready") == "True"


def make_pod(
    name: str, containers: list[dict[str, Any]], namespace: str = "default", **spec: Any
) -> Object:
    """A Pod with a fresh uid."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "labels": {"app": name},
        },
        "spec": {"containers": containers, **spec},
    }


def python_container(
    name: str, script: Path | str, *, env: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    """A container running ``script`` (a path, or code for ``-c``) with this Python."""
    command = (
        [sys.executable, str(script)]
        if isinstance(script, Path)
        else [sys.executable, "-c", script]
    )
    container: dict[str, Any] = {"name": name, "image": "demo:1", "command": command}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    container.update(extra)
    return container


def key_of(pod: Object) -> ObjectKey:
    return ObjectKey.of(pod)


@contextlib.asynccontextmanager
async def running_kubelet(
    tmp_path: Path,
    *,
    images: Images | None = None,
    lookup: Lookup | None = None,
    options: KubeletOptions = FAST,
) -> AsyncIterator[tuple[Kubelet, Recorder]]:
    """A Kubelet whose image ``demo:1`` runs in ``tmp_path``; shut down afterwards."""
    if images is None:
        images = Images({"demo:1": ResolvedImage(tmp_path, (), None)})
    recorder = Recorder()
    kubelet = Kubelet(
        runtime_dir=tmp_path / "runtime",
        images=images,
        lookup=lookup or Lookup(),
        clock=SystemClock(),
        on_status=recorder.on_status,
        on_event=recorder.on_event,
        options=options,
    )
    try:
        yield kubelet, recorder
    finally:
        await kubelet.shutdown()
