"""Services of the local runtime: a listener on 127.0.0.1 per Service port.

Each port of a Service gets its nodePort (or one allocated and kept across restarts) and a
ServiceProxy balancing over the Ready, non-terminating Pods its selector matches, each known by
its ReplicaSet (``rollouts-pod-template-hash``, else ``pod-template-hash``). The port reached
is reported in the Service's status as a load balancer ingress on 127.0.0.1, which is what the
UI and ``app get`` show as the Service's URL.

Traffic weights between ReplicaSets (``set_weights``, what a canary step asks for) apply to
every port of the Service at once and to ports created later. They are held in memory: the
caller that decides them (the Rollout controller) keeps the decision and sets it again after a
restart. A Service with weights whose selector carries Argo's injected
``rollouts-pod-template-hash`` selects the Pods of every weighted ReplicaSet: that is how the
stable Service of a canary with ``trafficRouting`` reaches the canary's Pods, as a mesh would.
What each ReplicaSet served is read with ``stats``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.errors import ConveyorError
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.events import EventRecorder
from conveyor.targets.local.network.balancer import Weights, validate_weights
from conveyor.targets.local.network.endpoints import Endpoint
from conveyor.targets.local.network.ports import PortAllocator
from conveyor.targets.local.network.proxy import ServiceProxy
from conveyor.targets.local.network.stats import ReplicaSetStats, ServiceStats
from conveyor.targets.local.objects import ObjectStore, labels_match

HostPort = Callable[[ObjectKey, int | str], int | None]

ROLLOUTS_HASH_LABEL = "rollouts-pod-template-hash"  # on a Rollout's Pods (Argo Rollouts)
HASH_LABEL = "pod-template-hash"  # on a Deployment's Pods


def replicaset_of(pod: Object) -> str:
    """The Pod's ReplicaSet, by its template hash label; "" when it has none."""
    labels = pod["metadata"].get("labels") or {}
    return str(labels.get(ROLLOUTS_HASH_LABEL) or labels.get(HASH_LABEL) or "")


def pod_is_ready(pod: Object) -> bool:
    """Ready condition True and not being deleted: the Pod may receive traffic."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _port_owner(key: ObjectKey, port: dict[str, Any]) -> str:
    return f"{key.namespace}/{key.name}/{port.get('name') or port.get('port')}"


class ServiceManager:
    """Keeps one proxy per Service port in line with the Service and its Pods."""

    def __init__(
        self, store: ObjectStore, ports: PortAllocator, host_port: HostPort, events: EventRecorder
    ) -> None:
        self._store = store
        self._ports = ports
        self._host_port = host_port
        self._events = events
        self._proxies: dict[str, ServiceProxy] = {}
        self._weights: dict[tuple[str, str], dict[str, int]] = {}
        self._stats: dict[tuple[str, str], ServiceStats] = {}

    def selecting(self, pod: Object) -> list[ObjectKey]:
        """Services in the Pod's namespace whose selector matches it."""
        labels = pod["metadata"].get("labels") or {}
        namespace = pod["metadata"].get("namespace", "default")
        out = []
        for svc in self._store.list(kind="Service", group="", namespace=namespace):
            if self._selects(svc, labels):
                out.append(ObjectKey.of(svc))
        return out

    def _selector(self, svc: Object) -> tuple[dict[str, str], set[str] | None]:
        """The label selector to list Pods by, and the ReplicaSet hashes weights admit
        (None: the selector alone decides)."""
        selector = dict((svc.get("spec") or {}).get("selector") or {})
        meta = svc["metadata"]
        weights = self._weights.get((meta.get("namespace", "default"), meta["name"]))
        if not weights or ROLLOUTS_HASH_LABEL not in selector:
            return selector, None
        del selector[ROLLOUTS_HASH_LABEL]
        return selector, set(weights)

    def _selects(self, svc: Object, labels: dict[str, str]) -> bool:
        selector, hashes = self._selector(svc)
        if not selector or not labels_match(labels, selector):
            return False
        return hashes is None or labels.get(ROLLOUTS_HASH_LABEL) in hashes

    def endpoints(self, svc: Object, port: dict[str, Any]) -> list[Endpoint]:
        """Ready Pods matching the Service, at the host port its targetPort maps to."""
        selector, hashes = self._selector(svc)
        if not selector:
            return []
        target: int | str = port.get("targetPort", port.get("port")) or 0
        out = []
        for pod in self._store.list(
            kind="Pod", group="", namespace=svc["metadata"].get("namespace"), labels=selector
        ):
            if not pod_is_ready(pod):
                continue
            if hashes is not None and replicaset_of(pod) not in hashes:
                continue
            host_port = self._host_port(ObjectKey.of(pod), target)
            if host_port is not None:
                name = pod["metadata"]["name"]
                out.append(Endpoint("127.0.0.1", host_port, 1, name, replicaset_of(pod)))
        return out

    def check_node_ports(self, svc: Object) -> None:
        """Refuse a Service whose nodePort is out of range or taken, before it is stored, so
        that its sync fails with the reason (as the API server refuses it)."""
        key = ObjectKey.of(svc)
        for port in (svc.get("spec") or {}).get("ports") or []:
            requested = port.get("nodePort") if isinstance(port, dict) else None
            if requested:
                self._ports.check(_port_owner(key, port), int(requested))

    async def reconcile(self, key: ObjectKey, svc: Object | None) -> None:
        """Start, update or stop the Service's listeners."""
        prefix = f"{key.namespace}/{key.name}/"
        wanted: dict[str, dict[str, Any]] = {}
        if svc is not None:
            for port in (svc.get("spec") or {}).get("ports") or []:
                wanted[_port_owner(key, port)] = port
        for owner in [o for o in self._proxies if o.startswith(prefix) and o not in wanted]:
            await self._proxies.pop(owner).stop()
        for owner in self._ports.owners(prefix):
            if owner not in wanted:
                self._ports.release(owner)
        if svc is None:
            self._weights.pop((key.namespace, key.name), None)
            self._stats.pop((key.namespace, key.name), None)
            return
        ingress_ports = []
        for owner, port in wanted.items():
            try:
                proxy = await self._ensure_proxy(key, owner, port)
            except ConveyorError as err:
                self._events.record(key, "FailedToAllocatePort", err.message, "Warning")
                continue
            proxy.set_endpoints(self.endpoints(svc, port))
            ingress_ports.append({"port": proxy.port, "protocol": port.get("protocol", "TCP")})
        status = {"loadBalancer": {"ingress": [{"ip": "127.0.0.1", "ports": ingress_ports}]}}
        self._store.update_status(key, status)

    async def _ensure_proxy(self, key: ObjectKey, owner: str, port: dict[str, Any]) -> ServiceProxy:
        requested = port.get("nodePort")
        host_port = self._ports.allocate(owner, int(requested) if requested else None)
        proxy = self._proxies.get(owner)
        if proxy is not None and proxy.port == host_port:
            return proxy
        if proxy is not None:
            await proxy.stop()
        protocol = (
            "http"
            if str(port.get("appProtocol", port.get("name", ""))).startswith("http")
            else "auto"
        )
        service = (key.namespace, key.name)
        stats = self._stats.get(service)
        if stats is None:
            stats = self._stats[service] = ServiceStats()
        proxy = ServiceProxy(name=owner, port=host_port, protocol=protocol, stats=stats)  # type: ignore[arg-type]
        proxy.set_weights(self._weights.get(service))
        await proxy.start()
        self._proxies[owner] = proxy
        return proxy

    def proxy_port(self, key: ObjectKey, port_name_or_number: str | int) -> int | None:
        """The host port serving one of a Service's ports."""
        return self._ports.get(f"{key.namespace}/{key.name}/{port_name_or_number}")

    async def stop_all(self) -> None:
        """Close every listener (ports stay allocated for the next start)."""
        for proxy in self._proxies.values():
            await proxy.stop()
        self._proxies.clear()

    def set_weights(self, namespace: str, service: str, weights: Weights | None) -> None:
        """Share the Service's traffic between ReplicaSets by weight, from the next request.

        ``weights`` maps pod-template-hash to a relative weight (None: every Pod alike); a
        ReplicaSet left out gets no traffic while a weighted one has a Ready Pod. Applies to
        every port of the Service, and to ports it gets later.
        """
        validate_weights(weights)
        service_key = (namespace, service)
        prefix = f"{namespace}/{service}/"
        for owner, proxy in self._proxies.items():
            if owner.startswith(prefix):
                proxy.set_weights(weights)
        if weights is None:
            self._weights.pop(service_key, None)
        else:
            self._weights[service_key] = dict(weights)

    def weights(self, namespace: str, service: str) -> dict[str, int] | None:
        """The ReplicaSet weights set for a Service, if any."""
        held = self._weights.get((namespace, service))
        return None if held is None else dict(held)

    def stats(self, namespace: str, service: str) -> dict[str, ReplicaSetStats]:
        """What each ReplicaSet behind the Service served (HTTP), by pod-template-hash."""
        stats = self._stats.get((namespace, service))
        return {} if stats is None else stats.snapshot()

    def all_stats(self) -> list[tuple[str, str, ReplicaSetStats]]:
        """Every Service's per-ReplicaSet stats, as (namespace, service, stats), sorted."""
        return [
            (namespace, service, rs_stats)
            for (namespace, service), stats in sorted(self._stats.items())
            for _, rs_stats in sorted(stats.snapshot().items())
        ]
