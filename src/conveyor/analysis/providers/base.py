"""What every metric provider shares: the Protocol, and turning a value into a Measurement.

A provider takes one measurement of one metric (its placeholders already resolved) and
returns it: finished as Successful, Failed or Inconclusive by the metric's conditions, or as
Error with a message (an unreachable server, a bad answer, a condition that cannot be
evaluated), or still Running with ``resumeAt`` when the work takes a while (a Job); the
planner then hands it back through ``resume`` (or ``terminate`` when the run is stopping).
A provider never raises for those: an Error measurement is how Argo records them, and the
planner retries it after 10 s.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from conveyor.clock import Clock
from conveyor.model.analysis.expr import evaluate_result
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import AnalysisPhase, Measurement

URLResolver = Callable[[str], str]
"""Maps an address as written (``http://prometheus:9090``) to one this machine can reach.

It may raise ``conveyor.errors.ConveyorError`` when the address names something that is not
available (no Prometheus runs): the measurement is then an Error with its message."""


@dataclass(frozen=True)
class RunContext:
    """The run a measurement belongs to (providers that create objects name them by it)."""

    namespace: str = "default"
    run_name: str = ""
    run_uid: str = ""
    attempt: int = 1  # 1-based number of this measurement of the metric


class Provider(Protocol):
    """Takes measurements for the metrics of one provider kind (``prometheus``, ``web``)."""

    kind: str

    async def measure(self, metric: Metric, clock: Clock, context: RunContext) -> Measurement:
        """One measurement of ``metric``; errors are Error measurements."""
        ...

    async def resume(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        """The in-flight ``measurement`` checked again (finished, or still Running)."""
        ...

    async def terminate(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        """The in-flight ``measurement`` stopped because the run is ending."""
        ...

    def metadata(self, metric: Metric) -> dict[str, str]:
        """What to show beside the metric's result (e.g. the resolved query)."""
        ...


class Immediate:
    """Base of providers whose ``measure`` always finishes (no in-flight measurements)."""

    async def resume(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        return measurement

    async def terminate(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        return measurement

    def metadata(self, metric: Metric) -> dict[str, str]:
        return {}


def evaluated(
    metric: Metric, result: Any, value: str, started: Measurement, clock: Clock
) -> Measurement:
    """``started`` finished with ``value`` and the phase the metric's conditions give."""
    phase, error = evaluate_result(result, metric.success_condition, metric.failure_condition)
    return Measurement(
        phase=phase,
        started_at=started.started_at,
        finished_at=clock.now(),
        value=value,
        message=error,
        metadata=started.metadata,
    )


def errored(started: Measurement, message: str, clock: Clock) -> Measurement:
    """``started`` finished as an Error with ``message``."""
    return Measurement(
        phase=AnalysisPhase.ERROR,
        started_at=started.started_at,
        finished_at=clock.now(),
        value=started.value,
        message=message,
        metadata=started.metadata,
    )


def begin(clock: Clock) -> Measurement:
    """A measurement starting now."""
    return Measurement(AnalysisPhase.RUNNING, started_at=clock.now())


def go_float(value: float) -> str:
    """A float the way Go's ``strconv.FormatFloat(f, 'f', -1, 64)`` (and so Argo) prints it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    return text.removesuffix(".0") if "." in text and text.endswith(".0") else text


def json_text(value: Any) -> str:
    """A JSON value as text, for ``measurement.value``."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
