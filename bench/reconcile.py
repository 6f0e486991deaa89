"""Benchmark of the GitOps engine on the local target.

Prints, for 100 and 1,000 apps of 10 objects each (4 ConfigMaps, 5 Secrets and one
Deployment scaled to 0, so that the figure measures the engine, not thousands of processes),
all apps in one config repo:
  - cold: from registering all the apps to all Synced (every app synced once);
  - warm: one full reconcile pass with nothing changed (what every poll does);
  - the process's peak memory (max RSS);
and, for one app whose artifact is already built, the time from a commit plus a refresh to
the new version serving through its Service; and, end to end through `conveyor server`, the
time from a `git push` of a tag change (with a signed GitHub webhook, as a forge sends it) to
the new version serving.

Each scenario runs in its own process, so that memory figures do not mix.

    .venv/bin/python bench/reconcile.py [--apps 100 1000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conveyor.artifacts import ArtifactStore  # noqa: E402
from conveyor.bootstrap import engine, local_target  # noqa: E402
from conveyor.engine.controller import Controller, ControllerOptions  # noqa: E402
from conveyor.engine.events import AppUpdated, EngineEvent  # noqa: E402
from conveyor.logging import configure  # noqa: E402
from conveyor.model.objects import ObjectKey  # noqa: E402
from conveyor.settings import Settings  # noqa: E402
from conveyor.targets.local.kubelet import KubeletOptions  # noqa: E402
from support.runtime_helpers import (  # noqa: E402
    READY_PROBE,
    deployment,
    make_app_repo,
    service,
    service_port,
)

TARGETS = {"cold_1000": 60.0, "warm_1000": 5.0, "rss_mb": 400.0, "commit_to_serving": 5.0}
WEBHOOK_SECRET = "bench-secret"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def app_objects(n: int) -> list[dict[str, Any]]:
    """Ten objects: 4 ConfigMaps, 5 Secrets, 1 Deployment with 0 replicas."""
    objects: list[dict[str, Any]] = []
    for i in range(4):
        data = {"app": f"app-{n}", "index": str(i), "setting": "x" * 64}
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"config-{i}"}, "data": data})  # fmt: skip
    for i in range(5):
        objects.append({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": f"secret-{i}"},
                        "stringData": {"password": f"s3cret-{n}-{i}"}})  # fmt: skip
    objects.append(deployment("web", "hello:v1", replicas=0, namespace=f"app-{n}"))
    return objects


def application(name: str, repo: Path, path: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {
            "project": "default",
            "source": {"repoURL": f"file://{repo}", "targetRevision": "main", "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def synced(app: dict[str, Any]) -> bool:
    """Synced, with a Succeeded sync."""
    status = app.get("status") or {}
    if status.get("sync", {}).get("status") != "Synced":
        return False
    return (status.get("operationState") or {}).get("phase") == "Succeeded"


def all_synced(controller: Controller) -> bool:
    return all(synced(app) for app in controller.applications())


class UntilAllSynced:
    """Done once every app named is Synced with a Succeeded sync, told by the engine's
    events (each change looks at its own app only): polling every app's JSON 20 times a
    second cost the engine ~7% of the cold phase at 300 apps, more at 1,000."""

    def __init__(self, controller: Controller, names: list[str]) -> None:
        self.controller = controller
        self.pending = set(names)
        self.done = asyncio.Event()
        controller.add_event_listener(self)

    def __call__(self, event: EngineEvent) -> None:
        if not isinstance(event, AppUpdated) or event.app not in self.pending:
            return
        if synced(self.controller.application(event.app)):
            self.pending.discard(event.app)
            if not self.pending:
                self.done.set()

    async def wait(self) -> None:
        for name in list(self.pending):  # in case some were done before the first event
            self(AppUpdated(name, datetime.now(UTC)))
        await self.done.wait()


async def scale_scenario(apps: int, workdir: Path) -> dict[str, float]:
    repo = workdir / "config"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for n in range(apps):
        (repo / f"app-{n}").mkdir()
        for obj in app_objects(n):
            name = f"{obj['kind'].lower()}-{obj['metadata']['name']}.yaml"
            (repo / f"app-{n}" / name).write_text(yaml.safe_dump(obj))
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-q", "-m", "apps")
    settings = Settings.from_env(home=workdir / "home")
    options = ControllerOptions(poll_interval=3600.0, workers=8)
    async with (
        local_target(settings) as target,
        engine(settings, target, options=options) as controller,
    ):
        until = UntilAllSynced(controller, [f"app-{n}" for n in range(apps)])
        started = time.perf_counter()
        for n in range(apps):
            await controller.apply_application(
                application(f"app-{n}", repo, f"app-{n}", f"app-{n}")
            )
        await until.wait()
        cold = time.perf_counter() - started
        assert all_synced(controller)
        await controller.settle()
        started = time.perf_counter()
        controller.requeue_all()
        await controller.settle()
        warm = time.perf_counter() - started
        objects = len(await target.list())
    return {"apps": apps, "cold_s": cold, "warm_s": warm, "rss_mb": peak_rss_mb(),
            "live_objects": objects}  # fmt: skip


async def serving_scenario(workdir: Path) -> dict[str, float]:
    app_repo, shas = make_app_repo(workdir, ["v1", "v2"])
    settings = Settings.from_env(home=workdir / "home")
    artifacts = ArtifactStore(settings.artifacts_dir)
    for version, sha in zip(["v1", "v2"], shas, strict=True):
        await artifacts.build("hello", source=str(app_repo), revision=sha, tag=version)
    repo = workdir / "config"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")

    def write(image: str) -> None:
        docs = [deployment("hello", image, replicas=2, probes=READY_PROBE, namespace="demo"),
                service("hello", namespace="demo")]  # fmt: skip
        (repo / "app").mkdir(exist_ok=True)
        (repo / "app" / "web.yaml").write_text(yaml.safe_dump_all(docs))
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-q", "-m", image)

    write("hello:v1")
    kubelet = KubeletOptions()
    options = ControllerOptions(poll_interval=3600.0)
    async with (
        local_target(settings, kubelet, artifacts) as target,
        engine(settings, target, options=options) as controller,
        httpx.AsyncClient() as client,
    ):
        await controller.apply_application(application("hello", repo, "app", "demo"))

        async def version() -> str | None:
            svc = await target.get(ObjectKey("", "Service", "demo", "hello"))
            port = service_port(svc) if svc else None
            if port is None:
                return None
            try:
                reply = await client.get(f"http://127.0.0.1:{port}/", timeout=1.0)
                return str(reply.json()["version"])
            except (httpx.HTTPError, ValueError):
                return None

        while await version() != "v1":
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        write("hello:v2")
        controller.refresh("hello")
        while await version() != "v2":
            await asyncio.sleep(0.02)
        serving = time.perf_counter() - started
    return {"commit_to_serving_s": serving}


def webhook_scenario(workdir: Path) -> dict[str, float]:
    """``git push`` -> signed webhook -> the server syncs -> the Service serves the new tag."""
    import hashlib
    import hmac
    import os
    import socket

    home = workdir / "home"
    settings = Settings.from_env(home=home)
    app_repo, shas = make_app_repo(workdir, ["v1", "v2"])
    artifacts = ArtifactStore(settings.artifacts_dir)

    async def build() -> None:
        for version, sha in zip(["v1", "v2"], shas, strict=True):
            await artifacts.build("hello", source=str(app_repo), revision=sha, tag=version)

    asyncio.run(build())
    origin = workdir / "config.git"  # the "forge": a bare repo pushed to
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    clone = workdir / "config"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True,
                   capture_output=True)  # fmt: skip

    def push(image: str) -> None:
        docs = [deployment("hello", image, replicas=2, probes=READY_PROBE, namespace="demo"),
                service("hello", namespace="demo")]  # fmt: skip
        (clone / "app").mkdir(exist_ok=True)
        (clone / "app" / "web.yaml").write_text(yaml.safe_dump_all(docs))
        git(clone, "add", "-A")
        git(clone, "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-q", "-m", image)
        git(clone, "push", "-q", "origin", "HEAD:main")

    push("hello:v1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CONVEYOR_HOME": str(home), "CONVEYOR_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "CONVEYOR_LOG_LEVEL": "WARNING"}  # fmt: skip
    conveyor = str(Path(sys.executable).with_name("conveyor"))
    server = subprocess.Popen(
        [conveyor, "server", "--port", str(port), "--poll-interval", "3600"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=5.0) as client:
            for _ in range(300):
                try:
                    if client.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            token = (home / "admin.token").read_text().strip()
            auth = {"Authorization": f"Bearer {token}"}
            manifest = application("hello", origin, "app", "demo")
            client.post(
                f"{url}/api/v1/applications", json=manifest, headers=auth
            ).raise_for_status()

            def version() -> str | None:
                app = client.get(f"{url}/api/v1/applications/hello", headers=auth).json()
                urls = ((app.get("status") or {}).get("summary") or {}).get("externalURLs") or []
                if not urls:
                    return None
                try:
                    return str(client.get(urls[0] + "/", timeout=1.0).json()["version"])
                except (httpx.HTTPError, ValueError, KeyError):
                    return None

            while version() != "v1":
                time.sleep(0.1)
            started = time.perf_counter()
            push("hello:v2")
            repository = {"clone_url": f"file://{origin}", "html_url": f"file://{origin}"}
            body = json.dumps({"ref": "refs/heads/main", "repository": repository}).encode()
            signature = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            client.post(
                f"{url}/api/v1/webhook",
                content=body,
                headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={signature}",
                         "Content-Type": "application/json"},
            ).raise_for_status()  # fmt: skip
            while version() != "v2":
                time.sleep(0.02)
            return {"push_to_serving_s": time.perf_counter() - started}
    finally:
        server.terminate()
        server.wait(timeout=60)


def run_child(args: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--apps", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--scenario", choices=["scale", "serving", "webhook"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    configure("WARNING")
    if args.scenario:
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
            if args.scenario == "scale":
                result = asyncio.run(scale_scenario(args.apps[0], Path(tmp)))
            elif args.scenario == "serving":
                result = asyncio.run(serving_scenario(Path(tmp)))
            else:
                result = webhook_scenario(Path(tmp))
        print(json.dumps(result))
        return
    results = [run_child(["--scenario", "scale", "--apps", str(n)]) for n in args.apps]
    serving = run_child(["--scenario", "serving"])
    serving.update(run_child(["--scenario", "webhook"]))
    if args.json:
        print(json.dumps({"scale": results, **serving}))
        return
    print(f"{'apps':>6} {'objects':>8} {'cold (s)':>9} {'warm pass (s)':>14} {'peak RSS (MB)':>14}")
    for r in results:
        print(f"{r['apps']:>6} {r['live_objects']:>8} {r['cold_s']:>9.2f} {r['warm_s']:>14.3f}"
              f" {r['rss_mb']:>14.0f}")  # fmt: skip
    print(f"commit + refresh -> new version serving: {serving['commit_to_serving_s']:.2f} s")
    print(f"git push + signed webhook -> new version serving (through `conveyor server`): "
          f"{serving['push_to_serving_s']:.2f} s")  # fmt: skip
    print(f"targets: cold 1,000 < {TARGETS['cold_1000']:.0f} s, warm 1,000 < "
          f"{TARGETS['warm_1000']:.0f} s, RSS < {TARGETS['rss_mb']:.0f} MB, commit to serving "
          f"< {TARGETS['commit_to_serving']:.0f} s, push to serving < 5 s")  # fmt: skip


if __name__ == "__main__":
    main()
