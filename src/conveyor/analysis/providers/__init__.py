"""Metric providers behind one Protocol, chosen by the kind a metric names.

``default_providers()`` gives the providers Conveyor ships (``prometheus``, ``web``, ``job``
when a target to run Jobs on is given, and ``plugin`` with Conveyor's own plugins,
``conveyor/builtin`` and ``conveyor/judge``, which read the Service stats when given);
``measure``/``resume``/``terminate`` take a measurement with the right one, and turn a
metric whose provider Conveyor lacks (``datadog``, an unknown ``plugin``) into an Error
measurement that says so, as Argo does for a provider it cannot build.

``resolve_url`` lets the embedded runtime map the addresses written in templates
(``http://prometheus:9090``, ``svc.ns.svc.cluster.local:port``) to local ports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from conveyor.analysis.providers.base import Provider as Provider
from conveyor.analysis.providers.base import RunContext, URLResolver, begin, errored
from conveyor.analysis.providers.builtin import BuiltinProvider
from conveyor.analysis.providers.job import JobProvider, JobTarget
from conveyor.analysis.providers.judge import JudgeProvider
from conveyor.analysis.providers.plugin import PluginProvider
from conveyor.analysis.providers.prometheus import PrometheusProvider
from conveyor.analysis.providers.web import WebProvider
from conveyor.analysis.servicestats import ServiceStats
from conveyor.clock import Clock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import Measurement

__all__ = [
    "BuiltinProvider",
    "JobProvider",
    "JudgeProvider",
    "PluginProvider",
    "PrometheusProvider",
    "Provider",
    "RunContext",
    "WebProvider",
    "default_providers",
    "measure",
    "resume",
    "terminate",
]


def default_providers(
    resolve_url: URLResolver | None = None,
    jobs: JobTarget | None = None,
    stats: ServiceStats | None = None,
) -> dict[str, Provider]:
    """The providers Conveyor ships, by kind (``job`` only with a target for its Jobs; the
    plugins error without ``stats``, saying so)."""
    providers: dict[str, Provider] = {
        "prometheus": PrometheusProvider(resolve_url),
        "web": WebProvider(resolve_url),
        "plugin": PluginProvider(
            {BuiltinProvider.kind: BuiltinProvider(stats), JudgeProvider.kind: JudgeProvider(stats)}
        ),
    }
    if jobs is not None:
        providers["job"] = JobProvider(jobs)
    return providers


def _missing(metric: Metric, clock: Clock) -> Measurement:
    kind = metric.provider.kind
    plugin = metric.provider.plugin
    what = f"plugin {', '.join(plugin)}" if kind == "plugin" and plugin else kind or "none"
    return errored(begin(clock), f"metric provider {what} is not available", clock)


async def _with_provider(
    metric: Metric,
    providers: Mapping[str, Provider],
    clock: Clock,
    call: Callable[[Provider], Awaitable[Measurement]],
) -> Measurement:
    """``call`` with the provider ``metric`` names; an Error measurement when there is none."""
    provider = providers.get(metric.provider.kind)
    if provider is None:
        return _missing(metric, clock)
    return await call(provider)


async def measure(
    metric: Metric,
    providers: Mapping[str, Provider],
    clock: Clock,
    context: RunContext | None = None,
) -> Measurement:
    """A new measurement of ``metric`` (placeholders resolved)."""
    ctx = context or RunContext()
    return await _with_provider(metric, providers, clock, lambda p: p.measure(metric, clock, ctx))


async def resume(
    metric: Metric,
    measurement: Measurement,
    providers: Mapping[str, Provider],
    clock: Clock,
    context: RunContext | None = None,
) -> Measurement:
    """An in-flight measurement checked again."""
    ctx = context or RunContext()
    return await _with_provider(
        metric, providers, clock, lambda p: p.resume(metric, measurement, clock, ctx)
    )


async def terminate(
    metric: Metric,
    measurement: Measurement,
    providers: Mapping[str, Provider],
    clock: Clock,
    context: RunContext | None = None,
) -> Measurement:
    """An in-flight measurement stopped because its run ends."""
    ctx = context or RunContext()
    return await _with_provider(
        metric, providers, clock, lambda p: p.terminate(metric, measurement, clock, ctx)
    )
