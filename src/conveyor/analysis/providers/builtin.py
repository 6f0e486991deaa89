"""The ``conveyor/builtin`` plugin: one ReplicaSet's traffic through one Service, measured.

It reads the local runtime's per-ReplicaSet Service stats (``conveyor.analysis.
servicestats``) over ``window`` (1m) and returns what a Prometheus instant query would: a
one-element vector, so ``result[0] >= 0.95`` reads as it does for the prometheus provider.

- ``successRate``: the share of answers that were not 5xx; ``[]`` without requests (as
  Prometheus' ``sum(rate(...)) / sum(rate(...))`` over no series), so ``result[0]`` is an
  Error measurement, retried, rather than a made-up rate;
- ``latencyPercentile``: the nearest-rank ``percentile`` (99) of the recent latencies, in
  seconds; ``[]`` without requests;
- ``requestCount``: the answers in the window, ``[0]`` without requests.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticError

from conveyor.analysis.providers.base import (
    Immediate,
    RunContext,
    begin,
    errored,
    evaluated,
    go_float,
)
from conveyor.analysis.servicestats import ServiceStats, find_replicaset, percentile
from conveyor.clock import Clock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.plugins import (
    BUILTIN,
    DEFAULT_PERCENTILE,
    DEFAULT_WINDOW,
    BuiltinMetric,
    Measure,
)
from conveyor.model.analysis.status import Measurement
from conveyor.model.durations import parse_duration

NO_STATS = "the {name} plugin reads the local runtime's Service stats; none are available here"


def plugin_config(metric: Metric, name: str) -> Any:
    """The configuration a metric gives its plugin ``name``."""
    return (metric.provider.plugin or {}).get(name) or {}


def vector_text(values: list[float]) -> str:
    """A vector as the prometheus provider writes it in ``measurement.value``."""
    return "[" + ",".join(go_float(v) for v in values) + "]"


class BuiltinProvider(Immediate):
    """Measures ``plugin: {conveyor/builtin: ...}`` metrics."""

    kind = BUILTIN

    def __init__(self, stats: ServiceStats | None) -> None:
        self._stats = stats

    def metadata(self, metric: Metric) -> dict[str, str]:
        config = plugin_config(metric, BUILTIN)
        keys = ("service", "namespace", "replicaSet", "measure", "window")
        return {k: str(config[k]) for k in keys if config.get(k) is not None}

    async def measure(self, metric: Metric, clock: Clock, context: RunContext) -> Measurement:
        started = begin(clock)
        if self._stats is None:
            return errored(started, NO_STATS.format(name=BUILTIN), clock)
        try:
            config = BuiltinMetric.model_validate(plugin_config(metric, BUILTIN))
            seconds = parse_duration(config.window or DEFAULT_WINDOW).total_seconds()
            values = self._values(config, context, seconds)
        except (PydanticError, ValueError) as err:
            return errored(started, f"{BUILTIN}: {err}", clock)
        return evaluated(metric, values, vector_text(values), started, clock)

    def _values(self, config: BuiltinMetric, context: RunContext, seconds: float) -> list[float]:
        assert self._stats is not None
        namespace = config.namespace or context.namespace
        traffic = find_replicaset(
            self._stats.service_stats(namespace, config.service), config.replica_set
        )
        measure = Measure(config.measure)
        if traffic is None:
            return [0.0] if measure is Measure.REQUEST_COUNT else []
        if measure is Measure.LATENCY_PERCENTILE:
            p = config.percentile if config.percentile is not None else DEFAULT_PERCENTILE
            value = percentile(traffic.latencies(seconds), float(p))
            return [] if value is None else [value]
        window = traffic.window(seconds)
        if measure is Measure.REQUEST_COUNT:
            return [float(window.requests)]
        if window.requests == 0:
            return []
        return [(window.requests - window.by_class.get("5xx", 0)) / window.requests]
