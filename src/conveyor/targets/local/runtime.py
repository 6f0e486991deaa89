"""The local runtime's control loop: one work queue, keyed by object, feeding the controllers.

Every change in the object store enqueues the object and whoever cares about it (its owner,
the Services of its namespace). One worker takes keys off the queue and runs the matching
step: Deployment, ReplicaSet and Job controllers (pure plans, carried out by ``workloads``),
Argo Rollouts' Rollout controller (``rollouts``), the kubelet for Pods, the Service proxies,
and AnalysisRuns (planned on the worker, measured in tasks of their own by
``analysisruns.AnalysisRunner``). A Pod that is being deleted leaves its Services' endpoints
before it is sent SIGTERM, so that no request is routed to a process that is stopping.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conveyor.analysis.providers import Provider, default_providers
from conveyor.clock import Clock, SystemClock
from conveyor.logging import get_logger
from conveyor.model.objects import Object, ObjectKey, group_of
from conveyor.model.syncoptions import PropagationPolicy
from conveyor.targets.local import controllers, rollouts, workloads
from conveyor.targets.local.addresses import AddressResolver
from conveyor.targets.local.analysisruns import DEFAULT_CONCURRENCY, AnalysisRunner, RuntimeJobs
from conveyor.targets.local.events import EventRecorder
from conveyor.targets.local.fieldwarnings import FieldWarnings
from conveyor.targets.local.journal import StateJournal
from conveyor.targets.local.kinds import (
    DEPLOYMENT,
    JOB,
    NAMESPACE,
    POD,
    REPLICASET,
    SERVICE,
    identity,
)
from conveyor.targets.local.kubelet import ImageResolver, Kubelet, KubeletOptions
from conveyor.targets.local.monitoring.file_sd import FileSDWriter
from conveyor.targets.local.monitoring.supervisor import PODS_FILE
from conveyor.targets.local.network.balancer import Weights
from conveyor.targets.local.network.ports import PortAllocator
from conveyor.targets.local.network.services import ServiceManager
from conveyor.targets.local.network.stats import ReplicaSetStats
from conveyor.targets.local.objects import ObjectStore
from conveyor.targets.local.persistence import WriteBehind
from conveyor.targets.protocol import WatchEvent
from conveyor.workqueue import WorkQueue

log = get_logger(component="local-runtime")

_OWNER_KINDS = frozenset({REPLICASET, DEPLOYMENT, JOB, ("argoproj.io", "Rollout")})


def _owner_key(obj: Object) -> ObjectKey | None:
    """The controlling owner of ``obj`` among the kinds the runtime runs."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        ident = (group_of(str(ref.get("apiVersion") or "")), ref.get("kind"))
        if ref.get("controller") and ident in _OWNER_KINDS:
            group, kind = ident
            return ObjectKey(group, str(kind), obj["metadata"].get("namespace", ""), ref["name"])
    return None


def _not_ready_until_seen(objects: list[Object]) -> list[Object]:
    """Restored Pods are not Ready until the kubelet has started them again.

    Their recorded status says Ready, but their processes ended with the last Conveyor;
    routing traffic to them before the kubelet reports again would fail requests.
    """
    for obj in objects:
        if obj.get("kind") != "Pod" or group_of(str(obj.get("apiVersion") or "")) != "":
            continue
        status = obj.get("status") or {}
        for cond in status.get("conditions") or []:
            if cond.get("type") in ("Ready", "ContainersReady"):
                cond["status"] = "False"
                cond["reason"] = "ConveyorRestarted"
        for container in status.get("containerStatuses") or []:
            container["ready"] = False
    return objects


class LocalRuntime:
    """Objects, controllers, processes and Service listeners of one machine."""

    def __init__(
        self,
        *,
        runtime_dir: Path,
        journal: StateJournal,
        images: ImageResolver,
        clock: Clock | None = None,
        kubelet_options: KubeletOptions | None = None,
        rng: random.Random | None = None,
        flush_interval: float = 0.2,
        analysis_providers: Mapping[str, Provider] | None = None,
        analysis_concurrency: int = DEFAULT_CONCURRENCY,
        rollouts_instance_id: str = "",
    ) -> None:
        self.clock = clock or SystemClock()
        self.instance_id = rollouts_instance_id
        """Argo Rollouts' controller instance id ("": none): the Rollouts and AnalysisRuns
        this runtime runs (``controllers.instance``)."""
        self.journal = WriteBehind(journal, interval=flush_interval, clock=self.clock)
        """The journal, written behind (``flush_interval`` s after a change) or by a barrier."""
        self.store = ObjectStore(self.clock, self.journal)
        self.events = EventRecorder(self.clock)
        self.field_warnings = FieldWarnings(self.events.record)
        """FieldNotHonoured events: what the runtime does not apply of a pod template."""
        self._rng = rng or random.Random()
        self.kubelet = Kubelet(
            runtime_dir=runtime_dir,
            images=images,
            lookup=self.store,
            clock=self.clock,
            on_status=self._on_pod_status,
            on_event=self.events.record,
            options=kubelet_options or KubeletOptions(),
        )
        self.ports = PortAllocator(self.journal)
        self.services = ServiceManager(self.store, self.ports, self.kubelet.host_port, self.events)
        self.prometheus_targets_dir = runtime_dir / "prometheus"
        """Prometheus file_sd files: ``pods.json``, kept equal to the Ready Pods' targets."""
        self.file_sd = FileSDWriter(
            self.store, self.kubelet.host_port, self.prometheus_targets_dir / PODS_FILE
        )
        self.addresses = AddressResolver(
            self.store.get, lambda key, port: self.services.proxy_port(key, port)
        )
        # One worker: the controllers' plans assume objects are reconciled one at a time.
        self._queue: WorkQueue[ObjectKey] = WorkQueue(self._handle, workers=1)
        self._terminating: dict[ObjectKey, asyncio.Task[None]] = {}
        if analysis_providers is None:
            # conveyor/builtin and conveyor/judge read this runtime's Service stats; cluster
            # addresses (http://prometheus:9090, svc.ns.svc.cluster.local) reach local ports
            analysis_providers = default_providers(
                resolve_url=self.resolve_url,
                jobs=RuntimeJobs(self.store, self.delete),
                stats=self,
            )
        self.analysis = AnalysisRunner(
            store=self.store,
            providers=analysis_providers,
            clock=self.clock,
            events=self.events,
            persist=self.persist_now,
            enqueue=self.enqueue,
            enqueue_after=self.enqueue_after,
            concurrency=analysis_concurrency,
            instance_id=rollouts_instance_id,
        )
        """AnalysisRuns: their measurements run as tasks of their own, never on the worker."""
        self.restored = rollouts.RestoredPods([], self.clock.now())
        """Pods that were Ready when the last Conveyor stopped (the Rollout controller's)."""

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the journaled state and bring every object's behaviour back."""
        state = await self.journal.load()
        self.ports = PortAllocator(self.journal, state.ports)
        self.services = ServiceManager(self.store, self.ports, self.kubelet.host_port, self.events)
        self.restored = rollouts.RestoredPods(state.objects, self.clock.now())
        self.store.restore(_not_ready_until_seen(state.objects))
        self.store.add_listener(self._on_change)
        self.file_sd.start()
        rollouts.restore_weights(self)
        if self.store.get(ObjectKey("", "Namespace", "", "default")) is None:
            self.store.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
            )
        for obj in self.store.list():
            self.enqueue(ObjectKey.of(obj))
        self.journal.start()
        self._queue.start()

    async def stop(self) -> None:
        """Stop the loop, the processes and the listeners; flush the journal."""
        await self._queue.stop()
        await self.analysis.stop()
        self.file_sd.stop()
        for task in self._terminating.values():
            task.cancel()
        await self.kubelet.shutdown()
        await self.services.stop_all()
        await self.journal.stop()

    async def persist_now(self) -> None:
        """Write every change recorded so far to the journal's store before returning.

        Call it between deciding something that must survive kill -9 (an abort, a promotion,
        a traffic weight) and acting on it; it raises when the state cannot be written, and
        then the decision must not be acted on.
        """
        await self.journal.barrier()

    async def settle(self) -> None:
        """Wait until the work queue is empty (for tests and benchmarks; bound it with
        ``asyncio.timeout``)."""
        await self._queue.drain()

    # -- traffic ---------------------------------------------------------------------------

    def set_weights(self, namespace: str, service: str, weights: Weights | None) -> None:
        """Share a Service's traffic between ReplicaSets (pod-template-hash -> weight).

        Takes effect for the next request (HTTP) or connection (TCP); None: every Pod alike.
        """
        self.services.set_weights(namespace, service, weights)
        self.enqueue(ObjectKey("", "Service", namespace, service))  # weights pick endpoints

    def service_stats(self, namespace: str, service: str) -> dict[str, ReplicaSetStats]:
        """What each ReplicaSet behind a Service served, by pod-template-hash."""
        return self.services.stats(namespace, service)

    def all_service_stats(self) -> list[tuple[str, str, ReplicaSetStats]]:
        """Every Service's per-ReplicaSet stats, as (namespace, service, stats)."""
        return self.services.all_stats()

    # -- addresses -------------------------------------------------------------------------

    def resolve_url(self, url: str, namespace: str = "default") -> str:
        """``url`` as this machine reaches it (Service cluster names, ``prometheus``): the
        analysis providers' ``resolve_url`` hook; see ``addresses.AddressResolver.resolve``."""
        return self.addresses.resolve(url, namespace)

    # -- queueing --------------------------------------------------------------------------

    def enqueue(self, key: ObjectKey) -> None:
        """Ask for ``key`` to be reconciled (once, however often it is asked)."""
        self._queue.add(key)

    def enqueue_after(self, key: ObjectKey, delay: float) -> None:
        """Reconcile ``key`` again after ``delay`` seconds (the earliest request wins)."""
        self._queue.add_after(key, delay)

    def _on_change(self, event: WatchEvent) -> None:
        obj = event.object
        key = ObjectKey.of(obj)
        self.enqueue(key)
        owner = _owner_key(obj)
        if owner is not None:
            self.enqueue(owner)
            if identity(owner) == REPLICASET:
                rs = self.store.get(owner)
                grand = _owner_key(rs) if rs is not None else None
                if grand is not None:
                    self.enqueue(grand)
        if identity(key) == POD:
            for svc in self.services.selecting(obj):
                self.enqueue(svc)
        elif key.kind in ("Service", "Deployment") or rollouts.is_rollout(key):
            rollouts.on_change(self, event)

    def _on_pod_status(self, key: ObjectKey, status: dict[str, Any]) -> None:
        self.store.update_status(key, status)

    async def _handle(self, key: ObjectKey) -> None:
        try:
            await self._reconcile(key)
        except Exception as err:  # one object's failure never stops the loop
            log.exception("reconcile failed", object=str(key), error=str(err))
            self.events.record(key, "ReconcileError", str(err), "Warning")
            self.enqueue_after(key, 5.0)

    # -- deletion --------------------------------------------------------------------------

    def delete(
        self,
        key: ObjectKey,
        grace_period: float | None = None,
        propagation: PropagationPolicy = PropagationPolicy.BACKGROUND,
    ) -> bool:
        """Delete an object; False when absent.

        Its dependants go as Kubernetes' garbage collector would: ``background`` removes the
        object, then its children; ``foreground`` its children first; ``orphan`` leaves them,
        their owner reference to it removed. A Pod is deleted gracefully (its process gets
        SIGTERM and ``grace_period`` seconds); a Namespace takes everything in it along.
        """
        obj = self.store.get(key)
        if obj is None:
            return False
        if identity(key) == POD:
            if grace_period is not None:
                self.store.update(
                    key,
                    lambda o: o["metadata"].__setitem__("deletionGracePeriodSeconds", grace_period),
                )
            self.store.mark_deleting(key)
            return True
        if identity(key) == NAMESPACE:
            for child in self.store.list(namespace=key.name):
                self.delete(ObjectKey.of(child))
        uid = obj["metadata"]["uid"]
        if propagation is PropagationPolicy.ORPHAN:
            self.store.orphan(uid)
            self.store.remove(key)
            return True
        children = self.store.children(uid)
        if propagation is PropagationPolicy.BACKGROUND:
            self.store.remove(key)
        for child in children:
            self.delete(ObjectKey.of(child))
        self.store.remove(key)
        return True

    # -- reconcile steps -------------------------------------------------------------------

    async def _reconcile(self, key: ObjectKey) -> None:
        obj = self.store.get(key)
        kind = identity(key)  # by group and kind: a CRD's "Pod" is stored, never run
        if kind == SERVICE:
            await self.services.reconcile(key, obj)
            return
        if key.kind == "AnalysisRun" and key.group == "argoproj.io":
            self.analysis.reconcile(key, obj)
            return
        if obj is None:
            self.field_warnings.forget(key)
            return
        self.field_warnings.check(key, obj)  # once per template of a Pod or workload
        if kind == POD:
            await self._reconcile_pod(key, obj)
        elif rollouts.is_rollout(key):
            await rollouts.reconcile(self, key, obj)
        elif kind == DEPLOYMENT:
            workloads.reconcile_deployment(self, key, obj)
        elif kind == REPLICASET:
            workloads.reconcile_owner_of_pods(self, key, obj, controllers.plan_replicaset)
        elif kind == JOB:
            workloads.reconcile_owner_of_pods(self, key, obj, controllers.plan_job)
        elif kind == NAMESPACE and not obj.get("status"):
            self.store.update_status(key, {"phase": "Active"})

    async def _reconcile_pod(self, key: ObjectKey, pod: Object) -> None:
        if not pod["metadata"].get("deletionTimestamp"):
            self.kubelet.sync_pod(pod)
            return
        if key in self._terminating:
            return
        # Out of the endpoints first, then SIGTERM: no request goes to a stopping process.
        for svc in self.services.selecting(pod):
            await self.services.reconcile(svc, self.store.get(svc))
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        self._terminating[key] = asyncio.create_task(self._terminate(key, grace))

    async def _terminate(self, key: ObjectKey, grace: float | None) -> None:
        pod = self.store.get(key)
        uid = pod["metadata"].get("uid") if pod is not None else None
        try:
            await self.kubelet.terminate_pod(key, grace)
        finally:
            self._terminating.pop(key, None)
            self.store.remove(key)
            self.kubelet.forget_pod(key, uid)

    def new_name(self, prefix: str) -> str:
        """A Pod name as Kubernetes' generateName makes it: ``prefix`` and five random letters."""
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        return f"{prefix}-{''.join(self._rng.choice(alphabet) for _ in range(5))}"
