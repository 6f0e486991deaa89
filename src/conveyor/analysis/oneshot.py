"""One measurement of every metric of a template, now: what ``conveyor analysis run`` shows.

A person trying a template before a release depends on it wants each metric's value and
verdict against live data, not a schedule: so each metric (args resolved, dry-run marked) is
measured once, all at the same time, and values and messages have secret args masked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.analysis.planner import dry_run_metrics
from conveyor.analysis.providers import Provider, measure
from conveyor.clock import Clock
from conveyor.model.analysis.args import ResolvedArgs, render_metric
from conveyor.model.analysis.kinds import AnalysisRunSpec, AnalysisTemplateSpec, Metric
from conveyor.model.analysis.status import Measurement


@dataclass(frozen=True)
class MetricVerdict:
    """One metric's single measurement."""

    name: str
    provider: str
    measurement: Measurement
    dry_run: bool


async def evaluate_once(
    spec: AnalysisTemplateSpec,
    args: ResolvedArgs,
    providers: Mapping[str, Provider],
    clock: Clock,
) -> list[MetricVerdict]:
    """Each metric of ``spec`` measured once, in the template's order."""
    dry = dry_run_metrics(AnalysisRunSpec.model_validate(spec.model_dump(by_alias=True)))
    metrics = [render_metric(m, args) for m in spec.metrics]
    measurements = await asyncio.gather(*(_one(m, providers, clock) for m in metrics))
    return [
        MetricVerdict(m.name, m.provider.kind, args.mask_measurement(result), m.name in dry)
        for m, result in zip(metrics, measurements, strict=True)
    ]


async def _one(metric: Metric, providers: Mapping[str, Provider], clock: Clock) -> Measurement:
    return await measure(metric, providers, clock)
