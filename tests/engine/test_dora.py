"""DORA's four keys on a scripted timeline, with time moved by an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor.engine import dora
from conveyor.engine.events import Destination, Initiator
from conveyor.engine.records import HealthEvent
from conveyor.engine.repository import DeploymentRecord
from support.clock import ManualClock

T0 = datetime(2026, 12, 1, tzinfo=UTC)
A, B, C, D = "a" * 40, "b" * 40, "c" * 40, "d" * 40
MIN, HOUR, DAY = 60, 3600, 86400


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(
    rid: int, revision: str, start: float, *, served: float | None, app: str = "web",
    env: str = "prod", initiator: Initiator = Initiator.USER, phase: str = "Succeeded",
) -> DeploymentRecord:  # fmt: skip
    return DeploymentRecord(
        id=rid, operation_id=rid, app=app, project="default",
        destination=Destination("https://kubernetes.default.svc", "", env),
        revision=revision, app_commit=None, initiator=initiator, username="alice",
        phase=phase, message="", started_at=t(start), finished_at=t(start + MIN),
        served_at=t(served) if served is not None else None,
    )  # fmt: skip


RECORDS = [
    record(1, A, 0, served=3 * MIN),
    record(2, B, DAY + HOUR, served=DAY + HOUR + 5 * MIN),
    # B goes Degraded two hours later; the user rolls back to A, which serves at +20 min
    record(
        3,
        A,
        DAY + 3 * HOUR + 10 * MIN,
        served=DAY + 3 * HOUR + 20 * MIN,
        initiator=Initiator.ROLLBACK,
    ),
    record(4, C, 2 * DAY + 30 * MIN, served=2 * DAY + 40 * MIN),
    record(5, C, 3 * DAY, served=None, initiator=Initiator.SELF_HEAL),  # same revision
    record(6, D, 3 * DAY, served=None, app="api", env="staging"),  # not serving yet
    record(7, D, 3 * DAY, served=None, phase="Failed"),  # a failed sync changes nothing
]
HEALTH = [
    HealthEvent("web", "Degraded", B, t(DAY + 3 * HOUR)),
    HealthEvent("web", "Degraded", A, t(-HOUR)),  # before anything deployed: no deployment's
]
CHANGES = {1: [t(-2 * HOUR)], 2: [t(DAY), t(DAY + 30 * MIN)], 4: [t(2 * DAY), t(2 * DAY + HOUR)]}
"""Commit times per deployment; the last of 4 is dated after the deploy (ignored)."""


def test_three_deploys_one_rolled_back() -> None:
    clock = ManualClock(T0)
    clock.advance(10 * DAY)
    deployments = dora.classify(RECORDS, HEALTH)
    assert [(d.record.id, d.previous_revision) for d in deployments] == [(1, ""), (2, A), (4, A)]
    assert deployments[1].failed_at == t(DAY + 3 * HOUR)
    assert deployments[1].restored_at == t(DAY + 3 * HOUR + 20 * MIN)

    web = dora.figures(deployments, CHANGES, window=timedelta(days=30), now=clock.now())
    assert (web.deployments, web.failures, web.restored, web.changes) == (3, 1, 1, 4)
    assert web.change_failure_rate == pytest.approx(1 / 3)
    assert web.time_to_restore == 20 * MIN
    assert web.deployment_frequency == pytest.approx(3 / 30)
    # changes: 2h3m, 1h5m, 35m and 40m before the deploys' serving moments: median 57.5 min
    assert web.lead_time == (65 * MIN + 40 * MIN) / 2
    assert web.bands() == {
        "deploymentFrequency": "medium", "leadTime": "elite",
        "changeFailureRate": "low", "timeToRestore": "elite",
    }  # fmt: skip
    assert [item["failedAt"] for item in web.to_dict()["timeline"]] == [
        None, "2026-12-02T03:00:00.000Z", None,
    ]  # fmt: skip


def test_the_window_moves_with_the_clock() -> None:
    clock = ManualClock(T0)
    clock.advance(10 * DAY)
    deployments = dora.classify(RECORDS, HEALTH)
    recent = dora.figures(deployments, CHANGES, window=timedelta(days=9), now=clock.now())
    assert (recent.deployments, recent.failures, recent.change_failure_rate) == (2, 1, 0.5)
    clock.advance(30 * DAY)
    later = dora.figures(deployments, CHANGES, window=timedelta(days=30), now=clock.now())
    assert (later.deployments, later.change_failure_rate, later.lead_time) == (0, None, None)
    assert later.bands()["deploymentFrequency"] is None


def test_a_failure_not_yet_restored_has_no_restore_time() -> None:
    records = [record(1, A, 0, served=MIN), record(2, B, HOUR, served=None)]
    health = [HealthEvent("web", "Degraded", B, t(HOUR + 2 * MIN))]
    deployments = dora.classify(records, health)
    # B never served, but it failed: a failed change, counted at its end
    assert [(d.record.id, d.at, d.failed_at) for d in deployments] == [
        (1, t(MIN), None), (2, t(HOUR + MIN), t(HOUR + 2 * MIN)),
    ]  # fmt: skip
    figures = dora.figures(deployments, {}, window=timedelta(days=1), now=t(2 * HOUR))
    assert (figures.failures, figures.restored, figures.time_to_restore) == (1, 0, None)
    assert figures.change_failure_rate == 0.5


def test_per_app_and_environment() -> None:
    records = [*RECORDS, record(8, D, 4 * DAY, served=4 * DAY + MIN, app="api", env="staging")]
    deployments = dora.classify(records, HEALTH)
    groups = dora.per_app_env(deployments, CHANGES, window=timedelta(days=30), now=t(10 * DAY))
    assert [(g.app, g.env, g.deployments, g.failures) for g in groups] == [
        ("api", "staging", 1, 0), ("web", "prod", 3, 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("per_day", "band"),
    [(3.0, "elite"), (1.0, "elite"), (0.5, "high"), (1 / 7, "high"), (0.1, "medium"),
     (1 / 30, "medium"), (0.01, "low")],
)  # fmt: skip
def test_frequency_bands(per_day: float, band: str) -> None:
    assert dora.frequency_band(per_day) == band


@pytest.mark.parametrize(
    ("seconds", "lead", "restore"),
    [(30 * MIN, "elite", "elite"), (2 * HOUR, "elite", "high"), (2 * DAY, "high", "medium"),
     (8 * DAY, "medium", "low"), (31 * DAY, "low", "low")],
)  # fmt: skip
def test_time_bands(seconds: float, lead: str, restore: str) -> None:
    assert (dora.lead_time_band(seconds), dora.restore_band(seconds)) == (lead, restore)


@pytest.mark.parametrize(
    ("rate", "band"),
    [(0.0, "elite"), (0.05, "elite"), (0.1, "high"), (0.15, "medium"), (0.2, "low")],
)
def test_failure_rate_bands(rate: float, band: str) -> None:
    assert dora.failure_rate_band(rate) == band
