"""A Deployment's status as Kubernetes writes it: counts, Available and Progressing.

Kubernetes' deployment controller rewrites the status on every sync (calculateStatus,
syncRolloutStatus): the replica counts, the Available condition against maxUnavailable, and
the Progressing condition that tracks the progress deadline (paused, resumed, progressing,
complete, timed out). ``StatusWriter`` keeps the conditions through one reconcile, so the
planner can record the ReplicaSets it found or created, and writes the status at its end.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from conveyor.model.objects import Object
from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import replicasets as rsutil
from conveyor.targets.local.controllers.deployment_spec import DeploymentSpec
from conveyor.targets.local.controllers.replicasets import RSView

PROGRESSING, AVAILABLE = "Progressing", "Available"
_COUNTS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


class StatusWriter:
    """The Deployment's conditions through one reconcile, and the status written from them."""

    def __init__(self, d: Object, spec: DeploymentSpec, now: datetime) -> None:
        self.d, self.spec, self.now = d, spec, now
        self.name = c.name_of(d)
        self.prev: dict[str, Any] = d.get("status") or {}
        self.conditions: list[dict[str, Any]] = copy.deepcopy(self.prev.get("conditions") or [])

    def generation(self) -> int:
        return int(c.metadata(self.d).get("generation") or 0)

    def set_condition(self, kind: str, status: str, reason: str, message: str) -> None:
        self.conditions = c.set_condition(
            self.conditions, c.new_condition(kind, status, reason, message, self.now)
        )

    def check_paused_conditions(self) -> None:
        """Progressing goes Unknown on pause/resume, so a paused rollout never times out."""
        if self.spec.deadline is None:
            return
        cond = c.find_condition(self.conditions, PROGRESSING)
        if cond is not None and cond.get("reason") == "ProgressDeadlineExceeded":
            return
        paused_now = cond is not None and cond.get("reason") == "DeploymentPaused"
        if self.spec.paused and not paused_now:
            self.set_condition(PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused")
        elif not self.spec.paused and paused_now:
            self.set_condition(PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed")

    def calculate_status(
        self, all_rs: list[RSView], new: RSView | None, collision_count: int | None
    ) -> dict[str, Any]:
        counts = rsutil.replica_counts(all_rs, new)
        available = counts["availableReplicas"]
        status: dict[str, Any] = {
            "observedGeneration": self.generation(),
            **counts,
            "unavailableReplicas": max(sum(rs.replicas for rs in all_rs) - available, 0),
        }
        if collision_count is not None:
            status["collisionCount"] = collision_count
        if available >= self.spec.replicas - self.spec.max_unavailable:
            self.set_condition(
                AVAILABLE,
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            )
        else:
            msg = "Deployment does not have minimum availability."
            self.set_condition(AVAILABLE, "False", "MinimumReplicasUnavailable", msg)
        status["conditions"] = self.conditions
        return status

    def complete(self, status: dict[str, Any]) -> bool:
        """DeploymentComplete: every replica updated and available, this generation seen."""
        want = self.spec.replicas
        return (
            status.get("updatedReplicas", 0) == want
            and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and int(status.get("observedGeneration") or 0) >= self.generation()
        )

    def rollout_status(
        self, all_rs: list[RSView], new: RSView | None, collision_count: int | None
    ) -> dict[str, Any]:
        """syncRolloutStatus: calculateStatus plus the progress estimate."""
        status = self.calculate_status(all_rs, new, collision_count)
        if self.spec.deadline is None:
            self.conditions = c.remove_condition(self.conditions, PROGRESSING)
            status["conditions"] = self.conditions
            return status
        current = c.find_condition(self.conditions, PROGRESSING)
        done_before = current is not None and current.get("reason") == "NewReplicaSetAvailable"
        if done_before and status["replicas"] == status["updatedReplicas"]:
            return status
        subject = f'ReplicaSet "{new.name}"' if new else f'Deployment "{self.name}"'
        if self.complete(status):
            msg = f"{subject} has successfully progressed."
            self.set_condition(PROGRESSING, "True", "NewReplicaSetAvailable", msg)
        elif self.progressing(status):
            cond = c.new_condition(
                PROGRESSING, "True", "ReplicaSetUpdated", f"{subject} is progressing.", self.now
            )
            if current is not None and current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime")
            self.conditions = [*c.remove_condition(self.conditions, PROGRESSING), cond]
        elif self.timed_out(current):
            msg = f"{subject} has timed out progressing."
            self.set_condition(PROGRESSING, "False", "ProgressDeadlineExceeded", msg)
        status["conditions"] = self.conditions
        return status

    def progressing(self, new: dict[str, Any]) -> bool:
        """DeploymentProgressing: any sign of progress since the last recorded status."""
        old = {k: int(self.prev.get(k) or 0) for k in _COUNTS}
        now = {k: int(new.get(k) or 0) for k in _COUNTS}
        return (
            now["updatedReplicas"] > old["updatedReplicas"]
            or now["replicas"] - now["updatedReplicas"] < old["replicas"] - old["updatedReplicas"]
            or now["readyReplicas"] > old["readyReplicas"]
            or now["availableReplicas"] > old["availableReplicas"]
        )

    def timed_out(self, cond: dict[str, Any] | None) -> bool:
        if cond is None or cond.get("reason") == "NewReplicaSetAvailable":
            return False
        if cond.get("reason") == "ProgressDeadlineExceeded":
            return self.spec.deadline is not None
        return rsutil.timed_out(cond, self.spec.deadline, self.now)

    def requeue_for_deadline(self, status: dict[str, Any]) -> float | None:
        """requeueStuckDeployment: look again just after the progress deadline would pass."""
        cond = c.find_condition(status.get("conditions"), PROGRESSING)
        if self.spec.deadline is None or cond is None or self.complete(status):
            return None
        if cond.get("reason") in ("ProgressDeadlineExceeded", "NewReplicaSetAvailable"):
            return None
        return rsutil.seconds_until_deadline(cond, self.spec.deadline, self.now)
