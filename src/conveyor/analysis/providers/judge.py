"""The ``conveyor/judge`` plugin: the canary ReplicaSet judged against the stable one.

Both ReplicaSets' traffic through the same Service over the same ``window`` (1m) goes to
``conveyor.analysis.judge``: Mann-Whitney U on latencies, Fisher's exact test on 5xx
counts, a 0-100 score. The measurement's value is the score; as Argo's kayenta provider
reads a score, it is Successful at or above ``thresholds.pass`` (95), Inconclusive at or
above ``thresholds.marginal`` (75) and Failed below. A metric that gives ``successCondition``
or ``failureCondition`` is decided by them instead, over ``result = [score]``. Each metric's
classification and its numbers are kept in the measurement's metadata.

No request on either side within the window is an Error measurement (retried after 10 s,
as Argo retries errors), not the score of 0 that Kayenta would give a canary without data.
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError as PydanticError

from conveyor.analysis.judge import Judgment, Sample, Verdict, judge
from conveyor.analysis.providers.base import Immediate, RunContext, begin, errored, evaluated
from conveyor.analysis.providers.builtin import NO_STATS, plugin_config
from conveyor.analysis.servicestats import ReplicaSetTraffic, ServiceStats, find_replicaset
from conveyor.clock import Clock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.plugins import (
    DEFAULT_CONFIDENCE,
    DEFAULT_MARGINAL,
    DEFAULT_PASS,
    DEFAULT_WINDOW,
    JUDGE,
    Direction,
    JudgeMetric,
)
from conveyor.model.analysis.status import AnalysisPhase, Measurement
from conveyor.model.durations import parse_duration

_PHASES = {
    Verdict.PASS: AnalysisPhase.SUCCESSFUL,
    Verdict.MARGINAL: AnalysisPhase.INCONCLUSIVE,
    Verdict.FAIL: AnalysisPhase.FAILED,
}


class JudgeProvider(Immediate):
    """Measures ``plugin: {conveyor/judge: ...}`` metrics."""

    kind = JUDGE

    def __init__(self, stats: ServiceStats | None) -> None:
        self._stats = stats

    async def measure(self, metric: Metric, clock: Clock, context: RunContext) -> Measurement:
        started = begin(clock)
        if self._stats is None:
            return errored(started, NO_STATS.format(name=JUDGE), clock)
        try:
            config = JudgeMetric.model_validate(plugin_config(metric, JUDGE))
            seconds = parse_duration(config.window or DEFAULT_WINDOW).total_seconds()
            namespace = config.namespace or context.namespace
            traffic = self._stats.service_stats(namespace, config.service)
            canary = _sample(find_replicaset(traffic, config.canary), seconds)
            stable = _sample(find_replicaset(traffic, config.stable), seconds)
        except (PydanticError, ValueError) as err:
            return errored(started, f"{JUDGE}: {err}", clock)
        thresholds = config.thresholds
        # the statistics take ~0.1 s on full reservoirs: off the event loop (the samples
        # were read on it, where the proxy records)
        judgment = await asyncio.to_thread(
            judge,
            canary,
            stable,
            pass_threshold=_float(thresholds.pass_ if thresholds else None, DEFAULT_PASS),
            marginal_threshold=_float(
                thresholds.marginal if thresholds else None, DEFAULT_MARGINAL
            ),
            confidence=_float(config.confidence, DEFAULT_CONFIDENCE),
            direction=Direction(config.direction or Direction.INCREASE),
        )
        details = Measurement(
            started.phase, started.started_at, metadata=_metadata(judgment, canary, stable)
        )
        if not judgment.has_data:
            window = config.window or DEFAULT_WINDOW
            return errored(
                details,
                f"no requests to compare in the last {window}: canary {canary.requests},"
                f" stable {stable.requests}",
                clock,
            )
        value = f"{judgment.score:g}"
        if metric.success_condition or metric.failure_condition:
            return evaluated(metric, [judgment.score], value, details, clock)
        return Measurement(
            _PHASES[judgment.verdict],
            started.started_at,
            finished_at=clock.now(),
            value=value,
            metadata=details.metadata,
        )


def _sample(traffic: ReplicaSetTraffic | None, seconds: float) -> Sample:
    if traffic is None:
        return Sample((), 0, 0)
    window = traffic.window(seconds)
    return Sample(traffic.latencies(seconds), window.by_class.get("5xx", 0), window.requests)


def _float(value: float | str | None, default: float) -> float:
    return default if value is None else float(value)


def _metadata(judgment: Judgment, canary: Sample, stable: Sample) -> dict[str, str]:
    out = {"score": f"{judgment.score:g}", "classification": judgment.verdict.value}
    for m in judgment.metrics:
        out[m.name] = f"{m.classification.value}: {m.reason}" if m.reason else m.classification
    out["requests"] = f"canary {canary.requests}, stable {stable.requests}"
    return out
