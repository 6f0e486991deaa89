"""One Pod's life on this machine: init containers in order, then the containers together.

The worker owns the Pod's container runners, turns their states into the Pod status (phase,
conditions, containerStatuses) and reports it only when it changed. It stops the Pod on
request (deletion) or on Conveyor's shutdown; on shutdown it stays quiet, because the
stored Pod must not look finished: a restarted Conveyor runs it again.

A Pod stored as Succeeded or Failed is not run again when Conveyor restarts (a completed Job
must not repeat); its logs stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.clock import Clock, rfc3339
from conveyor.logging import get_logger
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.kubelet.api import ImageResolver, KubeletOptions, ObjectLookup
from conveyor.targets.local.kubelet.context import PodContext
from conveyor.targets.local.kubelet.env import NodeCapacity
from conveyor.targets.local.kubelet.failures import log_failure
from conveyor.targets.local.kubelet.hostports import ContainerPorts, HostPortBook
from conveyor.targets.local.kubelet.runner import ContainerRunner
from conveyor.targets.local.kubelet.status import (
    ConditionTracker,
    Terminated,
    compute_phase,
    pod_status,
)

DEFAULT_GRACE = 30.0
TERMINAL_PHASES = ("Succeeded", "Failed")


class PodWorker:
    """Runs one Pod and reports its status."""

    def __init__(
        self,
        pod: Object,
        *,
        runtime_dir: Path,
        images: ImageResolver,
        lookup: ObjectLookup,
        clock: Clock,
        options: KubeletOptions,
        node: NodeCapacity,
        ports: HostPortBook,
        on_status: Callable[[ObjectKey, dict[str, Any]], None],
        on_event: Callable[[ObjectKey, str, str, str], None],
    ) -> None:
        self.key = ObjectKey.of(pod)
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        stored = pod.get("status") or {}
        self.uid = str(meta.get("uid") or "")
        self._clock = clock
        self._on_status = on_status
        self._on_event = on_event
        self._book = ports
        self._log = get_logger(pod=f"{self.key.namespace}/{self.key.name}")
        grace = spec.get("terminationGracePeriodSeconds")
        self.termination_grace = float(grace) if grace is not None else DEFAULT_GRACE
        self.restart_policy = str(spec.get("restartPolicy") or "Always")
        self.finished_on_arrival = stored.get("phase") in TERMINAL_PHASES
        self.quiet = False
        self.terminated = False
        self.initialized = not spec.get("initContainers")
        self.init_failed = False
        self._conditions = ConditionTracker(lambda: rfc3339(clock.now()))
        self._start_time = str(stored.get("startTime") or rfc3339(clock.now()))
        self._last: dict[str, Any] | None = (
            copy.deepcopy(stored) if self.finished_on_arrival else None
        )
        self._task: asyncio.Task[None] | None = None
        self._ports_released = False
        ctx = PodContext(
            key=self.key,
            pod=pod,
            images=images,
            lookup=lookup,
            clock=clock,
            options=options,
            log_dir=runtime_dir / "pods" / self.key.namespace / self.key.name,
            restart_policy=self.restart_policy,
            termination_grace=self.termination_grace,
            node=node,
            emit_event=self._event,
            changed=self.publish,
            logger=self._log,
        )
        seeds = {
            s.get("name"): s
            for s in [
                *(stored.get("initContainerStatuses") or []),
                *(stored.get("containerStatuses") or []),
            ]
        }

        def runner(container: dict[str, Any], init: bool) -> ContainerRunner:
            held = None
            if not self.finished_on_arrival:
                held = ContainerPorts.allocate(ports, container.get("ports") or [])
            return ContainerRunner(
                ctx, container, held, init=init, seed=seeds.get(container.get("name"))
            )

        self.init_runners = [runner(c, True) for c in spec.get("initContainers") or []]
        self.runners = [runner(c, False) for c in spec.get("containers") or []]

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while the Pod's containers are being run."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin running the Pod (nothing to do for a Pod that had already finished)."""
        if self.finished_on_arrival or self.terminated or self._task is not None:
            return
        self._log.info("pod starting", uid=self.uid)
        self.publish()
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"pod {self.key}")

    async def terminate(self, grace: float | None = None) -> None:
        """Stop every container (SIGTERM, ``grace`` seconds, SIGKILL) and report the end."""
        grace = self.termination_grace if grace is None else max(0.0, grace)
        for runner in self.all_runners:
            runner.stop(grace)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        if not self.terminated and not self.finished_on_arrival:
            self.terminated = True
            self._log.info("pod terminated")
            self.publish()

    async def _run(self) -> None:
        try:
            for runner in self.init_runners:
                code = await runner.run()
                if code is None:
                    return
                if code != 0:
                    self.init_failed = True
                    self.publish()
                    return
            if not self.initialized:
                self.initialized = True
                self.publish()
            # Every container runs to its end even if another one's runner fails.
            results = await asyncio.gather(*(r.run() for r in self.runners), return_exceptions=True)
            for runner, result in zip(self.runners, results, strict=True):
                if isinstance(result, Exception):
                    log_failure(self._log, "container runner failed", result, container=runner.name)
            self.publish()
        except Exception as exc:
            log_failure(self._log, "pod worker failed", exc)
        finally:
            self.release_ports()

    def release_ports(self) -> None:
        """Give the containers' host ports back (once the processes are gone, or never ran).

        Only once: by then another container may hold the same numbers.
        """
        if self._ports_released:
            return
        self._ports_released = True
        self._book.release(p for r in self.all_runners if r.ports for p in r.ports.all())

    # -- reading -----------------------------------------------------------------------------

    @property
    def all_runners(self) -> list[ContainerRunner]:
        return [*self.init_runners, *self.runners]

    def runner(self, name: str | None) -> ContainerRunner | None:
        """The container called ``name`` (the first container when None)."""
        if name is None:
            return self.runners[0] if self.runners else None
        return next((r for r in self.all_runners if r.name == name), None)

    def host_port(self, port: int | str) -> int | None:
        """The host port of a declared container port (number or name) of any container.

        A number no container declares maps to the first container's PORT, where apps listen.
        """
        if not self.active:
            return None
        for runner in self.all_runners:
            if runner.ports is not None and (found := runner.ports.lookup(port)) is not None:
                return found
        first = self.runners[0].ports if self.runners else None
        if first is not None and (isinstance(port, int) or str(port).isdigit()):
            return first.primary
        return None

    # -- reporting ---------------------------------------------------------------------------

    def build_status(self) -> dict[str, Any]:
        """The Pod status as it is now."""
        statuses = [r.status for r in self.runners]
        if self.terminated:
            clean = all(
                isinstance(s.state, Terminated) and s.state.exit_code == 0 for s in statuses
            )
            phase = "Succeeded" if clean and statuses else "Failed"
        elif self.init_failed:
            phase = "Failed"
        elif not self.initialized:
            phase = "Pending"
        else:
            phase = compute_phase(self.restart_policy, statuses)
        return pod_status(
            phase=phase,
            conditions=self._conditions,
            init_statuses=[r.status for r in self.init_runners],
            statuses=statuses,
            initialized=self.initialized,
            start_time=self._start_time,
        )

    def publish(self) -> None:
        """Report the status if it differs from the last one reported."""
        if self.quiet:
            return
        status = self.build_status()
        if status == self._last:
            return
        self._last = status
        try:
            self._on_status(self.key, copy.deepcopy(status))
        except Exception as exc:
            log_failure(self._log, "status callback failed", exc)

    def _event(self, reason: str, message: str, kind: str) -> None:
        if self.quiet:
            return
        try:
            self._on_event(self.key, reason, message, kind)
        except Exception as exc:
            log_failure(self._log, "event callback failed", exc, reason=reason)
