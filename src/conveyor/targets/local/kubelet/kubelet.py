"""The kubelet of the local runtime: runs Pods as host processes, reports them as Kubernetes does.

The runtime loop hands every Pod it stores to ``sync_pod`` (again after a restart of
Conveyor: processes die with Conveyor and are started again from the stored Pods), calls
``terminate_pod`` when a Pod is deleted, reads ``host_port`` to route Services to endpoints,
and serves ``logs``. Status and events flow back through the two callbacks.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil

from conveyor.clock import Clock
from conveyor.errors import NotFoundError, ValidationError
from conveyor.logging import get_logger
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.kubelet.api import ImageResolver, KubeletOptions, ObjectLookup
from conveyor.targets.local.kubelet.env import NodeCapacity
from conveyor.targets.local.kubelet.hostports import HostPortBook
from conveyor.targets.local.kubelet.logs import stream_lines
from conveyor.targets.local.kubelet.pod_worker import PodWorker


class Kubelet:
    """Pods on this machine, one worker each."""

    def __init__(
        self,
        *,
        runtime_dir: Path,
        images: ImageResolver,
        lookup: ObjectLookup,
        clock: Clock,
        on_status: Callable[[ObjectKey, dict[str, Any]], None],
        on_event: Callable[[ObjectKey, str, str, str], None],
        options: KubeletOptions = KubeletOptions(),  # noqa: B008 - frozen, shared safely
    ) -> None:
        self._runtime_dir = runtime_dir
        self._images = images
        self._lookup = lookup
        self._clock = clock
        self._on_status = on_status
        self._on_event = on_event
        self._options = options
        self._ports = HostPortBook()
        self._node = NodeCapacity(
            cpu_millis=(os.cpu_count() or 1) * 1000, memory_bytes=psutil.virtual_memory().total
        )
        self._workers: dict[ObjectKey, PodWorker] = {}
        self._replacing: dict[ObjectKey, asyncio.Task[None]] = {}
        self._retiring: set[PodWorker] = set()
        self._closing = False
        self._log = get_logger(component="kubelet")

    def sync_pod(self, pod: Object) -> None:
        """Start running ``pod`` unless it already runs (idempotent; needs a running loop).

        A Pod with the same name but a new uid replaces the old one: the old Pod's processes
        are stopped first (they share its log files and its name), then the new one starts.
        """
        key = ObjectKey.of(pod)
        if key.kind != "Pod":
            raise ValidationError(f"the kubelet runs Pods, not {key.kind}", obj=str(key))
        if self._closing:
            return
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        existing = self._workers.get(key)
        if existing is not None and existing.uid == uid:
            return
        worker = PodWorker(
            pod,
            runtime_dir=self._runtime_dir,
            images=self._images,
            lookup=self._lookup,
            clock=self._clock,
            options=self._options,
            node=self._node,
            ports=self._ports,
            on_status=self._on_status,
            on_event=self._on_event,
        )
        self._workers[key] = worker
        if key in self._replacing:
            # An older Pod of this name is still stopping: the newest one waits for it, and
            # one that was waiting too is superseded without ever starting.
            if existing is not None:
                existing.release_ports()
            return
        if existing is not None and existing.active:
            self._log.warning("pod replaced while running", pod=f"{key.namespace}/{key.name}")
            existing.quiet = True  # its statuses and events would land on the new Pod
            self._replacing[key] = asyncio.get_running_loop().create_task(
                self._replace(key, existing), name=f"replace {key}"
            )
        else:
            worker.start()

    async def _replace(self, key: ObjectKey, old: PodWorker) -> None:
        self._retiring.add(old)
        try:
            await old.terminate()
        finally:
            self._retiring.discard(old)
            self._replacing.pop(key, None)
        current = self._workers.get(key)
        if current is not None and not self._closing:
            current.start()

    async def terminate_pod(self, key: ObjectKey, grace_period: float | None = None) -> None:
        """Stop the Pod's processes: SIGTERM, up to the grace period, SIGKILL; report it ended.

        ``grace_period`` defaults to the Pod's terminationGracePeriodSeconds (30).
        Returns once the processes are gone.
        """
        worker = self._workers.get(key)
        if worker is not None:
            await worker.terminate(grace_period)

    def forget_pod(self, key: ObjectKey, uid: str | None = None) -> None:
        """Drop a stopped Pod and its log files (once the Pod object is gone).

        With ``uid``, only that Pod: a newer Pod of the same name keeps its logs.
        """
        worker = self._workers.get(key)
        if worker is None or worker.active or (uid is not None and worker.uid != uid):
            return
        del self._workers[key]
        shutil.rmtree(self._runtime_dir / "pods" / key.namespace / key.name, ignore_errors=True)

    def host_port(self, key: ObjectKey, container_port: int | str) -> int | None:
        """The host port a container port (number or name) is remapped to, once allocated."""
        worker = self._workers.get(key)
        return worker.host_port(container_port) if worker is not None else None

    def logs(
        self,
        key: ObjectKey,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        previous: bool = False,
        follow: bool = False,
    ) -> AsyncIterator[str]:
        """Lines (without newline) of a container's log; raises NotFoundError when iterated
        for an unknown Pod or container, or ``previous`` when there was no earlier instance."""
        return self._logs(key, container, tail_lines, previous, follow)

    async def _logs(
        self, key: ObjectKey, container: str | None, tail: int | None, previous: bool, follow: bool
    ) -> AsyncIterator[str]:
        worker = self._workers.get(key)
        if worker is None:
            raise NotFoundError(f'pods "{key.name}" not found', obj=str(key))
        runner = worker.runner(container)
        if runner is None:
            raise NotFoundError(
                f'container "{container}" is not valid for pod "{key.name}"', obj=str(key)
            )
        if previous and not runner.log.previous_files():
            raise NotFoundError(
                f'previous terminated container "{runner.name}" in pod "{key.name}" not found',
                obj=str(key),
            )
        instance = runner.instance
        async for line in stream_lines(
            runner.log,
            previous=previous,
            tail=tail,
            follow=follow,
            alive=lambda: runner.alive(instance),
        ):
            yield line

    def running_pods(self) -> list[ObjectKey]:
        """Pods whose containers are being run now (including ones waiting to restart)."""
        return sorted(key for key, worker in self._workers.items() if worker.active)

    async def shutdown(self) -> None:
        """Stop every Pod and kill every process, without reporting the Pods as finished.

        The stored Pods stay as they are, so that a restarted Conveyor runs them again.
        """
        self._closing = True
        workers = [*self._workers.values(), *self._retiring]
        for worker in workers:
            worker.quiet = True
        await asyncio.gather(
            *(w.terminate(self._options.shutdown_grace) for w in workers),
            *self._replacing.values(),
            return_exceptions=True,
        )
