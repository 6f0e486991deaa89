"""``/metrics``: Prometheus metrics with Argo CD's names where Argo CD has one.

    argocd_app_info{namespace,name,project,autosync_enabled,repo,dest_server,dest_namespace,
                    sync_status,health_status,operation}          gauge, 1 per app
    argocd_app_sync_total{namespace,name,project,dest_server,phase} counter
    argocd_app_reconcile{namespace,dest_server}                     histogram, seconds
    argocd_git_request_total{repo,request_type}                     counter
    argocd_git_request_duration_seconds{repo,request_type}          histogram
    conveyor_render_duration_seconds{source_type,outcome}           histogram
    conveyor_service_requests_total{namespace,service,replicaset,code}   counter
    conveyor_service_request_duration_seconds{namespace,service,replicaset} histogram
    conveyor_dora_*{app,env}                                         gauges (api.metrics_dora)

Argo CD times manifest generation only inside its repo-server (``argocd_repo_...``), which
Conveyor does not have; renders (plain YAML, Kustomize, Helm) get a ``conveyor_`` name with
the source type as a label. Each app instance has its own registry, so tests and several
servers in one process never share counters. The Service proxies of the local runtime run in
this process and keep their own per-ReplicaSet counts (``code`` is the status class, ``2xx``);
those are read at scrape time, so recording a request costs the proxy no registry update.
This class is the observer the engine, the source and the render stages report to;
``argocd_app_info`` is read from the controller at scrape time, so it is never stale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from conveyor.api.metrics_dora import DoraMetrics, Latest
from conveyor.api.metrics_rollouts import LiveObjects, RolloutMetrics
from conveyor.engine.events import EngineEvent, OperationFinished
from conveyor.redaction import strip_credentials
from conveyor.render import SourceType
from conveyor.source import GitRequest
from conveyor.targets.local.network.stats import ReplicaSetStats

RECONCILE_BUCKETS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
"""Argo CD's buckets for argocd_app_reconcile."""

Applications = Callable[[], list[dict[str, Any]]]
ServiceTraffic = Callable[[], Iterable[tuple[str, str, ReplicaSetStats]]]
"""(namespace, service, one ReplicaSet's stats) for every Service the proxies served."""


def _labels(app: dict[str, Any]) -> dict[str, str]:
    meta = app.get("metadata") or {}
    spec = app.get("spec") or {}
    dest = spec.get("destination") or {}
    return {
        "namespace": str(meta.get("namespace") or ""),
        "name": str(meta.get("name") or ""),
        "project": str(spec.get("project") or "default"),
        "dest_server": str(dest.get("server") or dest.get("name") or ""),
    }


class _AppInfo(Collector):
    """``argocd_app_info``, one sample per app, computed at scrape time."""

    def __init__(self, applications: Applications) -> None:
        self.applications = applications

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "argocd_app_info",
            "Information about an application.",
            labels=[
                "namespace", "name", "project", "autosync_enabled", "repo", "dest_server",
                "dest_namespace", "sync_status", "health_status", "operation",
            ],
        )  # fmt: skip
        for app in self.applications():
            spec = app.get("spec") or {}
            status = app.get("status") or {}
            base = _labels(app)
            op = status.get("operationState") or {}
            running = op.get("phase") in ("Running", "Terminating")
            family.add_metric(
                [
                    base["namespace"],
                    base["name"],
                    base["project"],
                    str(bool((spec.get("syncPolicy") or {}).get("automated") is not None)).lower(),
                    strip_credentials(str((spec.get("source") or {}).get("repoURL") or "")),
                    base["dest_server"],
                    str((spec.get("destination") or {}).get("namespace") or ""),
                    str((status.get("sync") or {}).get("status") or "Unknown"),
                    str((status.get("health") or {}).get("status") or "Unknown"),
                    "sync" if running else "",
                ],
                1.0,
            )
        yield family


class _ServiceTraffic(Collector):
    """What each ReplicaSet behind each Service served, read from the proxies at scrape time."""

    def __init__(self, source: Callable[[], ServiceTraffic]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "conveyor_service_requests",
            "HTTP requests a Service answered, by the ReplicaSet that served them and status "
            "class.",
            labels=["namespace", "service", "replicaset", "code"],
        )
        duration = HistogramMetricFamily(
            "conveyor_service_request_duration_seconds",
            "Latency of HTTP requests through a Service, by ReplicaSet, in seconds.",
            labels=["namespace", "service", "replicaset"],
        )
        for namespace, service, stats in self.source()():
            labels = [namespace, service, stats.replicaset]
            for code, count in stats.requests_by_class().items():
                if count:
                    requests.add_metric([*labels, code], count)
            histogram = stats.histogram()
            buckets = [
                ("+Inf" if math.isinf(le) else repr(le), count) for le, count in histogram.buckets
            ]
            duration.add_metric(labels, buckets, histogram.sum)
        yield requests
        yield duration


class Metrics:
    """The server's registry, and the observers that fill it."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # as Argo CD: no *_created
        self.registry = CollectorRegistry(auto_describe=True)
        self._applications: Applications = list
        self._lookup: Callable[[str], dict[str, Any] | None] = lambda _: None
        self.sync_total = Counter(
            "argocd_app_sync",
            "Number of application syncs, by phase.",
            ["namespace", "name", "project", "dest_server", "phase"],
            registry=self.registry,
        )
        self.reconcile = Histogram(
            "argocd_app_reconcile",
            "Application reconciliation performance, in seconds.",
            ["namespace", "dest_server"],
            buckets=RECONCILE_BUCKETS,
            registry=self.registry,
        )
        self.git_requests = Counter(
            "argocd_git_request",
            "Number of git requests performed.",
            ["repo", "request_type"],
            registry=self.registry,
        )
        self.git_duration = Histogram(
            "argocd_git_request_duration_seconds",
            "Git request duration, in seconds.",
            ["repo", "request_type"],
            registry=self.registry,
        )
        self.render_duration = Histogram(
            "conveyor_render_duration_seconds",
            "Manifest rendering duration (plain YAML, Kustomize, Helm), in seconds.",
            ["source_type", "outcome"],
            registry=self.registry,
        )
        self.registry.register(_AppInfo(lambda: self._applications()))
        self._service_traffic: ServiceTraffic = list
        self._live_objects: LiveObjects = list
        self.registry.register(RolloutMetrics(lambda: self._live_objects()))
        self.registry.register(_ServiceTraffic(lambda: self._service_traffic))
        self._dora: Latest = list
        self.registry.register(DoraMetrics(lambda: self._dora()))

    def bind_dora(self, latest: Latest) -> None:
        """Read DORA's figures (``conveyor_dora_*``) from ``latest`` at scrape time."""
        self._dora = latest

    def bind_service_traffic(self, source: ServiceTraffic) -> None:
        """Read the Service proxies' per-ReplicaSet stats from ``source`` at scrape time."""
        self._service_traffic = source

    def bind_live_objects(self, source: LiveObjects) -> None:
        """Read Rollouts and AnalysisRuns from ``source`` at scrape time (Argo's metrics)."""
        self._live_objects = source

    def bind(
        self,
        applications: Applications,
        lookup: Callable[[str], dict[str, Any] | None],
    ) -> None:
        """Read apps from a controller: all of them (app info), or one by name (labels)."""
        self._applications = applications
        self._lookup = lookup

    # -- ControllerObserver and engine events -----------------------------------------------

    def reconciled(self, app: str, duration: float) -> None:
        labels = _labels(self._lookup(app) or {})
        self.reconcile.labels(labels["namespace"], labels["dest_server"]).observe(duration)

    def on_event(self, event: EngineEvent) -> None:
        """The controller's event listener: every finished operation counts a sync."""
        if isinstance(event, OperationFinished):
            self.sync_finished(event.app, event.phase)

    def sync_finished(self, app: str, phase: str) -> None:
        labels = _labels(self._lookup(app) or {"metadata": {"name": app}})
        self.sync_total.labels(**labels, phase=phase).inc()

    # -- GitRequestObserver and RenderObserver ----------------------------------------------

    def git_request(self, request: GitRequest) -> None:
        kind = str(request.kind)
        self.git_requests.labels(request.repo, kind).inc()
        self.git_duration.labels(request.repo, kind).observe(request.duration)

    def render(
        self, *, source_type: SourceType, duration: float, cached: bool, failed: bool
    ) -> None:
        outcome = "failed" if failed else "cached" if cached else "rendered"
        self.render_duration.labels(str(source_type), outcome).observe(duration)
