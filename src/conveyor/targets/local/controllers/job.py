"""The Job controller as a pure plan: run Pods of a template until enough of them succeed.

Kubernetes' Job controller (pkg/controller/job) keeps up to ``parallelism`` Pods running and
never more than the completions still missing, replaces failed Pods after an exponential
delay, and ends the Job with a terminal condition: Complete once ``completions`` Pods have
succeeded (or, without completions, once one has and none still runs); Failed with
BackoffLimitExceeded once more Pods have failed than ``backoffLimit`` allows (for
restartPolicy OnFailure, also once the containers have restarted that often), or with
DeadlineExceeded after ``activeDeadlineSeconds`` of activity. Suspending deletes the active
Pods and stops the clock; resuming starts it again. Sync hooks are Jobs, so these rules decide
whether a hook passed.

Deliberate differences, because the Pods that exist are counted instead of being tracked with
finalizers: ``succeeded`` and ``failed`` never go down (a finished Pod deleted by hand stays
counted), and a Pod deleted while it runs (by the Job on suspend or scale-down, or by a user)
is replaced without counting as a failure. Only the NonIndexed completion mode is run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.backoff import exponential_delay
from conveyor.clock import rfc3339
from conveyor.model.objects import Object
from conveyor.targets.local.controllers import common as c

DEFAULT_BACKOFF_LIMIT = 6
"""spec.backoffLimit when unset, as the Kubernetes API defaults it."""
POD_FAILURE_BACKOFF = 10.0
"""Seconds before the first replacement of a failed Pod; doubles with each further failure."""
MAX_POD_FAILURE_BACKOFF = 600.0
"""The longest wait before a failed Pod is replaced (Kubernetes' MaxJobPodFailureBackOff)."""
MAX_PODS_PER_SYNC = 500
"""At most this many Pods are created or deleted in one plan (MaxPodCreateDeletePerSync)."""
LABEL_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
"""Ties a Pod to the Job that made it, by uid (the API server puts it on the template)."""
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
"""The Job's name on its Pods, for ``kubectl get pods -l job-name=...``."""

COMPLETE, FAILED, SUSPENDED = "Complete", "Failed", "Suspended"
_LEGACY_LABELS = {LABEL_CONTROLLER_UID: "controller-uid", LABEL_JOB_NAME: "job-name"}
_RESTART_POLICIES = ("OnFailure", "Never")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class JobPlan:
    """What one reconcile of a Job should do."""

    create: tuple[Object, ...]
    """New Pods, complete objects (name from the caller's ``new_pod_name``)."""
    delete: tuple[str, ...]
    """Names of active Pods to delete gracefully (suspend, lower parallelism, Job failed)."""
    status: dict[str, Any]
    """The Job's full new status."""
    requeue_after: float | None
    """Seconds until the plan may change with no event (pod failure backoff, deadline)."""


@dataclass(frozen=True)
class _Spec:
    """The Job's spec with the Kubernetes API's defaults applied."""

    parallelism: int
    completions: int | None  # None: a work queue, done when one Pod succeeds and none runs
    backoff_limit: int
    deadline: int | None
    suspend: bool
    restart_policy: str
    replace_only_failed: bool  # podReplacementPolicy Failed: wait for terminating Pods

    @classmethod
    def of(cls, job: Object) -> _Spec:
        spec = job.get("spec") or {}
        completions = spec.get("completions")
        parallelism = spec.get("parallelism")
        if completions is None and parallelism is None:
            completions = 1  # both unset: one Pod that has to succeed once
        deadline = spec.get("activeDeadlineSeconds")
        template_spec = (spec.get("template") or {}).get("spec") or {}
        return cls(
            parallelism=max(c.spec_int(spec, "parallelism", 1), 0),
            completions=None if completions is None else max(c.spec_int(spec, "completions", 1), 0),
            backoff_limit=max(c.spec_int(spec, "backoffLimit", DEFAULT_BACKOFF_LIMIT), 0),
            deadline=None if deadline is None else c.spec_int(spec, "activeDeadlineSeconds", 0),
            suspend=bool(spec.get("suspend")),
            restart_policy=str(template_spec.get("restartPolicy") or ""),
            replace_only_failed=spec.get("podReplacementPolicy") == "Failed",
        )


def plan_job(
    job: Object,
    pods: list[Object],
    now: datetime,
    new_pod_name: Callable[[str], str],
) -> JobPlan:
    """Plan one reconcile of ``job`` given the Pods that exist (any owner; foreign ones ignored)."""
    status = job.get("status") or {}
    if is_finished(status):
        return JobPlan((), (), copy.deepcopy(status), None)
    return _Planner(job, pods, now, new_pod_name).plan()


def is_finished(status: dict[str, Any]) -> bool:
    """True once a Complete or Failed condition is True: a finished Job never runs again."""
    return any(
        (c.find_condition(status.get("conditions"), kind) or {}).get("status") == "True"
        for kind in (COMPLETE, FAILED)
    )


class _Planner:
    """One pass of Kubernetes' syncJob over in-memory copies."""

    def __init__(
        self, job: Object, pods: list[Object], now: datetime, new_pod_name: Callable[[str], str]
    ) -> None:
        self.job, self.now, self.new_pod_name = job, now, new_pod_name
        self.spec = _Spec.of(job)
        prev: dict[str, Any] = job.get("status") or {}
        self.conditions: list[dict[str, Any]] = copy.deepcopy(prev.get("conditions") or [])
        self.start = c.parse_time(prev.get("startTime"))
        self.completion: datetime | None = None
        self.owned = [p for p in pods if c.is_controlled_by(p, c.uid_of(job))]
        self.active = [p for p in self.owned if c.is_active(p)]
        settled = [p for p in self.owned if not c.is_terminating(p)]
        self.succeeded = max(_count(prev, "succeeded"), _phase_count(settled, "Succeeded"))
        self.failed = max(_count(prev, "failed"), _phase_count(settled, "Failed"))
        self.create: list[Object] = []
        self.delete: list[str] = []
        self.waits: list[float | None] = []

    # -- the sync, as guard clauses then named steps ------------------------------------------

    def plan(self) -> JobPlan:
        if self.start is None and not self.spec.suspend:
            self.start = _whole_seconds(self.now)
        failure = self.failure()
        if failure is not None:
            self.delete_pods(self.active)
            self.ensure_condition(FAILED, "True", *failure)
            return self.result()
        managed = not c.is_terminating(self.job)
        if managed:
            self.manage()
        if self.complete():
            msg = "Reached expected number of succeeded pods"
            self.ensure_condition(COMPLETE, "True", "CompletionsReached", msg)
            self.completion = _whole_seconds(self.now)
            return self.result()
        if not managed:
            return self.result()
        if self.spec.suspend:
            if self.ensure_condition(SUSPENDED, "True", "JobSuspended", "Job suspended"):
                self.start = None  # the deadline counts continuous activity only
        elif self.ensure_condition(SUSPENDED, "False", "JobResumed", "Job resumed"):
            self.start = _whole_seconds(self.now)
        self.waits.append(self.seconds_to_deadline())
        return self.result()

    def failure(self) -> tuple[str, str] | None:
        """The reason and message the Job fails with now, if it does."""
        if self.failed > self.spec.backoff_limit or self.past_backoff_limit_on_failure():
            return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
        if self.past_deadline():
            return "DeadlineExceeded", "Job was active longer than specified deadline"
        return None

    def manage(self) -> None:
        """manageJob: delete what is too many, create what is missing (after the backoff)."""
        if self.spec.suspend:
            self.delete_pods(self.active)
            return
        active = len(self.active)
        if self.spec.completions is None:  # after the first success, let the rest finish
            want = active if self.succeeded > 0 else self.spec.parallelism
        else:
            want = max(min(self.spec.completions - self.succeeded, self.spec.parallelism), 0)
        if active > want:
            ranked = sorted(self.active, key=c.deletion_rank)
            self.delete_pods(ranked[: min(active - want, MAX_PODS_PER_SYNC)])
            return
        missing = want - active
        if self.spec.replace_only_failed:
            missing -= sum(1 for p in self.owned if c.is_terminating(p) and not c.is_terminal(p))
        if missing <= 0:
            return
        wait = self.backoff_remaining()
        if wait > 0:
            self.waits.append(wait)
            return
        for _ in range(min(missing, MAX_PODS_PER_SYNC)):
            self.create.append(self.new_pod())

    def complete(self) -> bool:
        running = len(self.active) - len(self.delete) + len(self.create)
        if self.spec.completions is None:
            return self.succeeded > 0 and running == 0
        return self.succeeded >= self.spec.completions and running == 0

    # -- pods ---------------------------------------------------------------------------------

    def new_pod(self) -> Object:
        """A Pod of the template, labelled and owned as the Job controller makes it."""
        name, uid = c.name_of(self.job), c.uid_of(self.job)
        labels = {LABEL_CONTROLLER_UID: uid, LABEL_JOB_NAME: name}
        labels.update({legacy: labels[key] for key, legacy in _LEGACY_LABELS.items()})
        pod = c.pod_from_template(
            (self.job.get("spec") or {}).get("template") or {},
            name=self.new_pod_name(name),
            generate_name=f"{name}-",
            namespace=c.metadata(self.job).get("namespace"),
            owner=c.controller_reference(self.job, api_version="batch/v1", kind="Job"),
            extra_labels=labels,
        )
        if self.spec.restart_policy not in _RESTART_POLICIES:
            # The Kubernetes API refuses such a Job; with Always the Pod would never finish.
            pod["spec"]["restartPolicy"] = "Never"
        return pod

    def delete_pods(self, pods: list[Object]) -> None:
        self.delete.extend(c.name_of(p) for p in pods)

    def past_backoff_limit_on_failure(self) -> bool:
        """With OnFailure the kubelet restarts containers in place: their restarts count."""
        if self.spec.restart_policy != "OnFailure":
            return False
        restarts = sum(
            int(s.get("restartCount") or 0)
            for p in self.owned
            if c.pod_phase(p) in ("Running", "Pending")
            for key in ("initContainerStatuses", "containerStatuses")
            for s in (p.get("status") or {}).get(key) or []
        )
        if self.spec.backoff_limit == 0:
            return restarts > 0
        return restarts >= self.spec.backoff_limit

    def backoff_remaining(self) -> float:
        """Seconds until a failed Pod may be replaced: 10s, doubled per failure since a success."""
        finished = [p for p in self.owned if c.is_terminal(p) and not c.is_terminating(p)]
        finished.sort(key=lambda p: (_finished_at(p), c.pod_phase(p) == "Succeeded", c.name_of(p)))
        failures, last_failure = 0, None
        for pod in finished:
            if c.pod_phase(pod) == "Succeeded":
                failures, last_failure = 0, None
            else:
                failures, last_failure = failures + 1, _finished_at(pod)
        if failures == 0 or last_failure is None:
            return 0.0
        delay = exponential_delay(failures - 1, POD_FAILURE_BACKOFF, MAX_POD_FAILURE_BACKOFF)
        return max(delay - (self.now - last_failure).total_seconds(), 0.0)

    # -- time ---------------------------------------------------------------------------------

    def past_deadline(self) -> bool:
        if self.spec.deadline is None or self.start is None or self.spec.suspend:
            return False
        return (self.now - self.start).total_seconds() >= self.spec.deadline

    def seconds_to_deadline(self) -> float | None:
        if self.spec.deadline is None or self.start is None or self.spec.suspend:
            return None
        return max(self.spec.deadline - (self.now - self.start).total_seconds(), 0.0)

    # -- status -------------------------------------------------------------------------------

    def ensure_condition(self, kind: str, status: str, reason: str, message: str) -> bool:
        """ensureJobConditionStatus; True when the conditions changed.

        A condition that differs is replaced in place; a missing one is added unless its
        status is False (a Job never suspended has no Suspended condition).
        """
        stamp = rfc3339(self.now)
        cond = {
            "type": kind,
            "status": status,
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
            "reason": reason,
            "message": message,
        }
        for i, current in enumerate(self.conditions):
            if current.get("type") != kind:
                continue
            if (current.get("status"), current.get("reason"), current.get("message")) == (
                status,
                reason,
                message,
            ):
                return False
            self.conditions[i] = cond
            return True
        if status == "False":
            return False
        self.conditions.append(cond)
        return True

    def result(self) -> JobPlan:
        deleted = set(self.delete)
        remaining = [p for p in self.active if c.name_of(p) not in deleted]
        status: dict[str, Any] = {
            "active": len(remaining) + len(self.create),
            "ready": sum(1 for p in remaining if c.is_pod_ready(p)),
            "succeeded": self.succeeded,
            "failed": self.failed,
            "terminating": sum(
                1 for p in self.owned if c.is_terminating(p) and not c.is_terminal(p)
            ),
        }
        if self.start is not None:
            status["startTime"] = rfc3339(self.start)
        if self.completion is not None:
            status["completionTime"] = rfc3339(self.completion)
        if self.conditions:
            status["conditions"] = self.conditions
        return JobPlan(tuple(self.create), tuple(self.delete), status, c.earliest(self.waits))


def _count(status: dict[str, Any], key: str) -> int:
    return c.spec_int(status, key, 0)


def _phase_count(pods: list[Object], phase: str) -> int:
    return sum(1 for p in pods if c.pod_phase(p) == phase)


def _whole_seconds(moment: datetime) -> datetime:
    """``moment`` as it reads back from an RFC 3339 stamp, so deadlines agree across plans."""
    return moment.replace(microsecond=0)


def _finished_at(pod: Object) -> datetime:
    """When a finished Pod ended (getFinishedTime): its containers' last finishedAt, or less."""
    status = pod.get("status") or {}
    ends = [
        c.parse_time(((s.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        for s in status.get("containerStatuses") or []
    ]
    if ends and all(end is not None for end in ends):
        return max(end for end in ends if end is not None)
    ready = c.pod_condition(pod, "Ready")
    if ready is not None and ready.get("status") == "False":
        since = c.parse_time(ready.get("lastTransitionTime"))
        if since is not None:
            return since
    return c.parse_time(c.metadata(pod).get("deletionTimestamp")) or c.creation_time(pod) or _EPOCH
