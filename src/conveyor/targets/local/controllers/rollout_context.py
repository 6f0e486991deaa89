"""One reconcile of a Rollout, in memory: what both strategies read and change.

Argo Rollouts builds a ``rolloutContext`` per reconcile: the Rollout, its new, stable and
other ReplicaSets, and a pause context collecting pauses and aborts to add or remove. The
strategies (``rollout_canary``, ``rollout_bluegreen``) call its steps; ``finish`` folds the
decisions into the new status and the plan. Nothing here reads the clock or the world.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from conveyor.clock import rfc3339
from conveyor.model.objects import Object
from conveyor.model.rollout import Rollout
from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import replicasets as rsutil
from conveyor.targets.local.controllers.replicasets import ROLLOUT_KEYS, RSView
from conveyor.targets.local.controllers.rollout_types import (
    ANN_REVISION,
    ANN_SCALE_DOWN_DEADLINE,
    HASH_LABEL,
    AnalysisRunInfo,
    AnalysisRunRequest,
    RolloutEvent,
    RolloutPlan,
)

_NOT_COPIED_TO_RS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        ANN_REVISION,
        ROLLOUT_KEYS.revision_history,
        ROLLOUT_KEYS.desired_replicas,
        "rollout.argoproj.io/workload-generation",
    }
)


class Context:
    """The Rollout, its ReplicaSets and the decisions of one reconcile."""

    def __init__(
        self,
        obj: Object,
        model: Rollout,
        template: dict[str, Any],
        replicasets: list[Object],
        pods: list[Object],
        runs: dict[str, AnalysisRunInfo],
        now: datetime,
    ) -> None:
        self.obj, self.ro, self.now, self.runs = obj, model, now, runs
        self.spec = model.spec
        self.name = c.name_of(obj)
        self.namespace: str | None = c.metadata(obj).get("namespace")
        self.template = template
        self.prev: dict[str, Any] = copy.deepcopy(obj.get("status") or {})
        # A person retried an aborted update (status.abort cleared, abortedAt still there):
        # the first reconcile since. The runs that judged the aborted attempt are not current.
        self.retrying = bool(self.prev.get("abortedAt")) and not self.prev.get("abort")
        self.replicas = self.spec.desired_replicas
        self.min_ready = self.spec.min_ready_seconds
        self.collision_count: int | None = self.prev.get("collisionCount")
        self.all: list[RSView] = rsutil.views(
            obj, replicasets, pods, min_ready=self.min_ready, now=now, revision_key=ANN_REVISION
        )
        self.new = rsutil.find_new(self.all, template, HASH_LABEL)
        self.stable_hash: str = str(self.prev.get("stableRS") or "")
        self.stable = next(
            (
                rs
                for rs in self.all
                if self.stable_hash and rs.label(HASH_LABEL) == self.stable_hash
            ),
            None,
        )
        self.created: list[RSView] = []
        self.deleted: list[str] = []
        self.delete_pods: list[str] = []
        self.events: list[RolloutEvent] = []
        self.requeues: list[float | None] = []
        self.rollout_annotations: dict[str, str] = {}
        self.service_selectors: dict[str, str] = {}
        self.traffic: dict[str, dict[str, int]] = {}
        self.analysis_create: list[AnalysisRunRequest] = []
        self.analysis_terminate: list[str] = []
        # the AnalysisRuns that are current after this reconcile, by run type
        self.analysis_wanted: dict[str, AnalysisRunInfo | None] = {}
        # the pause context
        self.add_pauses: list[str] = []
        self.remove_pauses: set[str] = set()
        self.clear_pauses = False
        self.add_abort = False
        self.abort_message = ""
        self.remove_abort = False
        self.conditions: list[dict[str, Any]] = copy.deepcopy(self.prev.get("conditions") or [])
        self.status: dict[str, Any] = {
            "canary": {},
            "blueGreen": {},
            "promoteFull": bool(self.prev.get("promoteFull")),
        }
        if self.prev.get("restartedAt"):
            self.status["restartedAt"] = self.prev["restartedAt"]

    # -- identities ---------------------------------------------------------------------------

    @property
    def current_hash(self) -> str:
        """The pod template hash of the spec's template (of its ReplicaSet when it exists)."""
        if self.new is not None:
            return self.new.label(HASH_LABEL)
        return rsutil.pod_template_hash(self.template, self.collision_count, label=HASH_LABEL)

    @property
    def others(self) -> list[RSView]:
        """ReplicaSets that are neither the new nor the stable one."""
        return [rs for rs in self.all if rs is not self.new and rs is not self.stable]

    @property
    def stable_differs(self) -> bool:
        """CheckStableRSExists: a stable ReplicaSet other than the new one."""
        return self.stable is not None and self.stable is not self.new

    @property
    def revision(self) -> int:
        """The Rollout's revision: the new ReplicaSet's."""
        if self.new is not None:
            return self.new.revision
        return rsutil.max_revision(self.all) + 1

    def is_aborted(self) -> bool:
        if self.remove_abort:
            return False
        return self.add_abort or bool(self.prev.get("abort"))

    def pause_condition(self, reason: str) -> dict[str, Any] | None:
        for cond in self.prev.get("pauseConditions") or []:
            if isinstance(cond, dict) and cond.get("reason") == reason:
                return cond
        return None

    def is_paused(self) -> bool:
        return bool(self.prev.get("pauseConditions")) or self.spec.paused

    def halt_reason(self) -> str:
        """haltProgress: why ReplicaSets are not scaled now ('' when they may be)."""
        if self.spec.paused:
            return "user paused"
        if self.pause_condition("InconclusiveAnalysis") is not None:
            return "inconclusive analysis"
        return ""

    # -- ReplicaSets --------------------------------------------------------------------------

    def ensure_new(self) -> RSView:
        """The new ReplicaSet, created at 0 replicas when missing; revision kept in sync."""
        max_old = rsutil.max_revision(rs for rs in self.all if rs is not self.new)
        if self.new is None:
            rs, self.collision_count = rsutil.new_replicaset(
                self.obj,
                self.template,
                {rs.name for rs in self.all},
                self.collision_count,
                keys=ROLLOUT_KEYS,
                min_ready=self.min_ready,
            )
            rsutil.sync_revision(
                rs, self.obj, max_old + 1, keys=ROLLOUT_KEYS, not_copied=_NOT_COPIED_TO_RS
            )
            rs.annotations[ROLLOUT_KEYS.desired_replicas] = str(self.replicas)
            self.all.append(rs)
            self.created.append(rs)
            self.new = rs
            self.event(
                "NewReplicaSetCreated", f"Created ReplicaSet {rs.name} (revision {rs.revision})"
            )
            self.set_condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{rs.name}"',
            )
        else:
            rsutil.sync_revision(
                self.new, self.obj, max_old + 1, keys=ROLLOUT_KEYS, not_copied=_NOT_COPIED_TO_RS
            )
        revision = str(self.new.revision)
        if (c.metadata(self.obj).get("annotations") or {}).get(ANN_REVISION) != revision:
            self.rollout_annotations[ANN_REVISION] = revision
            self.event("RolloutUpdated", f"Rollout updated to revision {revision}")
        return self.new

    def scale(self, rs: RSView, replicas: int) -> bool:
        """Scale ``rs`` (and record its desired-replicas); True when its size changed."""
        rs.annotations[ROLLOUT_KEYS.desired_replicas] = str(self.replicas)
        if rs.replicas == replicas:
            return False
        way = "up" if replicas > rs.replicas else "down"
        if rs.original is not None:
            self.event(
                "ScalingReplicaSet",
                f"Scaled {way} ReplicaSet {rs.name} (revision {rs.revision})"
                f" from {rs.replicas} to {replicas}",
            )
        rs.replicas = replicas
        if replicas == 0 and not self.delay_scale_down_on_abort():
            self.remove_annotation(rs, ANN_SCALE_DOWN_DEADLINE)
        return True

    def spec_replicas(self, rs: RSView | None) -> int:
        """spec.replicas as found (Argo reads the ReplicaSet before this reconcile's writes)."""
        if rs is None:
            return 0
        return rs.original if rs.original is not None else 0

    def remove_annotation(self, rs: RSView, key: str) -> None:
        if key in rs.annotations:
            del rs.annotations[key]
            rs.removed.add(key)

    def deadline_of(self, rs: RSView) -> datetime | None:
        return c.parse_time(rs.annotations.get(ANN_SCALE_DOWN_DEADLINE))

    def add_deadline(self, rs: RSView, seconds: int) -> None:
        stamp = rfc3339(self.now + timedelta(seconds=seconds))
        rs.annotations[ANN_SCALE_DOWN_DEADLINE] = stamp
        rs.removed.discard(ANN_SCALE_DOWN_DEADLINE)
        self.requeue(float(seconds))

    def delay_scale_down_on_abort(self) -> bool:
        """shouldDelayScaleDownOnAbort: an aborted canary/preview waits before going to 0."""
        if not self.is_aborted() or self.stable is None:
            return False
        canary, blue_green = self.ro.canary, self.ro.blue_green
        if canary is not None:
            if canary.traffic_routing is None or canary.abort_scale_down_delay() is None:
                return False
            return not (
                canary.dynamic_stable_scale and canary.abort_scale_down_delay_seconds is None
            )
        return blue_green is not None and blue_green.abort_scale_down_delay() is not None

    def abort_delay(self) -> int | None:
        strategy = self.ro.canary or self.ro.blue_green
        return strategy.abort_scale_down_delay() if strategy is not None else None

    def is_referenced(self, rs: RSView) -> bool:
        """Still selected by a Service or recorded in status: never scaled down."""
        pod_hash = rs.label(HASH_LABEL)
        if not pod_hash:
            return False
        prev_bg = self.prev.get("blueGreen") or {}
        weights = (self.prev.get("canary") or {}).get("weights") or {}
        refs = {
            self.stable_hash,
            self.current_hash,
            prev_bg.get("activeSelector"),
            prev_bg.get("previewSelector"),
            (weights.get("canary") or {}).get("podTemplateHash"),
            (weights.get("stable") or {}).get("podTemplateHash"),
        }
        return pod_hash in refs

    def scale_down_delay_helper(
        self, rs: RSView, annotated: int, keep: int, delay: int
    ) -> tuple[int, int]:
        """scaleDownDelayHelper: give an old ReplicaSet a deadline, then 0 once it passed.

        Returns (ReplicaSets with a deadline so far, desired replicas of ``rs``).
        """
        strategy = self.ro.canary or self.ro.blue_green
        limit = strategy.scale_down_delay_revision_limit if strategy is not None else None
        limit = 2**31 - 1 if limit is None else limit
        deadline = self.deadline_of(rs)
        if deadline is None and rs.replicas > 0:
            if annotated < limit:
                self.add_deadline(rs, delay)
                return annotated + 1, rs.replicas
            return annotated, 0
        if deadline is not None:
            annotated += 1
            if annotated <= limit and deadline > self.now:
                self.requeue((deadline - self.now).total_seconds())
                return annotated, keep
        return annotated, 0

    def cleanup_history(self) -> None:
        self.deleted.extend(rsutil.history_to_delete(self.others, self.spec.history_limit))

    # -- pause context ------------------------------------------------------------------------

    def add_pause(self, reason: str) -> None:
        self.add_pauses.append(reason)

    def abort(self, message: str) -> None:
        self.add_abort = True
        self.abort_message = message

    def pause_status(self) -> None:
        """CalculatePauseStatus: abort, abortedAt, pauseConditions and controllerPause."""
        aborted_at = self.prev.get("abortedAt") or rfc3339(self.now)
        if self.add_abort or (not self.remove_abort and self.prev.get("abort")):
            self.status.update(abort=True, abortedAt=aborted_at)
            return
        if self.clear_pauses:
            return
        kept = [
            cond
            for cond in self.prev.get("pauseConditions") or []
            if cond.get("reason") not in self.remove_pauses
        ]
        existing = {cond.get("reason") for cond in self.prev.get("pauseConditions") or []}
        controller_pause = bool(self.prev.get("controllerPause"))
        for reason in self.add_pauses:
            if reason not in existing:
                kept.append({"reason": reason, "startTime": rfc3339(self.now)})
                existing.add(reason)
                controller_pause = True
        if kept:
            self.status.update(pauseConditions=kept, controllerPause=controller_pause)

    # -- conditions and events ----------------------------------------------------------------

    def set_condition(self, kind: str, status: str, reason: str, message: str) -> bool:
        """SetRolloutCondition; True when it changed."""
        before = self.conditions
        self.conditions = c.set_condition(
            self.conditions, c.new_condition(kind, status, reason, message, self.now)
        )
        return self.conditions is not before

    def condition(self, kind: str) -> dict[str, Any] | None:
        return c.find_condition(self.conditions, kind)

    def event(self, reason: str, message: str, *, warning: bool = False) -> None:
        self.events.append(RolloutEvent(reason, message, "Warning" if warning else "Normal"))

    def requeue(self, seconds: float | None) -> None:
        self.requeues.append(seconds)

    # -- the plan -----------------------------------------------------------------------------

    def plan(self, status: dict[str, Any]) -> RolloutPlan:
        done = rsutil.changes(self.all, self.created)
        return RolloutPlan(
            create=done.create,
            scale=done.scale,
            annotate=done.annotate,
            unannotate=done.unannotate,
            delete=tuple(self.deleted),
            status=status,
            delete_pods=tuple(self.delete_pods),
            rollout_annotations=self.rollout_annotations,
            service_selectors=self.service_selectors,
            traffic=self.traffic,
            analysis_create=tuple(self.analysis_create),
            analysis_terminate=tuple(dict.fromkeys(self.analysis_terminate)),
            events=tuple(self.events),
            requeue_after=c.earliest(
                [*self.requeues, *rsutil.ready_waits(self.all, self.min_ready, self.now)]
            ),
        )
