"""AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun with Argo Rollouts' field names.

A template says what to measure (metrics, each with one provider), how often (interval,
count, initialDelay), what counts as success or failure (conditions) and how many bad
measurements a metric tolerates (failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit
4; consecutiveSuccessLimit 0 = off). An AnalysisRun is the same spec with its args resolved,
plus ``terminate`` and a status. Checks Argo's controller makes when a run starts are made
here when the manifest is applied (a condition outside the supported language, a count
below failureLimit, a metric without a provider), so a template that cannot work is refused
before a release depends on it. Fields may hold ``{{args.x}}`` placeholders (Argo resolves
them when the run is created), so numbers and durations also accept a placeholder string.
The providers a metric measures with are ``metric_providers``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, PlainValidator, field_validator, model_validator

from conveyor.model.analysis.expr import PLACEHOLDER, check_condition
from conveyor.model.analysis.metric_providers import (
    UNSUPPORTED_PROVIDERS,
    Header,
    JobMetric,
    MetricProvider,
    PrometheusMetric,
    WebMetric,
)
from conveyor.model.durations import parse_duration
from conveyor.model.manifest import ArgoModel, Manifest, ObjectMeta

__all__ = [
    "ANALYSIS_KINDS",
    "DEFAULT_CONSECUTIVE_ERROR_LIMIT",
    "DEFAULT_CONSECUTIVE_SUCCESS_LIMIT",
    "DEFAULT_FAILURE_LIMIT",
    "DEFAULT_INCONCLUSIVE_LIMIT",
    "DEFAULT_MEASUREMENT_RETENTION",
    "UNSUPPORTED_PROVIDERS",
    "AnalysisRun",
    "AnalysisRunSpec",
    "AnalysisTemplate",
    "AnalysisTemplateSpec",
    "Argument",
    "ClusterAnalysisTemplate",
    "DryRun",
    "DurationString",
    "FieldRef",
    "Header",
    "IntOrString",
    "JobMetric",
    "MeasurementRetention",
    "Metric",
    "MetricProvider",
    "PrometheusMetric",
    "SecretKeyRef",
    "TemplateRef",
    "ValueFrom",
    "WebMetric",
    "int_value",
    "metric_problems",
]

DEFAULT_FAILURE_LIMIT = 0
DEFAULT_INCONCLUSIVE_LIMIT = 0
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4
DEFAULT_CONSECUTIVE_SUCCESS_LIMIT = 0  # 0: not applicable
DEFAULT_MEASUREMENT_RETENTION = 10  # latest measurements kept per metric


def _has_placeholder(value: str) -> bool:
    return bool(PLACEHOLDER.search(value))


def _int_or_placeholder(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (_has_placeholder(value) or re.fullmatch(r"-?\d+", value)):
        return value
    raise ValueError(
        f"expected a whole number (or an {{{{args.name}}}} placeholder), got {value!r}"
    )


def _duration_or_placeholder(value: Any) -> str | int:
    if isinstance(value, str) and _has_placeholder(value):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"'{value}' is not a duration: write e.g. 5s, 2m or 1h")
    parse_duration(value)
    return value


IntOrString = Annotated[int | str, PlainValidator(_int_or_placeholder)]
"""Argo's intstr fields (count, limits): a number, or a placeholder resolved at run time."""
DurationString = Annotated[str | int, PlainValidator(_duration_or_placeholder)]
"""A duration (``30s``, ``5m``), or a placeholder resolved at run time."""


def int_value(value: int | str | None, default: int) -> int:
    """The number in an intstr field, ``default`` when unset (placeholders must be resolved)."""
    if value is None:
        return default
    return int(value)


class SecretKeyRef(ArgoModel):
    """``valueFrom.secretKeyRef``: a key of a Secret in the run's namespace."""

    name: str
    key: str


class FieldRef(ArgoModel):
    """``valueFrom.fieldRef``: a field of the object that creates the run (a Rollout)."""

    field_path: str


class ValueFrom(ArgoModel):
    """Where an argument's value comes from when it is not given inline."""

    secret_key_ref: SecretKeyRef | None = None
    field_ref: FieldRef | None = None
    pod_template_hash_value: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ValueFrom:
        given = [n for n in ("secret_key_ref", "field_ref", "pod_template_hash_value")
                 if getattr(self, n) is not None]  # fmt: skip
        if len(given) != 1:
            raise ValueError("set exactly one of secretKeyRef, fieldRef, podTemplateHashValue")
        if self.pod_template_hash_value not in (None, "Stable", "Latest"):
            raise ValueError(
                f"podTemplateHashValue: '{self.pod_template_hash_value}' is not Stable or Latest"
            )
        return self


class Argument(ArgoModel):
    """``spec.args[]``: a named value that ``{{args.name}}`` placeholders are replaced with."""

    name: str
    value: str | None = None
    value_from: ValueFrom | None = None

    @model_validator(mode="after")
    def _value_or_from(self) -> Argument:
        if self.value is not None and self.value_from is not None:
            raise ValueError(f"args '{self.name}': set value or valueFrom, not both")
        return self

    @property
    def is_secret(self) -> bool:
        """Its value comes from a Secret, so it is masked wherever it would be shown."""
        return self.value_from is not None and self.value_from.secret_key_ref is not None


class Metric(ArgoModel):
    """``spec.metrics[]``: what to measure, how often, and what the value means."""

    name: str
    interval: DurationString | None = None
    initial_delay: DurationString | None = None
    count: IntOrString | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    failure_limit: IntOrString | None = None
    inconclusive_limit: IntOrString | None = None
    consecutive_error_limit: IntOrString | None = None
    consecutive_success_limit: IntOrString | None = None
    provider: MetricProvider

    @field_validator("success_condition", "failure_condition")
    @classmethod
    def _check_condition(cls, value: str | None) -> str | None:
        if value is not None:
            problem = check_condition(value)
            if problem:
                raise ValueError(f"'{value}' cannot be evaluated: {problem}")
        return value

    @model_validator(mode="after")
    def _limits(self) -> Metric:
        problems = metric_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def metric_problems(metric: Metric) -> list[str]:
    """Argo's checks of one metric's numbers (skipped for fields still holding placeholders)."""

    def number(value: int | str | None) -> int | None:
        return None if isinstance(value, str) and _has_placeholder(value) else (
            None if value is None else int(value))  # fmt: skip

    problems: list[str] = []
    count, failure = number(metric.count), number(metric.failure_limit)
    inconclusive, successes = (
        number(metric.inconclusive_limit),
        number(metric.consecutive_success_limit),
    )
    if count and failure is not None and count < failure:
        problems.append(f"count ({count}) must be >= failureLimit ({failure})")
    if count and inconclusive is not None and count < inconclusive:
        problems.append(f"count ({count}) must be >= inconclusiveLimit ({inconclusive})")
    if count and successes and count < successes:
        problems.append(f"count ({count}) must be >= consecutiveSuccessLimit ({successes})")
    if count is not None and count > 1 and metric.interval is None:
        problems.append("interval must be set when count > 1")
    if (failure if failure is not None else 0) < 0 and not successes:
        problems.append(
            "failureLimit is -1 (off) and consecutiveSuccessLimit is 0 (off):"
            " one of them must apply"
        )
    return problems


class DryRun(ArgoModel):
    """``spec.dryRun[]``: metrics (a regular expression of names) that do not decide the run."""

    metric_name: str

    @field_validator("metric_name")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as err:
            raise ValueError(f"'{value}' is not a regular expression: {err}") from None
        return value


class MeasurementRetention(DryRun):
    """``spec.measurementRetention[]``: how many measurements to keep for matching metrics."""

    limit: int = Field(ge=0)


class TemplateRef(ArgoModel):
    """``spec.templates[]`` (Argo Rollouts v1.7+): another template whose metrics, args,
    dryRun and measurementRetention this one takes in, followed when a run is built."""

    template_name: str = Field(min_length=1)
    cluster_scope: bool = False


class AnalysisTemplateSpec(ArgoModel):
    """``spec`` of an AnalysisTemplate or ClusterAnalysisTemplate: metrics of its own, other
    templates (``templates``), or both."""

    metrics: list[Metric] = Field(default_factory=list)
    templates: list[TemplateRef] | None = None
    args: list[Argument] | None = None
    dry_run: list[DryRun] | None = None
    measurement_retention: list[MeasurementRetention] | None = None

    @model_validator(mode="after")
    def _something_to_measure(self) -> AnalysisTemplateSpec:
        if not self.metrics and not self.templates:
            raise ValueError(
                "metrics: at least one metric (or templates naming others) is required"
            )
        return self

    @model_validator(mode="after")
    def _unique(self) -> AnalysisTemplateSpec:
        for what, names in (
            ("metric", [m.name for m in self.metrics]),
            ("argument", [a.name for a in self.args or []]),
        ):
            seen = {n for n in names if names.count(n) > 1}
            if seen:
                raise ValueError(f"{what} names must be unique: {', '.join(sorted(seen))}")
        return self


class AnalysisRunSpec(AnalysisTemplateSpec):
    """``spec`` of an AnalysisRun: a template's spec plus ``terminate``."""

    metrics: list[Metric] = Field(min_length=1)  # a run's templates are resolved already
    terminate: bool | None = None


class AnalysisTemplate(Manifest):
    """An Argo Rollouts AnalysisTemplate: how to judge a release, in one namespace."""

    kind: str = "AnalysisTemplate"
    spec: AnalysisTemplateSpec


class ClusterAnalysisTemplate(Manifest):
    """An AnalysisTemplate that every namespace can use (cluster-scoped: no namespace)."""

    kind: str = "ClusterAnalysisTemplate"
    spec: AnalysisTemplateSpec

    @field_validator("metadata")
    @classmethod
    def _no_namespace(cls, value: ObjectMeta) -> ObjectMeta:
        if value.namespace:
            raise ValueError("a ClusterAnalysisTemplate is cluster-scoped: remove the namespace")
        return value


class AnalysisRun(Manifest):
    """An Argo Rollouts AnalysisRun: a template's metrics measured until the run ends."""

    kind: str = "AnalysisRun"
    spec: AnalysisRunSpec
    status: dict[str, Any] | None = None


ANALYSIS_KINDS: dict[str, type[AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun]] = {
    "AnalysisTemplate": AnalysisTemplate,
    "ClusterAnalysisTemplate": ClusterAnalysisTemplate,
    "AnalysisRun": AnalysisRun,
}
