"""An in-memory Target for the engine's unit tests: the local runtime, never started.

It is the ``LocalTarget`` over a ``LocalRuntime`` whose controllers and kubelet never run: the
same object store, admission, apply, patch and watch code as the local target, and no process,
no port, no timer. What the runtime's controllers and kubelet would report (a Deployment
available, a Job complete or failed, an object Degraded) is decided by the test instead. By
default workloads settle as soon as they are applied, as on a fast healthy cluster;
``hold(key)`` leaves one object for the test to move.

Every apply, delete and health change is appended to ``history``, so a test can assert the
order in which things happened, and ``until`` waits for the moment something has happened
(never for a fixed time).
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.clock import Clock
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.journal import MemoryJournal
from conveyor.targets.local.objects import ObjectStore
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import ApplyOptions, TargetCondition
from support.clock import ManualClock

History = list[tuple[str, ObjectKey]]
"""(what, key) in the order it happened: apply, delete, healthy, failed, degraded, progressing."""

NEVER_STARTED = Path("/nonexistent/conveyor-fake-target")
"""The runtime's directory: never created, since the runtime is never started."""


class _NoImages:
    def resolve(self, image: str) -> None:
        return None


def _condition(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message}


class FakeTarget(LocalTarget):
    """The local target with its runtime never started, and health in the test's hands."""

    def __init__(self, clock: Clock | None = None, *, settle: bool = True) -> None:
        self.clock = clock or ManualClock()
        super().__init__(
            LocalRuntime(
                runtime_dir=NEVER_STARTED,
                journal=MemoryJournal(),
                images=_NoImages(),
                clock=self.clock,
            )
        )
        self.settle = settle
        """Workloads report success as soon as they are applied (unless held)."""
        self.history: History = []
        self.dry_runs: builtins.list[ObjectKey] = []
        self.problems: builtins.list[TargetCondition] = []
        """What ``conditions()`` reports: set it to make the target unwell."""
        self._held: set[ObjectKey] = set()
        self._finalized: set[ObjectKey] = set()
        self._waiters: builtins.list[asyncio.Future[None]] = []
        self.store.add_listener(lambda _event: self.poke())

    @property
    def store(self) -> ObjectStore:
        return self.runtime.store

    # -- the Target protocol, where the fake differs ----------------------------------------

    async def apply(self, obj: Object, options: ApplyOptions = ApplyOptions()) -> Object:
        key = ObjectKey.of(obj)
        if options.dry_run:
            self.dry_runs.append(key)
        applied = await super().apply(obj, options)
        if options.dry_run:
            return applied
        self._record("apply", key)
        if self.settle and key not in self._held:
            self._settle(key)
        return applied

    async def delete(self, key: ObjectKey, **options: Any) -> bool:
        """Delete as the runtime does, but a Pod goes at once (no kubelet stops it), and an
        object ``finalize``d stays, being deleted, until ``finish_deletion``."""
        if self.store.get(key) is None:
            return False
        self._record("delete", key)
        if key in self._finalized:
            self.store.mark_deleting(key)
            return True
        if key.kind == "Pod":
            self.store.remove(key)
            return True
        return await super().delete(key, **options)

    def conditions(self) -> builtins.list[TargetCondition]:
        return list(self.problems)

    # -- what the test decides --------------------------------------------------------------

    def hold(self, *keys: ObjectKey) -> None:
        """Leave these objects' health to the test even when ``settle`` is on."""
        self._held.update(keys)

    def finalize(self, *keys: ObjectKey) -> None:
        """Deleting these only marks them deleting, until ``finish_deletion`` (a finalizer)."""
        self._finalized.update(keys)

    def finish_deletion(self, key: ObjectKey) -> None:
        """The finalizer is done: the object goes."""
        self._finalized.discard(key)
        self.store.remove(key)
        self._record("gone", key)

    def make_healthy(self, key: ObjectKey) -> None:
        """A Deployment available at its generation, a Job complete, a Pod succeeded."""
        obj = self._live(key)
        if key.kind == "Deployment":
            replicas = int((obj.get("spec") or {}).get("replicas", 1))
            self._set_status(key, "healthy", _deployment_status(obj, replicas))
        elif key.kind == "Job":
            status = {"succeeded": 1, "conditions": [_condition("Complete", "True")]}
            self._set_status(key, "healthy", status)
        elif key.kind == "Pod":
            self._set_status(key, "healthy", {"phase": "Succeeded"})
        else:
            raise ValueError(f"{key.kind} has no health to set: it is healthy once it exists")

    def fail(self, key: ObjectKey, message: str) -> None:
        """A Job that reached its backoff limit, a Pod that failed."""
        if key.kind == "Job":
            failed = _condition("Failed", "True", "BackoffLimitExceeded", message)
            self._set_status(key, "failed", {"failed": 1, "conditions": [failed]})
        elif key.kind == "Pod":
            self._set_status(key, "failed", {"phase": "Failed", "message": message})
        else:
            raise ValueError(f"only Jobs and Pods fail; use degrade for a {key.kind}")

    def degrade(self, key: ObjectKey) -> None:
        """A Deployment whose progress deadline passed."""
        obj = self._live(key)
        status = _deployment_status(obj, 0)
        status["conditions"] = [
            _condition("Progressing", "False", "ProgressDeadlineExceeded", "took too long")
        ]
        self._set_status(key, "degraded", status)

    def report_progress(self, key: ObjectKey) -> None:
        """A Deployment whose controller reports a new, still unfinished, state."""
        obj = self._live(key)
        status = _deployment_status(obj, 0)
        before = int((obj.get("status") or {}).get("replicas") or 0)
        status["replicas"] = before + 1  # an old replica more: a change, still unfinished
        self._set_status(key, "progressing", status)

    def touch(self, key: ObjectKey) -> None:
        """Some controller writes to the object (an annotation): a change the watch delivers."""
        count = int(self._live(key)["metadata"].get("annotations", {}).get("touched", "0"))
        self.store.update(
            key,
            lambda o: o["metadata"].setdefault("annotations", {}).update(touched=str(count + 1)),
        )
        self._record("touched", key)

    # -- reading what happened --------------------------------------------------------------

    def applied(self) -> builtins.list[ObjectKey]:
        """Keys in the order they were applied (not dry runs)."""
        return [key for verb, key in self.history if verb == "apply"]

    def deleted(self) -> builtins.list[ObjectKey]:
        return [key for verb, key in self.history if verb == "delete"]

    def index(self, verb: str, key: ObjectKey) -> int:
        """Where (verb, key) first happened in ``history``; ValueError when it never did."""
        return self.history.index((verb, key))

    async def until(
        self, happened: Callable[[], bool], *, what: str, timeout: float = 10.0
    ) -> None:
        """Wait until ``happened()`` is true, looking again at every change."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                while not happened():
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            raise AssertionError(f"never happened: {what}; history: {self.history}") from None

    # -- internals --------------------------------------------------------------------------

    def _live(self, key: ObjectKey) -> Object:
        obj = self.store.get(key)
        if obj is None:
            raise AssertionError(f"{key} is not in the target")
        return obj

    def _record(self, verb: str, key: ObjectKey) -> None:
        self.history.append((verb, key))
        self.poke()

    def poke(self) -> None:
        """Wake whoever waits in ``until`` (for events the store does not see)."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _set_status(self, key: ObjectKey, verb: str, status: dict[str, Any]) -> None:
        self._live(key)
        self.store.update_status(key, status)
        self._record(verb, key)

    def _settle(self, key: ObjectKey) -> None:
        if key.kind in ("Deployment", "Job", "Pod"):
            self.make_healthy(key)


def _deployment_status(obj: Object, ready: int) -> dict[str, Any]:
    """A Deployment's status at its current generation with ``ready`` available replicas."""
    replicas = int((obj.get("spec") or {}).get("replicas", 1))
    available = _condition("Available", "True" if ready >= replicas else "False")
    progressing = _condition("Progressing", "True", "NewReplicaSetAvailable")
    return {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": ready,
        "updatedReplicas": ready,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": [available, progressing],
    }
