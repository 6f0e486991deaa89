"""The Deployment controller as a pure plan: Kubernetes' rollout rules, carried out elsewhere.

One call looks at a Deployment, the ReplicaSets it controls and their Pods, and answers what
Kubernetes' deployment controller (pkg/controller/deployment) would do next: create the
ReplicaSet of a new template, scale new and old ReplicaSets within maxSurge/maxUnavailable
(or all-old-down-then-new-up for Recreate), scale proportionally when only replicas change,
keep the revision annotations, prune history and write the status with its Available and
Progressing conditions (``deployment_status``; the spec's defaults are read by
``deployment_spec``). The runtime applies the plan and calls again on every change.

One deliberate difference: Kubernetes reads ReplicaSet status, which lags behind a scale it
has just asked for. Here the Pods themselves are counted and a ReplicaSet's availability is
capped at its spec.replicas (the Pods it will keep), so maxUnavailable holds even while the
ReplicaSet controller has not yet acted on the last plan.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.model.objects import Object
from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import replicasets as rsutil
from conveyor.targets.local.controllers.deployment_spec import (
    DEFAULT_PROGRESS_DEADLINE_SECONDS,
    DEFAULT_REVISION_HISTORY_LIMIT,
    DeploymentSpec,
)
from conveyor.targets.local.controllers.deployment_status import (
    AVAILABLE,
    PROGRESSING,
    StatusWriter,
)
from conveyor.targets.local.controllers.replicasets import RSView as _RS
from conveyor.targets.local.controllers.replicasets import int_or as _int_or

__all__ = [
    "AVAILABLE",
    "DEFAULT_PROGRESS_DEADLINE_SECONDS",
    "DEFAULT_REVISION_HISTORY_LIMIT",
    "PROGRESSING",
    "DeploymentPlan",
    "plan_deployment",
    "pod_template_hash",
]

_KEYS = rsutil.DEPLOYMENT_KEYS
_NOT_COPIED_TO_RS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        c.ANN_REVISION,
        c.ANN_REVISION_HISTORY,
        c.ANN_DESIRED_REPLICAS,
        c.ANN_MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)


@dataclass(frozen=True)
class DeploymentPlan:
    """What one reconcile of a Deployment should do."""

    create: tuple[Object, ...]
    """New ReplicaSets, complete objects."""
    scale: dict[str, int]
    """Existing ReplicaSet name -> new spec.replicas (changes only)."""
    annotate: dict[str, dict[str, str]]
    """Existing ReplicaSet name -> annotations to set (revision, desired/max replicas)."""
    delete: tuple[str, ...]
    """Old ReplicaSets beyond revisionHistoryLimit (at 0 replicas, without Pods)."""
    status: dict[str, Any]
    """The Deployment's full new status."""
    requeue_after: float | None
    """Seconds until the plan may change with no event (minReadySeconds, progress deadline)."""


def pod_template_hash(template: dict[str, Any], collision_count: int | None = None) -> str:
    """Kubernetes-style short hash of a pod template (fnv-1a 32, safe-encoded).

    The pod-template-hash label itself is left out, so a ReplicaSet's template hashes like
    the Deployment template it came from.
    """
    return rsutil.pod_template_hash(template, collision_count, label=c.LABEL_POD_TEMPLATE_HASH)


def plan_deployment(
    deployment: Object, replicasets: list[Object], pods: list[Object], now: datetime
) -> DeploymentPlan:
    """Plan one reconcile of ``deployment``; only ReplicaSets it controls (by uid) count."""
    return _Planner(deployment, replicasets, pods, now).plan()


class _Planner:
    """One pass of Kubernetes' syncDeployment over in-memory copies."""

    def __init__(
        self, d: Object, replicasets: list[Object], pods: list[Object], now: datetime
    ) -> None:
        self.d, self.now, self.spec = d, now, DeploymentSpec.of(d)
        self.st = StatusWriter(d, self.spec, now)
        self.template: dict[str, Any] = (d.get("spec") or {}).get("template") or {}
        self.prev = self.st.prev
        self.collision_count: int | None = self.prev.get("collisionCount")
        self.all: list[_RS] = rsutil.views(
            d,
            replicasets,
            pods,
            min_ready=self.spec.min_ready,
            now=now,
            revision_key=_KEYS.revision,
        )
        self.new: _RS | None = None
        self.created: list[_RS] = []
        self.deleted: list[str] = []

    @property
    def olds(self) -> list[_RS]:
        return [rs for rs in self.all if rs is not self.new]

    # -- the sync, as guard clauses then named steps ------------------------------------------

    def plan(self) -> DeploymentPlan:
        if c.selector_is_empty((self.d.get("spec") or {}).get("selector")):
            status = {**copy.deepcopy(self.prev), "observedGeneration": self.st.generation()}
            return DeploymentPlan((), {}, {}, (), status, None)
        if c.is_terminating(self.d):
            self.resolve_new()
            return self.result(self.calculate_status(), None)
        self.st.check_paused_conditions()
        self.resolve_new()
        if self.spec.paused or self.is_scaling_event():
            self.scale()
            if self.spec.paused:
                self.cleanup()
            return self.result(self.calculate_status(), None)
        if self.spec.recreate:
            self.rollout_recreate()
        else:
            self.rollout_rolling()
        status = self.st.rollout_status(self.all, self.new, self.collision_count)
        return self.result(status, self.st.requeue_for_deadline(status))

    def rollout_rolling(self) -> None:
        """Grow the new ReplicaSet within maxSurge, else shrink old ones within maxUnavailable."""
        self.create_new()
        if not (self.reconcile_new() or self.reconcile_old()) and self.st.complete(self.prev):
            self.cleanup()

    def rollout_recreate(self) -> None:
        """All old Pods gone (terminating ones too) before the new ReplicaSet gets any."""
        active_olds = [rs for rs in self.olds if rs.replicas > 0]
        for rs in active_olds:
            self.scale_to(rs, 0)
        if active_olds or self.old_pods_running():
            return  # wait for the old Pods to go
        self.create_new()
        assert self.new is not None
        self.scale_to(self.new, self.spec.replicas)
        if self.st.complete(self.prev):
            self.cleanup()

    # -- finding and creating the new ReplicaSet ----------------------------------------------

    def resolve_new(self) -> None:
        """FindNewReplicaSet + revision sync: the oldest ReplicaSet with the current template."""
        self.new = rsutil.find_new(self.all, self.template, _KEYS.hash_label)
        if self.new is None:
            return
        self.sync_annotations(self.new, self.max_old_revision() + 1, exists=True)
        if (
            self.spec.deadline is not None
            and c.find_condition(self.st.conditions, PROGRESSING) is None
        ):
            msg = f'Found new replica set "{self.new.name}"'
            self.st.set_condition(PROGRESSING, "True", "FoundNewReplicaSet", msg)

    def max_old_revision(self) -> int:
        return max((rs.revision for rs in self.olds), default=0)

    def create_new(self) -> None:
        if self.new is not None:
            return
        rs, self.collision_count = rsutil.new_replicaset(
            self.d,
            self.template,
            {rs.name for rs in self.all},
            self.collision_count,
            keys=_KEYS,
            min_ready=self.spec.min_ready,
        )
        self.all.append(rs)
        self.new = rs
        self.created.append(rs)
        rs.replicas = self.new_rs_replicas()
        self.sync_annotations(rs, self.max_old_revision() + 1, exists=False)
        if self.spec.deadline is not None:
            self.st.set_condition(
                PROGRESSING, "True", "NewReplicaSetCreated", f'Created new replica set "{rs.name}"'
            )

    def sync_annotations(self, rs: _RS, new_revision: int, *, exists: bool) -> None:
        """SetNewReplicaSetAnnotations: copied annotations, revision (+ history), replicas."""
        rsutil.sync_revision(rs, self.d, new_revision, keys=_KEYS, not_copied=_NOT_COPIED_TO_RS)
        if not exists:
            self.set_replicas_annotations(rs)

    def set_replicas_annotations(self, rs: _RS) -> None:
        rs.annotations[c.ANN_DESIRED_REPLICAS] = str(self.spec.replicas)
        rs.annotations[c.ANN_MAX_REPLICAS] = str(self.spec.replicas + self.spec.max_surge)

    # -- scaling ------------------------------------------------------------------------------

    def scale_to(self, rs: _RS, replicas: int, *, annotate: bool = False) -> bool:
        """Scale ``rs`` (with its desired/max annotations); True when its size changed."""
        changed = rs.replicas != replicas
        if changed or annotate:
            rs.replicas = replicas
            self.set_replicas_annotations(rs)
        return changed

    def new_rs_replicas(self) -> int:
        """NewRSNewReplicas: how far the new ReplicaSet may grow now."""
        assert self.new is not None
        if self.spec.recreate:
            return self.spec.replicas
        max_total = self.spec.replicas + self.spec.max_surge
        current = sum(rs.replicas for rs in self.all)
        if current >= max_total:
            return self.new.replicas
        return self.new.replicas + min(max_total - current, self.spec.replicas - self.new.replicas)

    def reconcile_new(self) -> bool:
        assert self.new is not None
        if self.new.replicas == self.spec.replicas:
            return False
        if self.new.replicas > self.spec.replicas:
            return self.scale_to(self.new, self.spec.replicas)
        return self.scale_to(self.new, self.new_rs_replicas())

    def reconcile_old(self) -> bool:
        """Scale old ReplicaSets down as far as maxUnavailable allows, unhealthy ones first."""
        assert self.new is not None
        olds = [rs for rs in self.olds if rs.replicas > 0]
        if not olds:
            return False
        min_available = self.spec.replicas - self.spec.max_unavailable
        new_unavailable = self.new.replicas - self.new.available
        max_scaled_down = sum(rs.replicas for rs in self.all) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = 0
        for rs in olds:  # cleanupUnhealthyReplicas: oldest first
            if cleaned >= max_scaled_down:
                break
            unhealthy = rs.replicas - rs.available
            if rs.replicas == 0 or unhealthy == 0:
                continue
            step = min(max_scaled_down - cleaned, unhealthy)
            self.scale_to(rs, rs.replicas - step)
            cleaned += step
        available = sum(rs.available for rs in self.all)
        scaled = 0
        if available > min_available:  # scaleDownOldReplicaSetsForRollingUpdate
            budget = available - min_available
            for rs in olds:
                if scaled >= budget:
                    break
                step = min(rs.replicas, budget - scaled)
                if step > 0:
                    self.scale_to(rs, rs.replicas - step)
                    scaled += step
        return cleaned + scaled > 0

    def old_pods_running(self) -> bool:
        """Recreate waits until no old Pod exists that has not finished, terminating or not."""
        return any(not c.is_terminal(p) for rs in self.olds for p in rs.pods)

    def is_scaling_event(self) -> bool:
        """An active ReplicaSet was last sized for another spec.replicas: only replicas changed."""
        for rs in self.all:
            desired = rs.annotations.get(c.ANN_DESIRED_REPLICAS)
            if (
                rs.replicas > 0
                and desired is not None
                and _int_or(desired, -1) != self.spec.replicas
            ):
                return True
        return False

    def scale(self) -> None:
        """Kubernetes' scale(): one active ReplicaSet takes it all, else proportional scaling."""
        active = [rs for rs in self.all if rs.replicas > 0]
        if len(active) <= 1:
            target = active[0] if active else (self.new or (self.all[-1] if self.all else None))
            if target is not None and target.replicas != self.spec.replicas:
                self.scale_to(target, self.spec.replicas)
            return
        new = self.new
        if (
            new is not None
            and new.replicas == self.spec.replicas
            and _int_or(new.annotations.get(c.ANN_DESIRED_REPLICAS), -1) == self.spec.replicas
            and new.available_pods == self.spec.replicas
        ):
            for rs in self.olds:
                if rs.replicas > 0:
                    self.scale_to(rs, 0)
            return
        if self.spec.recreate:
            return
        allowed = self.spec.replicas + self.spec.max_surge if self.spec.replicas > 0 else 0
        to_add = allowed - sum(rs.replicas for rs in active)
        if to_add > 0:  # larger first; among equals, newer first when growing, older when shrinking
            active = sorted(
                sorted(active, key=_RS.age_key, reverse=True), key=lambda rs: -rs.replicas
            )
        elif to_add < 0:
            active = sorted(active, key=lambda rs: (-rs.replicas, *rs.age_key()))
        sizes: dict[str, int] = {}
        added = 0
        for rs in active:
            share = self.proportion(rs, to_add, added)
            sizes[rs.name] = rs.replicas + share
            added += share
        if to_add != 0:
            sizes[active[0].name] = max(sizes[active[0].name] + to_add - added, 0)
        for rs in active:
            self.scale_to(rs, sizes[rs.name], annotate=True)

    def proportion(self, rs: _RS, to_add: int, added: int) -> int:
        """GetReplicaSetProportion: this ReplicaSet's share of ``to_add``."""
        if rs.replicas == 0 or to_add == 0 or to_add == added:
            return 0
        if self.spec.replicas == 0:
            fraction = -rs.replicas
        else:
            before = _int_or(rs.annotations.get(c.ANN_MAX_REPLICAS), 0) or int(
                self.prev.get("replicas") or 0
            )
            if before == 0:
                return 0
            target = rs.replicas * (self.spec.replicas + self.spec.max_surge) / before
            fraction = math.floor(target + 0.5) - rs.replicas
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def cleanup(self) -> None:
        """Delete the oldest revisions beyond revisionHistoryLimit that have nothing left."""
        self.deleted.extend(rsutil.history_to_delete(self.olds, self.spec.history_limit))

    def calculate_status(self) -> dict[str, Any]:
        return self.st.calculate_status(self.all, self.new, self.collision_count)

    # -- the plan -----------------------------------------------------------------------------

    def result(self, status: dict[str, Any], requeue: float | None) -> DeploymentPlan:
        done = rsutil.changes(self.all, self.created)
        return DeploymentPlan(
            create=done.create,
            scale=done.scale,
            annotate=done.annotate,
            delete=tuple(self.deleted),
            status=status,
            requeue_after=c.earliest(
                [requeue, *rsutil.ready_waits(self.all, self.spec.min_ready, self.now)]
            ),
        )
