"""Argo's ``plugin`` provider: a metric names its plugin, and Conveyor's own plugins answer.

``provider: {plugin: {conveyor/builtin: {...}}}`` is measured by the plugin registered under
that name; a plugin Conveyor does not have gives an Error measurement that says so (the
manifest was accepted with a warning), as Argo does for a plugin it cannot load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from conveyor.analysis.providers.base import Provider, RunContext, begin, errored
from conveyor.clock import Clock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import Measurement


class PluginProvider:
    """Dispatches ``plugin`` metrics to the provider of the plugin they name."""

    kind = "plugin"

    def __init__(self, plugins: Mapping[str, Provider]) -> None:
        self._plugins = dict(plugins)

    def _pick(self, metric: Metric) -> Provider | None:
        names = list(metric.provider.plugin or {})
        return self._plugins.get(names[0]) if len(names) == 1 else None

    def _missing(self, metric: Metric, clock: Clock) -> Measurement:
        names = ", ".join(metric.provider.plugin or {}) or "(none)"
        return errored(begin(clock), f"metric provider plugin {names} is not available", clock)

    async def _with_plugin(
        self, metric: Metric, clock: Clock, call: Callable[[Provider], Awaitable[Measurement]]
    ) -> Measurement:
        """``call`` with the plugin ``metric`` names; an Error measurement when there is none."""
        plugin = self._pick(metric)
        if plugin is None:
            return self._missing(metric, clock)
        return await call(plugin)

    async def measure(self, metric: Metric, clock: Clock, context: RunContext) -> Measurement:
        return await self._with_plugin(metric, clock, lambda p: p.measure(metric, clock, context))

    async def resume(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        return await self._with_plugin(
            metric, clock, lambda p: p.resume(metric, measurement, clock, context)
        )

    async def terminate(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        return await self._with_plugin(
            metric, clock, lambda p: p.terminate(metric, measurement, clock, context)
        )

    def metadata(self, metric: Metric) -> dict[str, str]:
        plugin = self._pick(metric)
        return plugin.metadata(metric) if plugin is not None else {}
