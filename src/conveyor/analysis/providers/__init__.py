"""Metric providers behind one Protocol, chosen by the kind a metric names.

``default_providers()`` gives the providers Conveyor ships (``prometheus``, ``web``);
``measure(metric, providers, clock)`` takes one measurement with the right one, and turns a
metric whose provider Conveyor lacks (``datadog``, an unknown ``plugin``) into an Error
measurement that says so, as Argo does for a provider it cannot build.

``resolve_url`` lets the embedded runtime map the addresses written in templates
(``http://prometheus:9090``, ``svc.ns.svc.cluster.local:port``) to local ports.
"""

from __future__ import annotations

from collections.abc import Mapping

from conveyor.analysis.providers.base import Provider as Provider
from conveyor.analysis.providers.base import URLResolver, begin, errored
from conveyor.analysis.providers.prometheus import PrometheusProvider
from conveyor.analysis.providers.web import WebProvider
from conveyor.clock import Clock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import Measurement

__all__ = ["PrometheusProvider", "Provider", "WebProvider", "default_providers", "measure"]


def default_providers(resolve_url: URLResolver | None = None) -> dict[str, Provider]:
    """The providers Conveyor ships, by kind."""
    return {
        "prometheus": PrometheusProvider(resolve_url),
        "web": WebProvider(resolve_url),
    }


async def measure(metric: Metric, providers: Mapping[str, Provider], clock: Clock) -> Measurement:
    """One finished measurement of ``metric`` (placeholders resolved)."""
    kind = metric.provider.kind
    provider = providers.get(kind)
    if provider is None:
        plugin = metric.provider.plugin
        what = f"plugin {', '.join(plugin)}" if kind == "plugin" and plugin else kind or "none"
        return errored(begin(clock), f"metric provider {what} is not available", clock)
    return await provider.measure(metric, clock)
