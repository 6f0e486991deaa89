"""A container's probes while one instance runs: startup first, then liveness and readiness.

The runner owns the container; this module owns what its probes decide. Startup must pass
before liveness and readiness begin; a startup or liveness failure past its threshold asks
the runner to kill the instance (which restarts it per restartPolicy); readiness flips the
container's ``ready``. Every failed probe is an ``Unhealthy`` event, as the kubelet says it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.targets.local.kubelet.probes import (
    ProbeSpec,
    ProbeTarget,
    UnsupportedProbe,
    probe_loop,
)
from conveyor.targets.local.kubelet.status import ContainerStatus

KINDS = ("startup", "liveness", "readiness")


def parse_probes(
    spec: Mapping[str, Any], *, init: bool
) -> tuple[dict[str, ProbeSpec | None], list[str]]:
    """The container's probes by kind (none for an init container), and those ignored: why."""
    probes: dict[str, ProbeSpec | None] = {}
    problems: list[str] = []
    for kind in KINDS:
        try:
            probes[kind] = None if init else ProbeSpec.parse(kind.title(), spec.get(f"{kind}Probe"))
        except UnsupportedProbe as exc:
            probes[kind] = None
            problems.append(str(exc))
    return probes, problems


@dataclass(frozen=True)
class ProbeHooks:
    """What the probes act on: the runner's status and its callbacks."""

    status: ContainerStatus
    changed: Callable[[], None]
    """The container status changed: report it."""
    unhealthy: Callable[[ProbeSpec, str], None]
    """A probe failed (the message says how): an Unhealthy event."""
    kill: Callable[[ProbeSpec], None]
    """A startup or liveness probe failed for good: kill the instance."""


async def supervise(
    probes: Mapping[str, ProbeSpec | None], target: ProbeTarget, hooks: ProbeHooks
) -> None:
    """Run the probes of one instance until it ends (the caller cancels this task)."""
    status = hooks.status
    startup = probes.get("startup")
    if startup is not None:
        failures = 0

        def on_startup(ok: bool, message: str, _: bool | None) -> bool:
            nonlocal failures
            if ok:
                status.started = True
                return False
            failures += 1
            hooks.unhealthy(startup, message)
            if failures >= startup.failure_threshold:
                hooks.kill(startup)
                return False
            return True

        await probe_loop(startup, target, initial=False, on_result=on_startup)
        if not status.started:
            return
        status.ready = probes.get("readiness") is None
        hooks.changed()
    loops = []
    liveness, readiness = probes.get("liveness"), probes.get("readiness")
    if liveness is not None:

        def on_liveness(ok: bool, message: str, flipped: bool | None) -> bool:
            if not ok:
                hooks.unhealthy(liveness, message)
            if flipped is False:
                hooks.kill(liveness)
                return False
            return True

        loops.append(probe_loop(liveness, target, initial=True, on_result=on_liveness))
    if readiness is not None:

        def on_readiness(ok: bool, message: str, flipped: bool | None) -> bool:
            if not ok:
                hooks.unhealthy(readiness, message)
            if flipped is not None:
                status.ready = flipped
                hooks.changed()
            return True

        loops.append(probe_loop(readiness, target, initial=False, on_result=on_readiness))
    if loops:
        await asyncio.gather(*loops)
