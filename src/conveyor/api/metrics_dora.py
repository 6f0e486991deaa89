"""``conveyor_dora_*``: DORA's four keys per app and environment, over the last 30 days.

    conveyor_dora_deployments{app,env}                 deployments counted in the window
    conveyor_dora_deployment_frequency{app,env}        deployments per day
    conveyor_dora_lead_time_seconds{app,env}           median, change to deployment
    conveyor_dora_change_failure_rate{app,env}         failed / deployments (0..1)
    conveyor_dora_time_to_restore_seconds{app,env}     median, failure to restore

Read at scrape time from ``api.dora_figures.DoraFigures.latest`` (computed off the scrape);
a figure that is not known (no change, no restored failure) has no sample rather than a 0.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from conveyor.engine.dora import Figures

Latest = Callable[[], list[Figures]]


class DoraMetrics(Collector):
    def __init__(self, latest: Latest) -> None:
        self.latest = latest

    def collect(self) -> Iterator[Metric]:
        labels = ["app", "env"]
        families = {
            "deployments": GaugeMetricFamily(
                "conveyor_dora_deployments",
                "Deployments in the last 30 days (DORA: counted when first Healthy and Synced).",
                labels=labels,
            ),
            "frequency": GaugeMetricFamily(
                "conveyor_dora_deployment_frequency",
                "DORA deployment frequency: deployments per day over the last 30 days.",
                labels=labels,
            ),
            "lead": GaugeMetricFamily(
                "conveyor_dora_lead_time_seconds",
                "DORA lead time for changes: median seconds from commit to deployment.",
                labels=labels,
            ),
            "failure": GaugeMetricFamily(
                "conveyor_dora_change_failure_rate",
                "DORA change failure rate: failed deployments / deployments (0 to 1).",
                labels=labels,
            ),
            "restore": GaugeMetricFamily(
                "conveyor_dora_time_to_restore_seconds",
                "DORA time to restore: median seconds from a failure to serving another revision.",
                labels=labels,
            ),
        }
        for figures in self.latest():
            key = [figures.app, figures.env]
            families["deployments"].add_metric(key, figures.deployments)
            families["frequency"].add_metric(key, figures.deployment_frequency)
            for name, value in (
                ("lead", figures.lead_time),
                ("failure", figures.change_failure_rate),
                ("restore", figures.time_to_restore),
            ):
                if value is not None:
                    families[name].add_metric(key, value)
        yield from families.values()
