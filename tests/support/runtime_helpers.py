"""Helpers for end-to-end tests of the local runtime: artifacts, manifests, waiting."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

EXAMPLE_APP = Path(__file__).resolve().parents[2] / "examples" / "hello-app"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_app_repo(root: Path, versions: list[str]) -> tuple[Path, list[str]]:
    """A git repo of the example app with one commit per version; returns (repo, SHAs)."""
    repo = root / "hello-app"
    shutil.copytree(EXAMPLE_APP, repo)
    git(repo, "init", "-q", "-b", "main")
    shas = []
    for version in versions:
        (repo / "VERSION").write_text(version + "\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"version {version}")
        shas.append(git(repo, "rev-parse", "HEAD"))
    return repo, shas


def deployment(
    name: str,
    image: str,
    *,
    replicas: int = 1,
    env: list[dict[str, Any]] | None = None,
    probes: dict[str, Any] | None = None,
    strategy: dict[str, Any] | None = None,
    namespace: str = "default",
    **spec_extra: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "web",
        "image": image,
        "command": ["python", "app.py"],
        "ports": [{"containerPort": 8080, "name": "http"}],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            *(env or []),
        ],
    }
    container.update(probes or {})
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
        },
        **spec_extra,
    }
    if strategy:
        spec["strategy"] = strategy
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def service(
    name: str, *, namespace: str = "default", node_port: int | None = None
) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "http", "port": 80, "targetPort": "http"}
    if node_port:
        port["nodePort"] = node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [port]},
    }


READY_PROBE = {
    "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 1},
}


async def wait_for(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, what: str = "condition"
) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def service_port(svc: dict[str, Any]) -> int | None:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ports = ingress[0].get("ports") if ingress else None
    return int(ports[0]["port"]) if ports else None
