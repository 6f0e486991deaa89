"""The ``job`` provider: a Job whose outcome is the measurement, as in Argo Rollouts.

Measuring creates a Job from ``provider.job`` (its metadata's labels and annotations copied,
plus Argo's labels naming the run and metric, and owned by the run when it has a uid) and
returns a Running measurement that names the Job and asks to be resumed shortly. Resuming
reads the Job: Complete is Successful, Failed is Failed, anything else still Running.
Terminating deletes the Job and ends the measurement as Successful with "Metric Terminated",
as Argo does. A Job that disappeared is
an Error.

The provider talks to the target through ``JobTarget``, the three calls of Conveyor's Target
protocol it needs, so the local runtime (or a Kubernetes target) plugs in without this
layer importing it.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from typing import Any, Protocol

from conveyor.analysis.providers.base import RunContext, begin, errored
from conveyor.clock import Clock
from conveyor.errors import ConveyorError
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import AnalysisPhase, Measurement
from conveyor.model.objects import Object, ObjectKey

POLL = timedelta(seconds=1)  # how soon an in-flight Job is looked at again
JOB_NAME = "job-name"  # measurement metadata keys, as Argo writes them
JOB_NAMESPACE = "job-namespace"
RUN_UID_LABEL = "analysisrun.argoproj.io/uid"
RUN_NAME_LABEL = "analysisrun.argoproj.io/name"
METRIC_LABEL = "analysisrun.argoproj.io/metric-name"
_INVALID = re.compile(r"[^a-z0-9.-]+")


class JobTarget(Protocol):
    """What the job provider needs of a target (``conveyor.targets.protocol.Target`` has it)."""

    async def apply(self, obj: Object) -> Object: ...

    async def get(self, key: ObjectKey) -> Object | None: ...

    async def delete(self, key: ObjectKey) -> bool: ...


def job_name(context: RunContext, metric: str) -> str:
    """``<run uid or name>.<metric>.<attempt>``, as a valid object name."""
    raw = f"{context.run_uid or context.run_name or 'analysis'}.{metric}.{context.attempt}"
    return _INVALID.sub("-", raw.lower()).strip("-.")[:253]


class JobProvider:
    """Measures ``provider.job`` metrics on a target."""

    kind = "job"

    def __init__(self, target: JobTarget) -> None:
        self._target = target

    def metadata(self, metric: Metric) -> dict[str, str]:
        return {}

    async def measure(self, metric: Metric, clock: Clock, context: RunContext) -> Measurement:
        started = begin(clock)
        spec = metric.provider.job
        if spec is None:
            return errored(started, "the metric has no job provider", clock)
        name = job_name(context, metric.name)
        job = _job(spec.metadata or {}, spec.spec, name, context, metric.name)
        try:
            await self._target.apply(job)
        except ConveyorError as err:
            return errored(started, f"cannot create Job {name}: {err}", clock)
        return Measurement(
            AnalysisPhase.RUNNING,
            started_at=started.started_at,
            metadata={JOB_NAME: name, JOB_NAMESPACE: context.namespace},
            resume_at=clock.now() + POLL,
        )

    async def resume(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        key = _key(measurement, context)
        job = await self._target.get(key)
        if job is None:
            return errored(measurement, f"Job {key.name} not found", clock)
        conditions = {
            c.get("type"): c
            for c in (job.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"
        }
        if "Complete" in conditions:
            return _finished(measurement, AnalysisPhase.SUCCESSFUL, "", clock)
        if "Failed" in conditions:
            message = str(conditions["Failed"].get("message") or "Job failed")
            return _finished(measurement, AnalysisPhase.FAILED, message, clock)
        return Measurement(
            measurement.phase,
            measurement.started_at,
            metadata=measurement.metadata,
            resume_at=clock.now() + POLL,
        )

    async def terminate(
        self, metric: Metric, measurement: Measurement, clock: Clock, context: RunContext
    ) -> Measurement:
        await self._target.delete(_key(measurement, context))
        return _finished(measurement, AnalysisPhase.SUCCESSFUL, "Metric Terminated", clock)


def _key(measurement: Measurement, context: RunContext) -> ObjectKey:
    meta = measurement.metadata or {}
    return ObjectKey("batch", "Job", meta.get(JOB_NAMESPACE) or context.namespace, meta[JOB_NAME])


def _finished(
    measurement: Measurement, phase: AnalysisPhase, message: str, clock: Clock
) -> Measurement:
    return Measurement(
        phase,
        measurement.started_at,
        finished_at=clock.now(),
        message=message,
        metadata=measurement.metadata,
    )


def _job(
    metadata: dict[str, Any], spec: dict[str, Any], name: str, context: RunContext, metric: str
) -> Object:
    labels = dict(metadata.get("labels") or {})
    labels[METRIC_LABEL] = _INVALID.sub("-", metric.lower())[:63].strip("-.") or "metric"
    if context.run_uid:
        labels[RUN_UID_LABEL] = context.run_uid
    if context.run_name:
        labels[RUN_NAME_LABEL] = context.run_name[:63]
    meta: dict[str, Any] = {"name": name, "namespace": context.namespace, "labels": labels}
    if context.run_uid and context.run_name:  # deleting the run deletes its Jobs, as in Argo
        meta["ownerReferences"] = [
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
             "name": context.run_name, "uid": context.run_uid, "controller": True,
             "blockOwnerDeletion": True}
        ]  # fmt: skip
    if metadata.get("annotations"):
        meta["annotations"] = dict(metadata["annotations"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": copy.deepcopy(spec)}
