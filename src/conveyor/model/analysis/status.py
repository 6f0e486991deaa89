"""An AnalysisRun's status in Argo Rollouts' shape: phases, measurements, metric results.

``status.metricResults[]`` holds, per metric, its counters (count, successful, failed,
inconclusive, error, consecutiveError, consecutiveSuccess) and its latest measurements;
``status.runSummary`` and ``status.dryRunSummary`` count metrics by outcome. The values here
are immutable; the planner returns new ones. ``to_dict``/``from_dict`` give the exact
camelCase shape Argo writes, so ``kubectl get analysisrun -o yaml`` habits carry over.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class AnalysisPhase(StrEnum):
    """A measurement's, a metric's or a run's phase."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    ERROR = "Error"
    INCONCLUSIVE = "Inconclusive"

    @property
    def completed(self) -> bool:
        """Successful, Failed, Error and Inconclusive are final."""
        return self not in (AnalysisPhase.PENDING, AnalysisPhase.RUNNING)


# Argo's order, best to worst, for a run made of several metrics (only final phases compete).
_WORST_ORDER = [
    AnalysisPhase.PENDING,
    AnalysisPhase.RUNNING,
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.FAILED,
]


def is_worse(a: AnalysisPhase, b: AnalysisPhase) -> bool:
    """True when phase ``a`` is worse than ``b`` (Failed is the worst)."""
    return _WORST_ORDER.index(a) > _WORST_ORDER.index(b)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as written in status, or None."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime | None) -> str | None:
    """A timestamp the way Kubernetes writes it (second precision, Z)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


@dataclass(frozen=True)
class Measurement:
    """One measurement of one metric; ``finished_at`` is None while it is in flight."""

    phase: AnalysisPhase
    started_at: datetime | None = None
    finished_at: datetime | None = None
    value: str | None = None
    message: str = ""
    metadata: dict[str, str] | None = None
    resume_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase.value}
        if self.started_at:
            out["startedAt"] = format_time(self.started_at)
        if self.finished_at:
            out["finishedAt"] = format_time(self.finished_at)
        if self.value is not None:
            out["value"] = self.value
        if self.message:
            out["message"] = self.message
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.resume_at:
            out["resumeAt"] = format_time(self.resume_at)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(
            phase=AnalysisPhase(data.get("phase") or "Pending"),
            started_at=parse_time(data.get("startedAt")),
            finished_at=parse_time(data.get("finishedAt")),
            value=data.get("value"),
            message=str(data.get("message") or ""),
            metadata=data.get("metadata"),
            resume_at=parse_time(data.get("resumeAt")),
        )


_COUNTERS = (
    "count",
    "successful",
    "failed",
    "inconclusive",
    "error",
    "consecutive_error",
    "consecutive_success",
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class MetricResult:
    """``status.metricResults[]``: one metric's counters and its latest measurements."""

    name: str
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    measurements: tuple[Measurement, ...] = ()
    message: str = ""
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    consecutive_success: int = 0
    dry_run: bool = False
    metadata: dict[str, str] | None = None

    @property
    def last(self) -> Measurement | None:
        """The latest measurement, or None before the first."""
        return self.measurements[-1] if self.measurements else None

    def with_measurement(self, measurement: Measurement, *, replace_last: bool) -> MetricResult:
        """This result with ``measurement`` recorded and, when it is finished, counted."""
        kept = self.measurements[:-1] if replace_last else self.measurements
        updated = replace(self, measurements=(*kept, measurement))
        phase = measurement.phase
        if not phase.completed or measurement.finished_at is None:
            return updated
        if phase is AnalysisPhase.ERROR:
            return replace(
                updated,
                error=self.error + 1,
                consecutive_error=self.consecutive_error + 1,
                consecutive_success=0,
            )
        field_name = {"Successful": "successful", "Failed": "failed"}.get(phase, "inconclusive")
        return replace(
            updated,
            count=self.count + 1,
            consecutive_error=0,
            consecutive_success=(
                self.consecutive_success + 1 if phase is AnalysisPhase.SUCCESSFUL else 0
            ),
            **{field_name: getattr(self, field_name) + 1},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "phase": self.phase.value}
        out["measurements"] = [m.to_dict() for m in self.measurements]
        if self.message:
            out["message"] = self.message
        for counter in _COUNTERS:
            value = getattr(self, counter)
            if value:
                out[_camel(counter)] = value
        if self.dry_run:
            out["dryRun"] = True
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricResult:
        counters = {c: int(data.get(_camel(c)) or 0) for c in _COUNTERS}
        return cls(
            name=str(data["name"]),
            phase=AnalysisPhase(data.get("phase") or "Running"),
            measurements=tuple(Measurement.from_dict(m) for m in data.get("measurements") or []),
            message=str(data.get("message") or ""),
            dry_run=bool(data.get("dryRun")),
            metadata=data.get("metadata"),
            **counters,
        )


@dataclass(frozen=True)
class RunSummary:
    """``status.runSummary``: how many metrics ended how."""

    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0

    def to_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class AnalysisRunStatus:
    """``status`` of an AnalysisRun."""

    phase: AnalysisPhase = AnalysisPhase.PENDING
    message: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    metric_results: tuple[MetricResult, ...] = ()
    run_summary: RunSummary = field(default_factory=RunSummary)
    dry_run_summary: RunSummary | None = None

    def result(self, name: str) -> MetricResult | None:
        """The result of metric ``name``, or None before its first measurement."""
        return next((r for r in self.metric_results if r.name == name), None)

    def with_result(self, result: MetricResult) -> AnalysisRunStatus:
        """This status with ``result`` replacing the metric's previous one (or appended)."""
        others = [r for r in self.metric_results if r.name != result.name]
        if len(others) == len(self.metric_results):
            return replace(self, metric_results=(*self.metric_results, result))
        results = tuple(result if r.name == result.name else r for r in self.metric_results)
        return replace(self, metric_results=results)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"phase": self.phase.value}
        if self.message:
            out["message"] = self.message
        if self.started_at:
            out["startedAt"] = format_time(self.started_at)
        if self.completed_at:
            out["completedAt"] = format_time(self.completed_at)
        out["metricResults"] = [r.to_dict() for r in self.metric_results]
        out["runSummary"] = self.run_summary.to_dict()
        if self.dry_run_summary is not None:
            out["dryRunSummary"] = self.dry_run_summary.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AnalysisRunStatus:
        data = data or {}
        dry = data.get("dryRunSummary")
        return cls(
            phase=AnalysisPhase(data.get("phase") or "Pending"),
            message=str(data.get("message") or ""),
            started_at=parse_time(data.get("startedAt")),
            completed_at=parse_time(data.get("completedAt")),
            metric_results=tuple(
                MetricResult.from_dict(r) for r in data.get("metricResults") or []
            ),
            run_summary=RunSummary(**(data.get("runSummary") or {})),
            dry_run_summary=RunSummary(**dry) if isinstance(dry, dict) else None,
        )
