"""Conveyor's own metric providers, written in Argo Rollouts' ``plugin`` provider form.

Argo loads a metric plugin named under ``provider.plugin``; a template that names Conveyor's
plugins stays valid YAML for Argo (which would need the plugin installed), and Conveyor
measures them without any other service:

- ``conveyor/builtin``: what one ReplicaSet behind a Service served over a window, from the
  local runtime's proxy (``measure``: successRate, latencyPercentile or requestCount);
- ``conveyor/judge``: a Kayenta-like statistical comparison of a canary ReplicaSet with the
  stable one over the same window, scored 0-100 against pass and marginal thresholds.

Their configuration is checked when a template is applied, like every other provider's.
Fields may hold ``{{args.x}}`` placeholders, checked again once the run resolves them.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PlainValidator, model_validator
from pydantic import ValidationError as PydanticError

from conveyor.model.analysis.expr import PLACEHOLDER
from conveyor.model.durations import parse_duration
from conveyor.model.manifest import ArgoModel

BUILTIN = "conveyor/builtin"
JUDGE = "conveyor/judge"

DEFAULT_WINDOW = "1m"
DEFAULT_PERCENTILE = 99.0
DEFAULT_PASS = 95.0  # Kayenta's score thresholds (a canary config's defaults in Spinnaker)
DEFAULT_MARGINAL = 75.0
DEFAULT_CONFIDENCE = 0.98  # NetflixACAJudge's confidence level for the Mann-Whitney interval


class Measure(StrEnum):
    """What ``conveyor/builtin`` measures."""

    SUCCESS_RATE = "successRate"
    LATENCY_PERCENTILE = "latencyPercentile"
    REQUEST_COUNT = "requestCount"


class Direction(StrEnum):
    """Which change of a metric counts against the canary (Kayenta's metric direction)."""

    INCREASE = "increase"
    DECREASE = "decrease"
    EITHER = "either"


def _placeholder(value: Any) -> bool:
    return isinstance(value, str) and bool(PLACEHOLDER.search(value))


def _number(value: Any) -> float | str:
    if _placeholder(value):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):  # an argument's value, once the run resolved it
        with contextlib.suppress(ValueError):
            return float(value)
    raise ValueError(f"expected a number (or an {{{{args.name}}}} placeholder), got {value!r}")


def _duration(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a duration: write e.g. 30s, 1m or 5m")
    if not _placeholder(value):
        parse_duration(value)
    return value


def _choice(kind: type[StrEnum]) -> Any:
    def check(value: Any) -> str:
        if _placeholder(value):
            return str(value)
        if value not in {m.value for m in kind}:
            names = ", ".join(m.value for m in kind)
            raise ValueError(f"'{value}' is not one of {names}")
        return str(value)

    return PlainValidator(check)


Number = Annotated[float | str, PlainValidator(_number)]
Window = Annotated[str, PlainValidator(_duration)]


class BuiltinMetric(ArgoModel):
    """``plugin: {conveyor/builtin: ...}``: one ReplicaSet's traffic through one Service."""

    service: str
    namespace: str | None = None  # the run's namespace when unset
    replica_set: str  # a ReplicaSet's name or its pod-template-hash
    measure: Annotated[str, _choice(Measure)]
    percentile: Number | None = None  # latencyPercentile only: 0 < p <= 100 (99 when unset)
    window: Window | None = None  # 1m when unset

    @model_validator(mode="after")
    def _percentile(self) -> BuiltinMetric:
        p = self.percentile
        if p is not None and not isinstance(p, str):
            if self.measure != Measure.LATENCY_PERCENTILE:
                raise ValueError("percentile applies to measure latencyPercentile only")
            if not 0 < p <= 100:
                raise ValueError(f"percentile must be in (0, 100], got {p:g}")
        return self


class Thresholds(ArgoModel):
    """Score thresholds, as Argo's kayenta provider names them: a score >= ``pass`` is
    Successful, >= ``marginal`` Inconclusive, below it Failed."""

    pass_: Number | None = Field(default=None, alias="pass")
    marginal: Number | None = None


class JudgeMetric(ArgoModel):
    """``plugin: {conveyor/judge: ...}``: canary against stable over the same window."""

    service: str
    namespace: str | None = None
    canary: str  # ReplicaSet name or pod-template-hash
    stable: str
    window: Window | None = None
    thresholds: Thresholds | None = None
    confidence: Number | None = None  # 0.98 when unset
    direction: Annotated[str, _choice(Direction)] | None = None  # increase when unset

    @model_validator(mode="after")
    def _numbers(self) -> JudgeMetric:
        c = self.confidence
        if c is not None and not isinstance(c, str) and not 0.5 <= c < 1:
            raise ValueError(f"confidence must be in [0.5, 1), got {c:g}")
        t = self.thresholds
        if t is not None:
            p, m = t.pass_, t.marginal
            for name, value in (("pass", p), ("marginal", m)):
                if value is not None and not isinstance(value, str) and not 0 <= value <= 100:
                    raise ValueError(f"thresholds.{name} must be in [0, 100], got {value:g}")
            if isinstance(p, float) and isinstance(m, float) and m > p:
                raise ValueError(f"thresholds.marginal ({m:g}) must be <= thresholds.pass ({p:g})")
        return self


PLUGINS: dict[str, type[BuiltinMetric | JudgeMetric]] = {BUILTIN: BuiltinMetric, JUDGE: JudgeMetric}
"""Conveyor's plugins by the name a metric gives under ``provider.plugin``."""


def check_plugin(plugin: dict[str, Any]) -> None:
    """Raise ValueError when a Conveyor plugin's configuration is wrong (others pass)."""
    for name, config in plugin.items():
        model = PLUGINS.get(name)
        if model is None:
            continue
        if len(plugin) > 1:
            raise ValueError(f"plugin {name} must be the only plugin of its metric")
        try:
            model.model_validate(config if config is not None else {})
        except PydanticError as err:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}"
                for e in err.errors()
            ]
            raise ValueError(f"plugin {name}: {'; '.join(problems)}") from None
