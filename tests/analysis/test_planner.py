"""The AnalysisRun planner driven with an injected clock: each schedule form, each limit,
dry-run, termination and retention, as Argo Rollouts' controller behaves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conveyor.analysis.planner import Plan, plan, record
from conveyor.model.analysis.args import ResolvedArgs
from conveyor.model.analysis.kinds import AnalysisRunSpec
from conveyor.model.analysis.status import AnalysisPhase, AnalysisRunStatus, Measurement

S, F, INC, E, R = (
    AnalysisPhase.SUCCESSFUL,
    AnalysisPhase.FAILED,
    AnalysisPhase.INCONCLUSIVE,
    AnalysisPhase.ERROR,
    AnalysisPhase.RUNNING,
)
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def spec(*metrics: dict[str, Any], **extra: Any) -> AnalysisRunSpec:
    full = []
    for m in metrics:
        body = {"provider": {"web": {"url": "http://127.0.0.1:1/"}}, **m}
        full.append(body)
    return AnalysisRunSpec.model_validate({"metrics": full, **extra})


@dataclass
class Run:
    """A run driven by the planner: each metric's outcomes in order; time jumps to each wake."""

    spec: AnalysisRunSpec
    outcomes: dict[str, Iterator[AnalysisPhase]]
    now: datetime = T0
    status: AnalysisRunStatus = field(default_factory=AnalysisRunStatus)
    measured: list[tuple[str, datetime]] = field(default_factory=list)

    def step(self) -> Plan:
        current = plan(self.spec, self.status, self.now)
        self.status = current.status
        for task in current.tasks:
            if task.terminate:
                continue
            phase = next(self.outcomes[task.metric.name])
            measurement = Measurement(phase, self.now, self.now, value="1")
            self.status = record(self.spec, self.status, task.metric.name, measurement)
            self.measured.append((task.metric.name, self.now))
        if current.tasks:
            return self.step()  # the new measurements decide the phases
        return current

    def until_done(self, limit: int = 100, stop: Callable[[Run], bool] | None = None) -> Run:
        for _ in range(limit):
            current = self.step()
            if current.status.phase.completed or (stop and stop(self)):
                return self
            assert current.wake_at is not None, "a running run must say when to wake"
            assert current.wake_at > self.now
            self.now = current.wake_at
        raise AssertionError("the run did not finish")


def run(spec_: AnalysisRunSpec, **outcomes: list[AnalysisPhase]) -> Run:
    return Run(spec_, {name: iter(phases) for name, phases in outcomes.items()})


def times(r: Run, name: str = "m") -> list[float]:
    return [(t - T0).total_seconds() for n, t in r.measured if n == name]


def test_neither_count_nor_interval_is_one_measurement() -> None:
    r = run(spec({"name": "m", "successCondition": "true"}), m=[S]).until_done()
    assert r.status.phase is S
    assert times(r) == [0]
    assert r.status.completed_at == T0


def test_count_and_interval() -> None:
    r = run(spec({"name": "m", "interval": "1m", "count": 3}), m=[S, S, S]).until_done()
    assert r.status.phase is S
    assert times(r) == [0, 60, 120]
    result = r.status.result("m")
    assert result is not None and (result.count, result.successful) == (3, 3)


def test_interval_alone_measures_until_terminated() -> None:
    r = run(spec({"name": "m", "interval": "30s"}), m=[S] * 50)
    r.until_done(stop=lambda r: len(r.measured) == 20)
    assert r.status.phase is R
    assert times(r)[:3] == [0, 30, 60]
    r.spec = r.spec.model_copy(update={"terminate": True})
    final = r.step()
    assert final.status.phase is S
    assert final.status.message == "Run Terminated"
    assert final.wake_at is None and final.tasks == ()


def test_default_failure_limit_zero_fails_on_first_failure() -> None:
    r = run(spec({"name": "m", "interval": "1m", "count": 5}), m=[S, F]).until_done()
    assert r.status.phase is F
    assert r.status.message == 'Metric "m" assessed Failed due to failed (1) > failureLimit (0)'
    assert times(r) == [0, 60]


def test_failure_limit() -> None:
    r = run(
        spec({"name": "m", "interval": "2m", "count": 5, "failureLimit": 3}), m=[F, F, F, F]
    ).until_done()
    assert r.status.phase is F
    assert "failed (4) > failureLimit (3)" in r.status.message
    tolerated = run(
        spec({"name": "m", "interval": "2m", "count": 5, "failureLimit": 3}), m=[F, F, F, S, S]
    ).until_done()
    assert tolerated.status.phase is S


def test_inconclusive_limit() -> None:
    r = run(spec({"name": "m", "interval": "1m", "count": 3}), m=[INC]).until_done()
    assert r.status.phase is INC
    assert "inconclusive (1) > inconclusiveLimit (0)" in r.status.message
    r = run(
        spec({"name": "m", "interval": "1m", "count": 3, "inconclusiveLimit": 1}), m=[INC, S, S]
    ).until_done()
    assert r.status.phase is S


def test_errors_retry_after_ten_seconds_and_consecutive_error_limit() -> None:
    r = run(spec({"name": "m", "interval": "5m", "count": 2}), m=[E] * 5).until_done()
    assert r.status.phase is E
    assert "consecutiveErrors (5) > consecutiveErrorLimit (4)" in r.status.message
    assert times(r) == [0, 10, 20, 30, 40]
    recovered = run(spec({"name": "m", "interval": "5m", "count": 2}), m=[E, E, S, S]).until_done()
    assert recovered.status.phase is S
    assert times(recovered) == [0, 10, 20, 320]  # errors do not count towards count
    result = recovered.status.result("m")
    assert result is not None and (result.count, result.error) == (2, 2)


def test_consecutive_success_limit_alone() -> None:
    m = {"name": "m", "interval": "1m", "failureLimit": -1, "consecutiveSuccessLimit": 2}
    r = run(spec(m), m=[F, S, F, S, S, F]).until_done()
    assert r.status.phase is S
    assert times(r) == [0, 60, 120, 180, 240]
    short = run(spec({**m, "count": 3}), m=[S, F, S]).until_done()
    assert short.status.phase is F  # count reached without two successes in a row


def test_failure_and_consecutive_success_limits_together() -> None:
    m = {"name": "m", "interval": "1m", "count": 3, "failureLimit": 1}
    r = run(spec({**m, "consecutiveSuccessLimit": 3}), m=[S, F, S]).until_done()
    assert r.status.phase is INC  # neither limit reached within count
    early = run(spec({**m, "consecutiveSuccessLimit": 2}), m=[F, S, S]).until_done()
    assert early.status.phase is S
    failed = run(spec({**m, "consecutiveSuccessLimit": 2}), m=[F, F]).until_done()
    assert failed.status.phase is F


def test_initial_delay() -> None:
    r = run(spec({"name": "m", "initialDelay": "5m"}), m=[S])
    first = r.step()
    assert first.tasks == () and first.status.phase is R
    assert first.wake_at == T0 + timedelta(minutes=5)
    r.until_done()
    assert times(r) == [300]
    assert r.status.phase is S


def test_dry_run_metrics_do_not_decide() -> None:
    r = run(
        spec(
            {"name": "total-5xx-errors", "interval": "1m", "count": 2},
            {"name": "total-4xx-errors", "interval": "1m", "count": 2},
            dryRun=[{"metricName": "5xx"}],
        ),
        **{"total-5xx-errors": [F, F], "total-4xx-errors": [S, S]},
    ).until_done()
    assert r.status.phase is S
    assert r.status.dry_run_summary is not None and r.status.dry_run_summary.failed == 1
    assert r.status.run_summary.successful == 1
    dry = r.status.result("total-5xx-errors")
    assert dry is not None and dry.dry_run and dry.phase is F


def test_a_failed_metric_terminates_an_indefinite_one() -> None:
    r = run(
        spec({"name": "fails", "interval": "1m", "count": 3}, {"name": "m", "interval": "1m"}),
        fails=[S, F],
        m=[S] * 10,
    ).until_done()
    assert r.status.phase is F
    other = r.status.result("m")
    assert other is not None and other.phase is S
    assert times(r) == [0, 60]


def test_terminate_before_any_measurement_is_successful() -> None:
    current = plan(spec({"name": "m", "interval": "1m"}, terminate=True), AnalysisRunStatus(), T0)
    assert current.status.phase is S and current.tasks == ()


def test_in_flight_measurement_is_resumed_then_terminated() -> None:
    s = spec({"name": "m", "interval": "1m"})
    in_flight = Measurement(R, T0, resume_at=T0 + timedelta(seconds=30))
    status = record(s, AnalysisRunStatus(started_at=T0), "m", in_flight)
    waiting = plan(s, status, T0 + timedelta(seconds=10))
    assert waiting.tasks == () and waiting.wake_at == T0 + timedelta(seconds=30)
    due = plan(s, status, T0 + timedelta(seconds=30))
    assert [t.resume for t in due.tasks] == [in_flight]
    stopping = plan(s.model_copy(update={"terminate": True}), status, T0 + timedelta(seconds=31))
    assert [(t.resume, t.terminate) for t in stopping.tasks] == [(in_flight, True)]


def test_measurement_retention() -> None:
    r = run(spec({"name": "m", "interval": "1m", "count": 12}), m=[S] * 12).until_done()
    result = r.status.result("m")
    assert result is not None and len(result.measurements) == 10 and result.count == 12
    kept = run(
        spec(
            {"name": "m", "interval": "1m", "count": 12},
            measurementRetention=[{"metricName": ".*", "limit": 3}],
        ),
        m=[S] * 12,
    ).until_done()
    result = kept.status.result("m")
    assert result is not None and len(result.measurements) == 3


def test_unresolved_placeholder_is_a_spec_error() -> None:
    current = plan(spec({"name": "m", "interval": "{{args.i}}"}), AnalysisRunStatus(), T0)
    assert current.status.phase is E
    assert current.status.message.startswith("Analysis spec invalid")


def test_status_round_trips_in_argos_shape() -> None:
    r = run(spec({"name": "m", "interval": "1m", "count": 2}), m=[S, F]).until_done()
    body = r.status.to_dict()
    assert body["phase"] == "Failed"
    assert body["metricResults"][0]["failed"] == 1
    assert body["metricResults"][0]["measurements"][0]["startedAt"] == "2026-01-01T12:00:00Z"
    assert AnalysisRunStatus.from_dict(body) == r.status


@pytest.mark.parametrize("completed", [S, F, E, INC])
def test_completed_run_plans_nothing(completed: AnalysisPhase) -> None:
    status = AnalysisRunStatus(phase=completed)
    assert plan(spec({"name": "m"}), status, T0) == Plan((), status, None)


def test_recorded_measurements_mask_secret_arguments() -> None:
    args = ResolvedArgs({"token": "hunter2"}, frozenset({"hunter2"}))
    s = spec({"name": "m"})
    leaked = Measurement(E, T0, T0, message="GET http://h/?token=hunter2 failed")
    status = record(
        s, AnalysisRunStatus(), "m", leaked, args=args, metadata={"q": "x{t='hunter2'}"}
    )
    assert "hunter2" not in str(status.to_dict())
    result = status.result("m")
    assert result is not None and result.metadata == {"q": "x{t='*****'}"}
    assert result.measurements[0].message == "GET http://h/?token=***** failed"


def test_terminating_hands_back_an_in_flight_measurement_before_its_resume_time() -> None:
    s = spec({"name": "m", "interval": "1m"})
    in_flight = Measurement(R, T0, resume_at=T0 + timedelta(seconds=30))
    status = record(s, AnalysisRunStatus(started_at=T0), "m", in_flight)
    stopping = plan(s.model_copy(update={"terminate": True}), status, T0 + timedelta(seconds=5))
    assert [(t.resume, t.terminate) for t in stopping.tasks] == [(in_flight, True)]
