"""What the Rollout planner takes and gives: its inputs besides objects, and its plan.

The planner is pure. What it cannot see in the Rollout, its ReplicaSets and their Pods comes
in as small values (``AnalysisRunInfo``: the phase of an AnalysisRun it asked for); what it
decides goes out as one ``RolloutPlan`` the runtime carries out. Argo Rollouts' keys, reasons
and messages are constants here, so status, events and tests share one spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conveyor.model.objects import Object

HASH_LABEL = "rollouts-pod-template-hash"
"""Ties a ReplicaSet, its Pods and the Services' injected selectors to one pod template."""
ANN_REVISION = "rollout.argoproj.io/revision"
"""The revision of a Rollout and of each of its ReplicaSets."""
ANN_SCALE_DOWN_DEADLINE = "scale-down-deadline"
"""RFC 3339 time after which an old (or aborted) ReplicaSet is scaled to zero."""

# Pause reasons (status.pauseConditions[].reason)
PAUSE_CANARY_STEP = "CanaryPauseStep"
PAUSE_BLUE_GREEN = "BlueGreenPause"
PAUSE_INCONCLUSIVE = "InconclusiveAnalysis"

# AnalysisRun phases
SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE = "Successful", "Failed", "Error", "Inconclusive"
COMPLETED_PHASES = frozenset({SUCCESSFUL, FAILED, ERROR, INCONCLUSIVE})

# Values of the rollout-type label on the AnalysisRuns a Rollout creates
RUN_STEP, RUN_BACKGROUND = "Step", "Background"
RUN_PRE_PROMOTION, RUN_POST_PROMOTION = "PrePromotion", "PostPromotion"
LABEL_ROLLOUT_TYPE = "rollout-type"
LABEL_STEP_INDEX = "step-index"


@dataclass(frozen=True)
class AnalysisRunInfo:
    """An AnalysisRun as the planner needs it: its phase and message (Argo's status)."""

    name: str
    phase: str = ""
    """"" or Pending, Running, Successful, Failed, Error, Inconclusive."""
    message: str = ""

    @property
    def completed(self) -> bool:
        return self.phase in COMPLETED_PHASES


@dataclass(frozen=True)
class AnalysisRunRequest:
    """An AnalysisRun to create, from a Rollout's analysis (templates not yet resolved).

    The runtime builds the run from ``templates`` (AnalysisTemplates in the Rollout's
    namespace, or ClusterAnalysisTemplates when ``clusterScope``) with ``args``, as Argo's
    NewAnalysisRunFromTemplates does, and creates it under ``name``; creating a name that
    already exists must be a no-op.
    """

    name: str
    namespace: str | None
    run_type: str
    """Step, Background, PrePromotion or PostPromotion."""
    templates: tuple[dict[str, Any], ...]
    args: tuple[dict[str, Any], ...]
    """``{name, value}`` with podTemplateHashValue and fieldRef resolved; others as given."""
    labels: dict[str, str]
    annotations: dict[str, str]
    owner_reference: dict[str, Any]
    dry_run: tuple[dict[str, Any], ...] = ()
    measurement_retention: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class RolloutEvent:
    """A Kubernetes Event on the Rollout, with Argo Rollouts' reason and message."""

    reason: str
    message: str
    type: str = "Normal"


@dataclass(frozen=True)
class RolloutPlan:
    """What one reconcile of a Rollout should do, in the order the runtime applies it."""

    create: tuple[Object, ...]
    """New ReplicaSets, complete objects."""
    scale: dict[str, int]
    """Existing ReplicaSet name -> new spec.replicas (changes only)."""
    annotate: dict[str, dict[str, str]]
    """Existing ReplicaSet name -> annotations to set (revision, scale-down-deadline)."""
    unannotate: dict[str, tuple[str, ...]]
    """Existing ReplicaSet name -> annotation keys to remove (scale-down-deadline)."""
    delete: tuple[str, ...]
    """Old ReplicaSets beyond revisionHistoryLimit (at 0 replicas, without Pods)."""
    status: dict[str, Any]
    """The Rollout's full new status, in Argo's shape."""
    rollout_annotations: dict[str, str] = field(default_factory=dict)
    """Annotations to set on the Rollout itself (its revision)."""
    service_selectors: dict[str, str] = field(default_factory=dict)
    """Service name -> value of the rollouts-pod-template-hash key to inject into its selector."""
    traffic: dict[str, dict[str, int]] = field(default_factory=dict)
    """Service name -> {pod template hash: weight in percent}: exact weights to serve."""
    delete_pods: tuple[str, ...] = ()
    """Pods to delete gracefully (spec.restartAt: replaced by their ReplicaSet)."""
    analysis_create: tuple[AnalysisRunRequest, ...] = ()
    analysis_terminate: tuple[str, ...] = ()
    """AnalysisRuns (by name, in the Rollout's namespace) to set spec.terminate: true on."""
    events: tuple[RolloutEvent, ...] = ()
    requeue_after: float | None = None
    """Seconds until the plan may change with no event (pauses, delays, deadlines)."""

    @property
    def acts(self) -> bool:
        """The plan changes something besides status."""
        return bool(
            self.create
            or self.scale
            or self.annotate
            or self.unannotate
            or self.delete
            or self.delete_pods
            or self.analysis_create
            or self.analysis_terminate
        )
