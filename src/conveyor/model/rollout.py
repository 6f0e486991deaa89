"""The Rollout kind, with Argo Rollouts' ``argoproj.io/v1alpha1`` field names and defaults.

A Rollout is a Deployment whose update is a sequence of steps (canary) or a switch between
two Services (blue-green), judged by analysis and rolled back on its own. The models here
validate what Argo Rollouts would refuse, keep every field they do not know (loading reports
it), and give each default Argo's value in one place, so the local runtime's planner reads
``canary.abort_scale_down_delay()`` rather than remembering that the default is 30 seconds.

Status stays a plain mapping in Argo's shape (``status.currentStepIndex``, ``stableRS``,
``canary.weights``...): the planner writes it, the API and CLI show it as Argo would.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import Field, model_validator

from conveyor.model.durations import Duration, parse_duration
from conveyor.model.loading import Loaded, load_as
from conveyor.model.manifest import ArgoModel, Manifest

DEFAULT_REPLICAS = 1
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30
DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS = 30

IntOrPercent = int | str


class AnalysisTemplateRef(ArgoModel):
    """One ``templates`` entry of an analysis: an AnalysisTemplate by name."""

    template_name: str
    cluster_scope: bool = False


class RolloutAnalysis(ArgoModel):
    """An analysis a Rollout runs: templates, arguments and run options.

    ``args`` stay mappings (``name``, ``value`` or ``valueFrom``) as the AnalysisRun takes them.
    """

    templates: list[AnalysisTemplateRef] | None = None
    args: list[dict[str, Any]] | None = None
    dry_run: list[dict[str, Any]] | None = None
    measurement_retention: list[dict[str, Any]] | None = None
    analysis_run_metadata: dict[str, Any] | None = None


class BackgroundAnalysis(RolloutAnalysis):
    """``canary.analysis``: runs in the background from ``startingStep`` to promotion."""

    starting_step: int | None = Field(default=None, ge=0)


class Pause(ArgoModel):
    """``pause``: wait for ``duration`` from the pause's start, or for a person."""

    duration: Duration | None = None

    def seconds(self) -> float | None:
        """The duration in seconds, or None for an indefinite pause."""
        return None if self.duration is None else parse_duration(self.duration).total_seconds()


class SetCanaryScale(ArgoModel):
    """``setCanaryScale``: the canary's size apart from its traffic weight."""

    weight: int | None = Field(default=None, ge=0, le=100)
    replicas: int | None = Field(default=None, ge=0)
    match_traffic_weight: bool = False


class CanaryStep(ArgoModel):
    """One canary step; exactly one kind is set."""

    unsupported_fields = {
        "setHeaderRoute": "header-based routes are not served by the local proxy",
        "setMirrorRoute": "mirrored traffic is not served by the local proxy",
        "plugin": "step plugins are not run",
    }

    set_weight: int | None = Field(default=None, ge=0, le=100)
    pause: Pause | None = None
    set_canary_scale: SetCanaryScale | None = None
    analysis: RolloutAnalysis | None = None
    experiment: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CanaryStep:
        kinds = [k for k in self.kinds() if k != "unknown"]
        if len(kinds) > 1:
            raise ValueError(f"a step sets one of its kinds, not {' and '.join(kinds)}")
        return self

    def kinds(self) -> list[str]:
        """The step kinds this step sets, by Argo's name."""
        names = {
            "setWeight": self.set_weight,
            "pause": self.pause,
            "setCanaryScale": self.set_canary_scale,
            "analysis": self.analysis,
            "experiment": self.experiment,
        }
        return [name for name, value in names.items() if value is not None] or ["unknown"]

    def semantic_warnings(self) -> list[tuple[str, str]]:
        if self.experiment is not None:
            return [("experiment", "experiment steps are not supported by Conveyor: skipped")]
        return []


class CanaryStrategy(ArgoModel):
    """``spec.strategy.canary``: steps of weights, pauses and analysis."""

    unsupported_fields = {
        "antiAffinity": "the local runtime has one node",
        "canaryMetadata": "ephemeral Pod metadata is not injected",
        "stableMetadata": "ephemeral Pod metadata is not injected",
        "pingPong": "ping-pong Services are not supported",
        "replicaProgressThreshold": "not supported",
    }

    steps: list[CanaryStep] | None = None
    canary_service: str | None = None
    stable_service: str | None = None
    # Any traffic router (istio, nginx, smi, alb, plugins...) is served by the local proxy's
    # exact weights; its own settings matter only to a real cluster.
    traffic_routing: dict[str, Any] | None = None
    max_surge: IntOrPercent | None = None
    max_unavailable: IntOrPercent | None = None
    abort_scale_down_delay_seconds: int | None = Field(default=None, ge=0)
    dynamic_stable_scale: bool = False
    analysis: BackgroundAnalysis | None = None
    scale_down_delay_seconds: int | None = Field(default=None, ge=0)
    scale_down_delay_revision_limit: int | None = Field(default=None, ge=0)
    min_pods_per_replica_set: int | None = Field(default=None, ge=1)

    def semantic_warnings(self) -> list[tuple[str, str]]:
        if self.abort_scale_down_delay_seconds is not None and self.traffic_routing is None:
            return [
                (
                    "abortScaleDownDelaySeconds",
                    "applies with trafficRouting only: a canary without it scales down at once"
                    " on abort",
                )
            ]
        return []

    def abort_scale_down_delay(self) -> int | None:
        """Seconds before an aborted canary scales down; None leaves it up (0 was given)."""
        value = self.abort_scale_down_delay_seconds
        if value is None:
            return DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS
        return None if value == 0 else value

    def scale_down_delay(self) -> int:
        """Seconds an old stable stays up after promotion (traffic-routed canary)."""
        if self.scale_down_delay_seconds is None:
            return DEFAULT_SCALE_DOWN_DELAY_SECONDS
        return self.scale_down_delay_seconds


class BlueGreenStrategy(ArgoModel):
    """``spec.strategy.blueGreen``: a preview stack, then one switch of the active Service."""

    unsupported_fields = {
        "antiAffinity": "the local runtime has one node",
        "previewMetadata": "ephemeral Pod metadata is not injected",
        "activeMetadata": "ephemeral Pod metadata is not injected",
    }

    active_service: str
    preview_service: str | None = None
    auto_promotion_enabled: bool = True
    auto_promotion_seconds: int = Field(default=0, ge=0)
    preview_replica_count: int | None = Field(default=None, ge=0)
    scale_down_delay_seconds: int | None = Field(default=None, ge=0)
    scale_down_delay_revision_limit: int | None = Field(default=None, ge=0)
    abort_scale_down_delay_seconds: int | None = Field(default=None, ge=0)
    pre_promotion_analysis: RolloutAnalysis | None = None
    post_promotion_analysis: RolloutAnalysis | None = None

    def abort_scale_down_delay(self) -> int | None:
        """Seconds before an aborted preview scales down; None leaves it up (0 was given)."""
        value = self.abort_scale_down_delay_seconds
        if value is None:
            return DEFAULT_ABORT_SCALE_DOWN_DELAY_SECONDS
        return None if value == 0 else value

    def scale_down_delay(self) -> int:
        """Seconds the previous active stack stays up after the switch (30 by default)."""
        if self.scale_down_delay_seconds is None:
            return DEFAULT_SCALE_DOWN_DELAY_SECONDS
        return self.scale_down_delay_seconds

    def needs_controller_pause(self) -> bool:
        """The controller pauses before the switch (no auto-promotion, or after a delay)."""
        return not self.auto_promotion_enabled or self.auto_promotion_seconds > 0


class RolloutStrategy(ArgoModel):
    """``spec.strategy``: canary or blue-green."""

    canary: CanaryStrategy | None = None
    blue_green: BlueGreenStrategy | None = None


class WorkloadRef(ArgoModel):
    """``spec.workloadRef``: take the pod template from a Deployment."""

    api_version: str = "apps/v1"
    kind: str = "Deployment"
    name: str
    scale_down: str | None = None


class RolloutSpec(ArgoModel):
    """``spec`` of a Rollout. Selector and template stay Kubernetes mappings."""

    unsupported_fields = {
        "rollbackWindow": "rollback windows are not supported",
        "analysis": "analysis run history limits are not applied",
    }

    replicas: int | None = Field(default=None, ge=0)
    selector: dict[str, Any] | None = None
    template: dict[str, Any] | None = None
    workload_ref: WorkloadRef | None = None
    min_ready_seconds: int = Field(default=0, ge=0)
    revision_history_limit: int | None = Field(default=None, ge=0)
    paused: bool = False
    progress_deadline_seconds: int | None = Field(default=None, ge=1)
    progress_deadline_abort: bool = False
    restart_at: str | None = None
    # Argo's controller, not its schema, refuses a Rollout without a strategy (InvalidSpec)
    strategy: RolloutStrategy = Field(default_factory=RolloutStrategy)

    @property
    def desired_replicas(self) -> int:
        """``spec.replicas`` with Argo's default of 1."""
        return DEFAULT_REPLICAS if self.replicas is None else self.replicas

    @property
    def history_limit(self) -> int:
        """``revisionHistoryLimit`` with Argo's default of 10."""
        limit = self.revision_history_limit
        return DEFAULT_REVISION_HISTORY_LIMIT if limit is None else limit

    @property
    def progress_deadline(self) -> timedelta:
        """``progressDeadlineSeconds`` with Argo's default of 600."""
        seconds = self.progress_deadline_seconds
        return timedelta(seconds=DEFAULT_PROGRESS_DEADLINE_SECONDS if seconds is None else seconds)


class Rollout(Manifest):
    """An Argo Rollouts Rollout."""

    kind: str = "Rollout"
    spec: RolloutSpec
    status: dict[str, Any] | None = None

    @property
    def canary(self) -> CanaryStrategy | None:
        """The canary strategy, if that is the strategy."""
        return self.spec.strategy.canary

    @property
    def blue_green(self) -> BlueGreenStrategy | None:
        """The blue-green strategy, if that is the strategy."""
        return self.spec.strategy.blue_green

    def spec_problem(self) -> str | None:
        """What Argo Rollouts' controller reports as InvalidSpec, or None.

        These are checked when the Rollout runs, not when it loads, as Argo does: a manifest
        fragment still loads, and the live Rollout says what is missing.
        """
        spec = self.spec
        canary, blue_green = spec.strategy.canary, spec.strategy.blue_green
        if (canary is None) == (blue_green is None):
            return (
                f'The Rollout "{self.name}" is invalid: spec.strategy.strategy: Required value: '
                "Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'"
            )
        if not spec.selector or not (
            spec.selector.get("matchLabels") or spec.selector.get("matchExpressions")
        ):
            return (
                f'The Rollout "{self.name}" is invalid: spec.selector: Required value: '
                "Rollout has missing field '.spec.selector'"
            )
        if spec.template is None and spec.workload_ref is None:
            return (
                f'The Rollout "{self.name}" is invalid: spec.template: Required value: '
                "Rollout has missing field '.spec.template'"
            )
        invalid = f'The Rollout "{self.name}" is invalid: spec.strategy.'
        if blue_green is not None and blue_green.active_service == blue_green.preview_service:
            return (
                f"{invalid}activeService: Invalid value: {blue_green.active_service!r}: This"
                " rollout uses the same service for the active and preview services, but two"
                " different services are required."
            )
        if canary is None:
            return None
        if canary.traffic_routing is None:
            for field, used, message in (
                (
                    "steps",
                    any(s.set_canary_scale for s in canary.steps or []),
                    "SetCanaryScale requires TrafficRouting to be set",
                ),
                (
                    "scaleDownDelaySeconds",
                    canary.scale_down_delay_seconds is not None,
                    "Canary scaleDownDelaySeconds can only be used with traffic routing",
                ),
                (
                    "dynamicStableScale",
                    canary.dynamic_stable_scale,
                    "Canary dynamicStableScale can only be used with traffic routing",
                ),
            ):
                if used:
                    return f"{invalid}canary.{field}: Invalid value: {message}"
            return None
        istio = canary.traffic_routing.get("istio")
        subsets = isinstance(istio, dict) and istio.get("destinationRule") is not None
        if not subsets and (not canary.canary_service or not canary.stable_service):
            return (
                f"{invalid}canary.stableService: Invalid value: Canary service and Stable"
                " service must to be set to use Traffic Routing"
            )
        if canary.canary_service and canary.canary_service == canary.stable_service:
            return (
                f"{invalid}canary.stableService: Invalid value: {canary.stable_service!r}: This"
                " rollout uses the same service for the stable and canary services, but two"
                " different services are required."
            )
        return None


def rollout_from_dict(obj: Mapping[str, Any]) -> Loaded[Rollout]:
    """Validate a Rollout manifest; raises ManifestError naming every bad field."""
    return load_as(obj, Rollout)
