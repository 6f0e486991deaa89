"""AnalysisRuns on the local runtime: the controller's plan carried out, measured off the worker.

The runtime's single worker calls ``AnalysisRunner.reconcile`` for a run: it plans
(``controllers.plan_analysisrun``), writes the status, and starts each due measurement as a
task owned here, at most ``concurrency`` at a time over all runs, so that a Prometheus query
that takes 30 s stalls nothing else. A task that ends records its measurement in the run's
status, writes it through the journal barrier (``persist``), and only then asks for the run
to be reconciled: the run's phase never changes because of a measurement that a kill -9
could lose. While a run has a measurement being written, its reconciles wait for it.

A provider that raises (a bug, not a bad answer: those are Error measurements already) gives
an Error measurement and a Warning event; a barrier that fails is retried with backoff and
reported as an event, and the run stays where it is until its measurement is written.
Timers (the next interval, a Job to look at again) go through the runtime's work queue.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from conveyor.analysis import planner
from conveyor.analysis.planner import MetricTask
from conveyor.analysis.providers import Provider, RunContext, measure, resume, terminate
from conveyor.analysis.providers.base import begin, errored
from conveyor.backoff import Backoff
from conveyor.clock import Clock
from conveyor.errors import NotFoundError
from conveyor.logging import get_logger
from conveyor.model.analysis.args import FieldLookup, ResolvedArgs
from conveyor.model.analysis.kinds import AnalysisRunSpec
from conveyor.model.analysis.status import AnalysisRunStatus, Measurement
from conveyor.model.objects import Object, ObjectKey, group_of
from conveyor.targets.local.controllers.analysisrun import (
    AnalysisRunPlan,
    attempt_of,
    field_lookup,
    plan_analysisrun,
)
from conveyor.targets.local.controllers.instance import handles
from conveyor.targets.local.events import EventRecorder
from conveyor.targets.local.objects import ObjectStore
from conveyor.targets.local.validation import admit

log = get_logger(component="analysisrun-controller")

DEFAULT_CONCURRENCY = 8
"""Measurements in flight at once over all runs."""


@dataclass(frozen=True)
class _Measuring:
    """One measurement (or resume, or terminate) of one metric of one run, in flight."""

    key: ObjectKey
    uid: str
    task: MetricTask
    spec: AnalysisRunSpec
    args: ResolvedArgs
    context: RunContext


class AnalysisRunner:
    """Runs the AnalysisRuns of one runtime."""

    def __init__(
        self,
        *,
        store: ObjectStore,
        providers: Mapping[str, Provider],
        clock: Clock,
        events: EventRecorder,
        persist: Callable[[], Awaitable[None]],
        enqueue: Callable[[ObjectKey], None],
        enqueue_after: Callable[[ObjectKey, float], None],
        concurrency: int = DEFAULT_CONCURRENCY,
        instance_id: str = "",
    ) -> None:
        self._store = store
        self.instance_id = instance_id
        """Argo Rollouts' controller instance id: only runs labelled with it are run."""
        self.providers = dict(providers)
        self._clock = clock
        self._events = events
        self._persist = persist
        self._enqueue = enqueue
        self._enqueue_after = enqueue_after
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._inflight: dict[ObjectKey, dict[str, asyncio.Task[None]]] = {}
        self._writing: dict[ObjectKey, int] = {}

    # -- the worker's step -----------------------------------------------------------------

    def reconcile(self, key: ObjectKey, run: Object | None) -> None:
        """Plan ``run`` and carry the plan out (synchronously: it never waits on I/O)."""
        if run is None:
            self._cancel(key, keep_terminating=False)
            return
        if not handles(run, self.instance_id):
            return  # another Argo Rollouts controller's (its instance id label)
        if self._writing.get(key):
            return  # a measurement is being written; its task asks again once it is
        plan = plan_analysisrun(
            run,
            self._clock.now(),
            secrets=lambda name, k: self._secret(key.namespace, name, k),
            fields=self._fields(run),
        )
        self._store.update_status(key, plan.status)
        if plan.completed:
            self._cancel(key, keep_terminating=True)
        self._start(key, run, plan)
        if plan.requeue_after is not None:
            self._enqueue_after(key, plan.requeue_after)

    async def stop(self) -> None:
        """Cancel every measurement in flight and wait for the tasks to end."""
        tasks = [t for running in self._inflight.values() for t in running.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._inflight.clear()

    def in_flight(self, key: ObjectKey) -> list[str]:
        """Names of the metrics of ``key`` being measured now."""
        return sorted(self._inflight.get(key, {}))

    # -- tasks -----------------------------------------------------------------------------

    def _start(self, key: ObjectKey, run: Object, plan: AnalysisRunPlan) -> None:
        if plan.spec is None:
            return
        status = AnalysisRunStatus.from_dict(plan.status)
        running = self._inflight.setdefault(key, {})
        meta = run["metadata"]
        for task in plan.tasks:
            if task.metric.name in running:
                continue
            work = _Measuring(
                key=key,
                uid=str(meta.get("uid") or ""),
                task=task,
                spec=plan.spec,
                args=plan.args,
                context=RunContext(
                    namespace=key.namespace or "default",
                    run_name=key.name,
                    run_uid=str(meta.get("uid") or ""),
                    attempt=attempt_of(status, task.metric.name),
                ),
            )
            verb = "terminate" if task.terminate and task.resume is not None else "measure"
            running[task.metric.name] = asyncio.get_running_loop().create_task(
                self._run(work), name=f"analysis:{key}:{task.metric.name}:{verb}"
            )
        if not running:
            self._inflight.pop(key, None)

    def _cancel(self, key: ObjectKey, *, keep_terminating: bool) -> None:
        running = self._inflight.get(key, {})
        for name, task in list(running.items()):
            if keep_terminating and task.get_name().endswith(":terminate"):
                continue
            task.cancel()
            running.pop(name, None)

    async def _run(self, work: _Measuring) -> None:
        name = work.task.metric.name
        try:
            async with self._limit:
                measurement = await self._take(work)
            if self._record(work, measurement):
                await self._written(work.key)
        finally:
            running = self._inflight.get(work.key, {})
            if running.get(name) is asyncio.current_task():
                running.pop(name, None)
            if not running:
                self._inflight.pop(work.key, None)
        self._enqueue(work.key)

    async def _take(self, work: _Measuring) -> Measurement:
        task, metric = work.task, work.task.metric
        try:
            if task.resume is not None and task.terminate:
                return await terminate(
                    metric, task.resume, self.providers, self._clock, work.context
                )
            if task.resume is not None:
                return await resume(metric, task.resume, self.providers, self._clock, work.context)
            return await measure(metric, self.providers, self._clock, work.context)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a provider's bug: an Error measurement, and said so
            message = work.args.mask(f"{metric.provider.kind} provider failed: {err}")
            log.exception("measurement failed", run=str(work.key), metric=metric.name)
            self._events.record(work.key, "MeasurementFailed", message, "Warning")
            return errored(task.resume or begin(self._clock), message, self._clock)

    def _record(self, work: _Measuring, measurement: Measurement) -> bool:
        """The measurement in the run's status (synchronously); False when the run is gone."""
        run = self._store.get(work.key)
        if run is None or str(run["metadata"].get("uid") or "") != work.uid:
            return False
        status = AnalysisRunStatus.from_dict(run.get("status"))
        if status.phase.completed and not work.task.terminate:
            return False
        provider = self.providers.get(work.task.metric.provider.kind)
        recorded = planner.record(
            work.spec,
            status,
            work.task.metric.name,
            measurement,
            resumed=work.task.resume is not None,
            args=work.args,
            metadata=provider.metadata(work.task.metric) if provider else None,
        )
        self._store.update_status(work.key, recorded.to_dict())
        self._writing[work.key] = self._writing.get(work.key, 0) + 1
        return True

    async def _written(self, key: ObjectKey) -> None:
        """Wait for the journal barrier, retrying with backoff; the run waits meanwhile."""
        backoff = Backoff(0.5, 10.0, immediate_first=False)
        try:
            while True:
                try:
                    await self._persist()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    delay = backoff.next_delay()
                    self._events.record(
                        key,
                        "MeasurementNotPersisted",
                        f"the measurement cannot be written ({err}); retrying in {delay:.1f}s",
                        "Warning",
                    )
                    await asyncio.sleep(delay)
        finally:
            left = self._writing.get(key, 1) - 1
            if left > 0:
                self._writing[key] = left
            else:
                self._writing.pop(key, None)

    # -- lookups ---------------------------------------------------------------------------

    def _secret(self, namespace: str, name: str, key: str) -> str | None:
        secret = self._store.get(ObjectKey("", "Secret", namespace, name))
        if secret is None:
            return None
        raw = (secret.get("data") or {}).get(key)
        if raw is None:
            return None
        try:
            return base64.b64decode(str(raw), validate=True).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None

    def _fields(self, run: Object) -> FieldLookup:
        """Field paths of the run's controlling owner (a Rollout), else of the run itself."""
        for ref in run["metadata"].get("ownerReferences") or []:
            if ref.get("controller"):
                owner_key = ObjectKey(
                    group_of(str(ref.get("apiVersion") or "")),
                    str(ref.get("kind") or ""),
                    run["metadata"].get("namespace", ""),
                    str(ref.get("name") or ""),
                )
                owner = self._store.get(owner_key)
                if owner is not None:
                    return field_lookup(owner)
        return field_lookup(run)


class RuntimeJobs:
    """The job provider's target: Jobs admitted and stored as ``LocalTarget.apply`` would."""

    def __init__(self, store: ObjectStore, delete: Callable[[ObjectKey], bool]) -> None:
        self._store = store
        self._delete = delete

    async def apply(self, obj: Object) -> Object:
        key = ObjectKey.of(obj)
        desired = admit(copy.deepcopy(obj), self._store.get(key))
        if key.namespace and self._store.get(ObjectKey("", "Namespace", "", key.namespace)) is None:
            raise NotFoundError(f'namespaces "{key.namespace}" not found', obj=str(key))
        return copy.deepcopy(self._store.apply(desired))

    async def get(self, key: ObjectKey) -> Object | None:
        obj = self._store.get(key)
        return copy.deepcopy(obj) if obj is not None else None

    async def delete(self, key: ObjectKey) -> bool:
        return self._delete(key)
