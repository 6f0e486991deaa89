"""The AnalysisRun planner: Argo Rollouts' run logic as a pure function of spec, status and now.

A controller reconciles a run in three steps, all of them decided here:

1. ``plan(spec, status, now)`` -> ``Plan``: the metrics due now (``tasks``), the status
   assessed (each metric's phase, the run's phase and message, summaries) and when to wake
   next (``wake_at``). A completed run plans nothing.
2. The controller takes each task's measurement (a provider, off its worker) and records it
   with ``record(...)``, persisting the status before it acts on the outcome.
3. It calls ``plan`` again: the new measurements decide the phases.

The rules are Argo's: neither count nor interval means one measurement; interval alone
means measure until the run is terminated; an Error measurement is retried after 10 s and
does not count; a metric fails when failed > failureLimit (-1: never), is inconclusive when
inconclusive > inconclusiveLimit, errors when consecutiveError > consecutiveErrorLimit (4),
and succeeds early after consecutiveSuccessLimit successes in a row. A failed, errored or
inconclusive metric (unless dry-run) terminates the run: metrics measured indefinitely then
count as successful, and the run takes the worst phase. dryRun metrics never decide.

Two deliberate differences from Argo: a measurement is due at exactly ``finishedAt +
interval`` (Argo waits until strictly after, which spins a controller woken at that instant),
and the run summary counts each metric by its final phase.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from conveyor.model.analysis.args import ResolvedArgs
from conveyor.model.analysis.kinds import (
    DEFAULT_CONSECUTIVE_ERROR_LIMIT,
    DEFAULT_CONSECUTIVE_SUCCESS_LIMIT,
    DEFAULT_FAILURE_LIMIT,
    DEFAULT_INCONCLUSIVE_LIMIT,
    DEFAULT_MEASUREMENT_RETENTION,
    AnalysisRunSpec,
    Metric,
    int_value,
)
from conveyor.model.analysis.status import (
    AnalysisPhase,
    AnalysisRunStatus,
    Measurement,
    MetricResult,
    RunSummary,
    is_worse,
)
from conveyor.model.durations import parse_duration

ERROR_RETRY_INTERVAL = timedelta(seconds=10)
RUN_TERMINATED = "Run Terminated"

Phase = AnalysisPhase


@dataclass(frozen=True)
class MetricTask:
    """A metric to measure now; ``resume`` is its in-flight measurement, if any, to resume
    (or, when the run is terminating, to terminate)."""

    metric: Metric
    resume: Measurement | None = None
    terminate: bool = False


@dataclass(frozen=True)
class Plan:
    """What a reconcile of one run does: measure ``tasks``, write ``status``, wake at
    ``wake_at`` (None: nothing left to wait for)."""

    tasks: tuple[MetricTask, ...]
    status: AnalysisRunStatus
    wake_at: datetime | None


def plan(spec: AnalysisRunSpec, status: AnalysisRunStatus, now: datetime) -> Plan:
    """The next step of a run whose metrics' placeholders are already resolved."""
    if status.phase.completed:
        return Plan((), status, None)
    try:
        schedules = {m.name: _Schedule.of(m) for m in spec.metrics}
    except ValueError as err:
        failed = replace(
            status,
            phase=Phase.ERROR,
            message=f"Analysis spec invalid: {err}",
            started_at=status.started_at or now,
            completed_at=now,
        )
        return Plan((), failed, None)
    assessed = assess(spec, status, now, dry_run_metrics(spec))
    # Tasks follow the assessed status: a run that just failed measures nothing new (an
    # in-flight measurement is handed back to be terminated).
    terminating = _terminating(spec, assessed) or assessed.phase.completed
    tasks = tuple(_due(spec.metrics, schedules, assessed, now, terminating))
    wake = None if assessed.phase.completed else _next_wake(spec, schedules, assessed, now)
    return Plan(tasks, assessed, wake)


def record(
    spec: AnalysisRunSpec,
    status: AnalysisRunStatus,
    metric_name: str,
    measurement: Measurement,
    *,
    resumed: bool = False,
    args: ResolvedArgs | None = None,
    metadata: dict[str, str] | None = None,
) -> AnalysisRunStatus:
    """``status`` with ``measurement`` of ``metric_name`` recorded, counted and trimmed to
    the metric's retention (``measurementRetention``, else the latest 10).

    With ``args``, secret argument values are masked in what is recorded; ``metadata`` (the
    provider's, e.g. the resolved query) is set on the metric's result when it is created.
    """
    if args is not None:
        measurement = args.mask_measurement(measurement)
        metadata = args.mask_data(metadata)
    previous = status.result(metric_name) or MetricResult(
        name=metric_name, dry_run=metric_name in dry_run_metrics(spec), metadata=metadata or None
    )
    result = previous.with_measurement(measurement, replace_last=resumed)
    limit = retention_limit(spec, metric_name)
    if len(result.measurements) > limit:
        result = replace(result, measurements=result.measurements[-limit:])
    return status.with_result(result)


def dry_run_metrics(spec: AnalysisRunSpec) -> frozenset[str]:
    """Names of metrics in dry-run mode (``dryRun[].metricName`` is a regular expression)."""
    patterns = [re.compile(d.metric_name) for d in spec.dry_run or []]
    return frozenset(m.name for m in spec.metrics if any(p.search(m.name) for p in patterns))


def retention_limit(spec: AnalysisRunSpec, metric_name: str) -> int:
    """How many measurements of ``metric_name`` the status keeps."""
    for rule in spec.measurement_retention or []:
        if rule.limit > 0 and re.search(rule.metric_name, metric_name):
            return rule.limit
    return DEFAULT_MEASUREMENT_RETENTION


@dataclass(frozen=True)
class _Schedule:
    """A metric's numbers, parsed once."""

    interval: timedelta | None
    initial_delay: timedelta | None
    count: int | None  # None: measure until terminated
    failure_limit: int
    inconclusive_limit: int
    consecutive_error_limit: int
    consecutive_success_limit: int

    @classmethod
    def of(cls, metric: Metric) -> _Schedule:
        interval = parse_duration(metric.interval) if metric.interval is not None else None
        count = int_value(metric.count, 0)
        return cls(
            interval=interval,
            initial_delay=(
                parse_duration(metric.initial_delay) if metric.initial_delay is not None else None
            ),
            count=count if count > 0 else (None if interval is not None else 1),
            failure_limit=int_value(metric.failure_limit, DEFAULT_FAILURE_LIMIT),
            inconclusive_limit=int_value(metric.inconclusive_limit, DEFAULT_INCONCLUSIVE_LIMIT),
            consecutive_error_limit=int_value(
                metric.consecutive_error_limit, DEFAULT_CONSECUTIVE_ERROR_LIMIT
            ),
            consecutive_success_limit=int_value(
                metric.consecutive_success_limit, DEFAULT_CONSECUTIVE_SUCCESS_LIMIT
            ),
        )


def _terminating(spec: AnalysisRunSpec, status: AnalysisRunStatus) -> bool:
    if spec.terminate:
        return True
    bad = (Phase.FAILED, Phase.ERROR, Phase.INCONCLUSIVE)
    return any(r.phase in bad and not r.dry_run for r in status.metric_results)


def _due(
    metrics: Sequence[Metric],
    schedules: dict[str, _Schedule],
    status: AnalysisRunStatus,
    now: datetime,
    terminating: bool,
) -> list[MetricTask]:
    tasks = []
    for metric in metrics:
        schedule = schedules[metric.name]
        result = status.result(metric.name)
        if result is not None and result.phase.completed:
            continue
        last = result.last if result else None
        if last is not None and last.finished_at is None:
            # a run that ends stops its in-flight measurements now, not at their resume time
            if terminating or last.resume_at is None or last.resume_at <= now:
                tasks.append(MetricTask(metric, resume=last, terminate=terminating))
            continue
        if terminating:
            continue
        if last is None or result is None:
            if schedule.initial_delay is not None and (
                status.started_at is None or status.started_at + schedule.initial_delay > now
            ):
                continue
            tasks.append(MetricTask(metric))
            continue
        if schedule.count is not None and result.count >= schedule.count:
            continue
        assert last.finished_at is not None
        if last.finished_at + _interval(schedule, last) <= now:
            tasks.append(MetricTask(metric))
    return tasks


def _interval(schedule: _Schedule, last: Measurement) -> timedelta:
    if last.phase is Phase.ERROR or schedule.interval is None:
        return ERROR_RETRY_INTERVAL
    return schedule.interval


def assess(
    spec: AnalysisRunSpec, status: AnalysisRunStatus, now: datetime, dry: frozenset[str]
) -> AnalysisRunStatus:
    """Each metric's phase, then the run's phase, message and summaries."""
    terminating = _terminating(spec, status)
    worst: Phase | None = None
    message = RUN_TERMINATED if spec.terminate else ""
    everything_completed = True
    summary = {False: RunSummary(), True: RunSummary()}
    for metric in spec.metrics:
        is_dry = metric.name in dry
        summary[is_dry] = replace(summary[is_dry], count=summary[is_dry].count + 1)
        result = status.result(metric.name)
        if result is None:
            everything_completed = False
            continue
        schedule = _Schedule.of(metric)
        phase = _metric_phase(schedule, result, terminating)
        why = _limit_breached(schedule, result)[1]
        last = result.last
        if phase is not result.phase:
            result = replace(result, phase=phase, message=last.message if last else "")
        if not phase.completed:
            everything_completed = False
        elif not is_dry:
            if worst is None or is_worse(phase, worst):
                worst = phase
                if why:
                    message = f'Metric "{metric.name}" assessed {phase} due to {why}'
                    if result.message:
                        message += f': "Error Message: {result.message}"'
        else:
            worst = worst or Phase.SUCCESSFUL
            if why:
                result = replace(result, message=f"Metric assessed {phase} due to {why}")
        if phase.completed:
            summary[is_dry] = _count(summary[is_dry], phase)
        status = status.with_result(result)
    status = replace(
        status,
        started_at=status.started_at or now,
        run_summary=summary[False],
        dry_run_summary=summary[True],
    )
    if terminating:
        return _finish(status, worst or Phase.SUCCESSFUL, message, now)
    if not everything_completed or worst is None:
        return replace(status, phase=Phase.RUNNING, message="")
    return _finish(status, worst, message, now)


def _finish(
    status: AnalysisRunStatus, phase: Phase, message: str, now: datetime
) -> AnalysisRunStatus:
    return replace(status, phase=phase, message=message.strip(), completed_at=now)


def _count(summary: RunSummary, phase: Phase) -> RunSummary:
    name = {
        Phase.SUCCESSFUL: "successful",
        Phase.FAILED: "failed",
        Phase.INCONCLUSIVE: "inconclusive",
        Phase.ERROR: "error",
    }[phase]
    return replace(summary, **{name: getattr(summary, name) + 1})


def _limit_breached(schedule: _Schedule, result: MetricResult) -> tuple[Phase | None, str]:
    phase: Phase | None = None
    why = ""
    if schedule.failure_limit >= 0 and result.failed > schedule.failure_limit:
        phase = Phase.FAILED
        why = f"failed ({result.failed}) > failureLimit ({schedule.failure_limit})"
    if result.inconclusive > schedule.inconclusive_limit:
        phase = Phase.INCONCLUSIVE
        why = (
            f"inconclusive ({result.inconclusive}) > inconclusiveLimit"
            f" ({schedule.inconclusive_limit})"
        )
    if result.consecutive_error > schedule.consecutive_error_limit:
        phase = Phase.ERROR
        why = (
            f"consecutiveErrors ({result.consecutive_error}) > consecutiveErrorLimit"
            f" ({schedule.consecutive_error_limit})"
        )
    return phase, why


def _metric_phase(schedule: _Schedule, result: MetricResult, terminating: bool) -> Phase:
    if result.phase.completed:
        return result.phase
    last = result.last
    if last is None:
        return Phase.SUCCESSFUL if terminating else Phase.PENDING
    if last.finished_at is None or not last.phase.completed:
        return Phase.RUNNING
    breached, _ = _limit_breached(schedule, result)
    if breached is not None:
        return breached
    successes = schedule.consecutive_success_limit
    if successes > 0 and result.consecutive_success >= successes:
        return Phase.SUCCESSFUL
    if schedule.count is not None and result.count >= schedule.count:
        failure_applies = schedule.failure_limit >= 0
        if failure_applies and successes > 0:
            return Phase.INCONCLUSIVE  # neither limit was reached within count
        return Phase.SUCCESSFUL if failure_applies else Phase.FAILED
    return Phase.SUCCESSFUL if terminating else Phase.RUNNING


def _next_wake(
    spec: AnalysisRunSpec,
    schedules: dict[str, _Schedule],
    status: AnalysisRunStatus,
    now: datetime,
) -> datetime | None:
    times: list[datetime] = []
    for metric in spec.metrics:
        schedule = schedules[metric.name]
        result = status.result(metric.name)
        if result is not None and result.phase.completed:
            continue
        last = result.last if result else None
        if last is None:
            if schedule.initial_delay is not None:
                times.append((status.started_at or now) + schedule.initial_delay)
            else:
                times.append(now)  # never measured: due now
            continue
        if last.finished_at is None:
            if last.resume_at is not None:
                times.append(last.resume_at)
            continue
        if result is not None and schedule.count is not None and result.count >= schedule.count:
            continue
        times.append(last.finished_at + _interval(schedule, last))
    return min(times) if times else None
