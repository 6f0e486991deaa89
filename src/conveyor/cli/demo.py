"""``conveyor demo``: the local runtime shown end to end on this machine.

It makes a git repo of the example app under CONVEYOR_HOME, builds its artifact (tagged with
the commit SHA), deploys three replicas behind a Service on the local runtime, waits until
they are Ready, shows the Service answering, and keeps serving until interrupted. Running it
again reuses what is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import local_target
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.services import pod_is_ready
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import Selector

console = Console()
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NAMESPACE = "demo"


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _app_repo(home: Path) -> Path:
    """The demo's app repo under CONVEYOR_HOME, created from examples/hello-app once."""
    repo = home / "demo" / "hello-app"
    if not (repo / ".git").exists():
        shutil.copytree(EXAMPLES / "hello-app", repo, dirs_exist_ok=True)
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(
            repo,
            "-c",
            "user.name=Conveyor demo",
            "-c",
            "user.email=demo@conveyor.invalid",
            "commit",
            "-q",
            "-m",
            "hello-app v1",
        )
    return repo


def _manifests(image: str) -> list[dict[str, Any]]:
    labels = {"app": "hello"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "hello", "namespace": NAMESPACE},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": labels},
                "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": image,
                                "ports": [{"name": "http", "containerPort": 8080}],
                                "env": [
                                    {
                                        "name": "POD_NAME",
                                        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                    }
                                ],
                                "readinessProbe": {
                                    "httpGet": {"path": "/ready", "port": "http"},
                                    "periodSeconds": 1,
                                },
                                "livenessProbe": {
                                    "httpGet": {"path": "/health", "port": "http"},
                                    "periodSeconds": 5,
                                },
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "hello", "namespace": NAMESPACE},
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    ]


async def _wait_ready(target: LocalTarget, replicas: int) -> None:
    async with asyncio.timeout(120.0):
        while True:
            pods = await target.list(
                Selector(kind="Pod", namespace=NAMESPACE, labels={"app": "hello"})
            )
            if sum(pod_is_ready(p) for p in pods) >= replicas:
                return
            await asyncio.sleep(0.2)


async def _run(serve: bool) -> None:
    settings = Settings.from_env()
    repo = _app_repo(settings.home)
    sha = _git(repo, "rev-parse", "HEAD")
    artifacts = ArtifactStore(settings.artifacts_dir)
    if artifacts.get("hello", sha) is None:
        with console.status(f"Building artifact hello:{sha[:12]} from {repo}"):
            await artifacts.build("hello", source=str(repo), revision=sha)
    console.print(f"Artifact [bold]hello:{sha}[/bold] is in {settings.artifacts_dir}")
    async with local_target(settings) as target:
        for manifest in _manifests(f"hello:{sha}"):
            await target.apply(manifest)
        with console.status("Waiting for 3 Ready replicas"):
            await _wait_ready(target, 3)
        svc = await target.get(ObjectKey("", "Service", NAMESPACE, "hello"))
        ingress = (svc or {}).get("status", {}).get("loadBalancer", {}).get("ingress") or [{}]
        port = (ingress[0].get("ports") or [{}])[0].get("port")
        url = f"http://127.0.0.1:{port}/"
        async with httpx.AsyncClient() as client:
            answers = [(await client.get(url)).json() for _ in range(6)]
        console.print(f"Service [bold]{NAMESPACE}/hello[/bold] serves at [link={url}]{url}[/link]")
        for answer in answers:
            console.print(f"  GET / -> version {answer['version'][:12]} from pod {answer['pod']}")
        if not serve:
            return
        console.print("Serving until interrupted (Ctrl-C).")
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


def run(serve: bool) -> None:
    """Deploy the example app on the local runtime and serve it."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(serve))
