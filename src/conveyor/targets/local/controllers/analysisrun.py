"""The AnalysisRun controller's decisions, as a pure function of the run and ``now``.

Argo Rollouts' analysis controller reads a run, resolves its args (a Secret's key in the
run's namespace, a field of the object that owns the run), renders its metrics and asks the
run logic (``conveyor.analysis.planner``) what to measure and which phase the run is in. This
module does the same and returns an ``AnalysisRunPlan``; the runtime's ``AnalysisRunner``
writes its status, takes the measurements off the worker and wakes the run when it is due.

A run that cannot start (a spec the kinds refuse, an argument without a value, a Secret key
that is missing) ends in phase Error with a message that says why, as in Argo; a Secret's
value never appears in that message or anywhere in the status.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError as PydanticError

from conveyor.analysis import planner
from conveyor.analysis.planner import MetricTask
from conveyor.model.analysis.args import (
    ArgumentError,
    FieldLookup,
    ResolvedArgs,
    SecretLookup,
    render_metric,
    resolve_args,
)
from conveyor.model.analysis.jsonpath import JSONPathError, find_first
from conveyor.model.analysis.kinds import AnalysisRunSpec
from conveyor.model.analysis.status import AnalysisPhase, AnalysisRunStatus
from conveyor.model.objects import Object

RETRY_WHEN_IDLE = 1.0  # seconds; a safety net when due work is neither started nor in flight


@dataclass(frozen=True)
class AnalysisRunPlan:
    """What one reconcile of a run does.

    Write ``status``; start ``tasks`` (each a measurement, a resume or a terminate of one
    metric, placeholders resolved) with ``spec`` and ``args`` to record their results; look
    again after ``requeue_after`` seconds (None: when a measurement ends or the run changes).
    A ``completed`` run measures nothing new.
    """

    status: dict[str, Any]
    tasks: tuple[MetricTask, ...] = ()
    spec: AnalysisRunSpec | None = None
    args: ResolvedArgs = field(default_factory=lambda: ResolvedArgs({}))
    requeue_after: float | None = None
    completed: bool = False


def plan_analysisrun(
    run: Object,
    now: datetime,
    *,
    secrets: SecretLookup,
    fields: FieldLookup,
) -> AnalysisRunPlan:
    """The next step of ``run``: its status, the measurements due, when to look again."""
    status = AnalysisRunStatus.from_dict(run.get("status"))
    if status.phase.completed:
        return AnalysisRunPlan(status.to_dict(), completed=True)
    args = ResolvedArgs({})
    try:
        spec = AnalysisRunSpec.model_validate(run.get("spec") or {})
        args = resolve_args(spec.args, secrets=secrets, fields=fields)
        rendered = spec.model_copy(
            update={"metrics": [render_metric(m, args) for m in spec.metrics]}
        )
    except (ArgumentError, PydanticError, ValueError) as err:
        return _errored(status, args.mask(_one_line(err)), now)
    step = planner.plan(rendered, status, now)
    requeue = None
    if step.wake_at is not None and not step.status.phase.completed:
        delay = (step.wake_at - now).total_seconds()
        if delay > 0:
            requeue = delay
        elif not step.tasks:
            requeue = RETRY_WHEN_IDLE
    return AnalysisRunPlan(
        status=step.status.to_dict(),
        tasks=step.tasks,
        spec=rendered,
        args=args,
        requeue_after=requeue,
        completed=step.status.phase.completed,
    )


def attempt_of(status: AnalysisRunStatus, metric: str) -> int:
    """The 1-based number of the next measurement of ``metric`` (names its Job)."""
    result = status.result(metric)
    return 1 if result is None else result.count + result.error + 1


def field_lookup(obj: Object) -> FieldLookup:
    """``fieldRef.fieldPath`` read from ``obj`` (``metadata.labels['app']``, ``spec.x[0]``)."""

    def lookup(path: str) -> str | None:
        try:
            value = find_first("{." + path.strip().lstrip(".") + "}", obj)
        except JSONPathError:
            return None
        if value is None or isinstance(value, dict | list):
            return None
        return str(value).lower() if isinstance(value, bool) else str(value)

    return lookup


def _errored(status: AnalysisRunStatus, message: str, now: datetime) -> AnalysisRunPlan:
    failed = replace(
        status,
        phase=AnalysisPhase.ERROR,
        message=message,
        started_at=status.started_at or now,
        completed_at=now,
    )
    return AnalysisRunPlan(failed.to_dict(), completed=True)


def _one_line(err: Exception) -> str:
    if isinstance(err, PydanticError):
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in err.errors()
        ]
        return "Analysis spec invalid: " + "; ".join(problems)
    return str(err)
