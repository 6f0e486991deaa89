"""Argo Rollouts' own metrics on ``/metrics``, computed from the live objects at scrape time.

``rollout_info{namespace,name,strategy,traffic_router,phase}`` (1 per Rollout),
``rollout_phase{namespace,name,strategy,phase}`` (deprecated in Argo, kept: 1 for the
current phase, 0 for the others), ``analysis_run_info{namespace,name,phase}`` and
``analysis_run_metric_phase{namespace,name,metric,type,dry_run,phase}``, with Argo Rollouts'
names and labels, so its dashboards and alerts work unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LiveObjects = Callable[[], Iterable[dict[str, Any]]]

ROLLOUT_PHASES = ("Progressing", "Paused", "Healthy", "Degraded")
RUN_PHASES = ("Pending", "Running", "Successful", "Failed", "Error", "Inconclusive")
ROUTERS = {
    "istio": "Istio", "nginx": "Nginx", "smi": "SMI", "alb": "ALB", "ambassador": "Ambassador",
    "appMesh": "AppMesh", "traefik": "Traefik", "apisix": "Apisix", "plugins": "Plugins",
}  # fmt: skip


def _is(obj: dict[str, Any], kind: str) -> bool:
    return obj.get("kind") == kind and str(obj.get("apiVersion", "")).startswith("argoproj.io/")


def _ids(obj: dict[str, Any]) -> list[str]:
    meta = obj.get("metadata") or {}
    return [str(meta.get("namespace") or ""), str(meta.get("name") or "")]


def _rollout_labels(rollout: dict[str, Any]) -> tuple[str, str, str]:
    """(strategy, traffic_router, phase), as Argo labels them."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    status = rollout.get("status") or {}
    if "blueGreen" in strategy:
        kind, router = "blueGreen", ""
    else:
        kind = "canary"
        routing = (strategy.get("canary") or {}).get("trafficRouting") or {}
        router = ",".join(ROUTERS.get(k, k) for k in sorted(routing)) if routing else ""
    phase = str(status.get("phase") or "Progressing")
    if (rollout.get("spec") or {}).get("paused") or status.get("pauseConditions"):
        phase = "Paused"
    if status.get("abort"):
        phase = "Degraded"
    return kind, router, phase


def _provider(metric_spec: dict[str, Any]) -> str:
    provider = metric_spec.get("provider") or {}
    name = next(iter(provider), "")
    return {"cloudWatch": "CloudWatch", "newRelic": "NewRelic"}.get(
        name, name[:1].upper() + name[1:]
    )


class RolloutMetrics(Collector):
    """The four families, from whatever ``objects()`` returns at scrape time."""

    def __init__(self, objects: LiveObjects) -> None:
        self.objects = objects

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "rollout_info", "Information about rollout.",
            labels=["namespace", "name", "strategy", "traffic_router", "phase"],
        )  # fmt: skip
        phases = GaugeMetricFamily(
            "rollout_phase",
            "Information on the state of the rollout (DEPRECATED - use rollout_info)",
            labels=["namespace", "name", "strategy", "phase"],
        )
        runs = GaugeMetricFamily(
            "analysis_run_info", "Information about analysis run.",
            labels=["namespace", "name", "phase"],
        )  # fmt: skip
        metric_phases = GaugeMetricFamily(
            "analysis_run_metric_phase",
            "Information on the duration of a specific metric in the Analysis Run",
            labels=["namespace", "name", "metric", "type", "dry_run", "phase"],
        )
        for obj in self.objects():
            if _is(obj, "Rollout"):
                strategy, router, phase = _rollout_labels(obj)
                info.add_metric([*_ids(obj), strategy, router, phase], 1.0)
                for candidate in ROLLOUT_PHASES:
                    phases.add_metric(
                        [*_ids(obj), strategy, candidate], 1.0 if candidate == phase else 0.0
                    )
            elif _is(obj, "AnalysisRun"):
                self._run(obj, runs, metric_phases)
        yield info
        yield phases
        yield runs
        yield metric_phases

    @staticmethod
    def _run(run: dict[str, Any], runs: GaugeMetricFamily, metrics: GaugeMetricFamily) -> None:
        spec, status = run.get("spec") or {}, run.get("status") or {}
        runs.add_metric([*_ids(run), str(status.get("phase") or "Pending")], 1.0)
        results = {str(r.get("name")): r for r in status.get("metricResults") or []}
        dry = {str(d.get("metricName")) for d in spec.get("dryRun") or []}
        for metric_spec in spec.get("metrics") or []:
            name = str(metric_spec.get("name") or "")
            phase = str((results.get(name) or {}).get("phase") or "Pending")
            dry_run = "true" if name in dry or "*" in dry else "false"
            for candidate in RUN_PHASES:
                metrics.add_metric(
                    [*_ids(run), name, _provider(metric_spec), dry_run, candidate],
                    1.0 if candidate == phase else 0.0,
                )
