"""Objects and waits shared by the Kubernetes target's tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from conveyor.targets.protocol import TRACKING_LABEL


class Sleeps:
    """The target's sleep: records each delay, and lets the loop run without waiting it."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0.01)


def configmap(
    name: str, data: dict[str, str] | None = None, *, app: str = "shop"
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "shop", "labels": {TRACKING_LABEL: app}},
        "data": data or {"k": "v"},
    }


def deployment(name: str, replicas: int = 2, *, app: str = "shop") -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "shop", "labels": {TRACKING_LABEL: app}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "web:v1"}]},
            },
        },
    }


async def until(check: Callable[[], bool], *, what: str, timeout: float = 15.0) -> None:
    """Wait for ``check`` to hold (polling), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
