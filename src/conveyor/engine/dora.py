"""DORA's four keys from the deployment record and the health record, as Four Keys counts them.

A pure module: records in, figures out, time given by the caller. The definitions, after
Google's Four Keys (dora-team/fourkeys) and the issue that asked for them:

- a **deployment** is a sync that is not a dry run, Succeeded, to a revision the app had not
  deployed before (a rollback to an earlier revision, a self-heal at the same one are not
  changes), counted at the moment it first served (Healthy and Synced: ``servedAt``); one that
  never served but failed is counted at its end, as a failed change;
- **lead time for changes**: for each change in a deployment (an app commit, or the config
  commit itself when no app commit is named), from its commit time to the deployment's moment;
  the median over all changes, ignoring non-positive ones (as Four Keys ignores automated
  pushes dated after the deploy);
- a **failure** is a deployment followed, before the app's next operation to another revision,
  by Degraded health at its revision, or by a rollback (which also covers an aborted rollout,
  whose Rollout is Degraded); **change failure rate** = failed / deployments;
- **time to restore**: from the failure's first sign (the Degraded moment, or the rollback's
  start) until the app is Healthy and Synced at another revision (the next record's
  ``servedAt``); the median over restored failures;
- **deployment frequency**: deployments per day over the window.

The performance bands are the 2023 State of DevOps report's (elite, high, medium, low), where
the report's ranges overlap (low and medium), read as DevLake does: low is past medium's end.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.engine.events import Initiator
from conveyor.engine.records import HealthEvent
from conveyor.engine.repository import DeploymentRecord

SUCCEEDED = "Succeeded"
DEGRADED = "Degraded"
DAY = 86_400.0

ELITE, HIGH, MEDIUM, LOW = "elite", "high", "medium", "low"


@dataclass(frozen=True)
class Deployment:
    """One counted deployment, with its failure and restore when there was one."""

    record: DeploymentRecord
    previous_revision: str
    """The revision the app had deployed before ("" for its first): its changes lie between."""
    at: datetime
    env: str
    failed_at: datetime | None = None
    restored_at: datetime | None = None

    @property
    def app(self) -> str:
        return self.record.app


def environment(record: DeploymentRecord) -> str:
    """An app's environment: its destination namespace (the cluster's name when it has none)."""
    dest = record.destination
    return dest.namespace or dest.name or dest.server


def classify(
    records: Iterable[DeploymentRecord],
    health: Iterable[HealthEvent],
    env_of: Callable[[DeploymentRecord], str] = environment,
) -> list[Deployment]:
    """Every counted deployment of ``records`` (any order, all apps), oldest first;
    ``env_of`` names a record's environment (by default its destination namespace)."""
    per_app: dict[str, list[DeploymentRecord]] = {}
    for record in records:
        per_app.setdefault(record.app, []).append(record)
    degraded: dict[str, list[HealthEvent]] = {}
    for event in health:
        if event.health == DEGRADED:
            degraded.setdefault(event.app, []).append(event)
    found: list[Deployment] = []
    for app, rows in per_app.items():
        rows.sort(key=lambda r: (r.started_at, r.id))
        events = sorted(degraded.get(app, []), key=lambda e: e.at)
        found += _app_deployments(rows, events, env_of)
    return sorted(found, key=lambda d: (d.at, d.record.id))


def _app_deployments(
    rows: list[DeploymentRecord],
    degraded: list[HealthEvent],
    env_of: Callable[[DeploymentRecord], str],
) -> list[Deployment]:
    found: list[Deployment] = []
    seen: set[str] = set()
    previous = ""
    for i, row in enumerate(rows):
        if row.phase != SUCCEEDED or not row.revision:
            continue
        before = previous
        if row.revision in seen or row.initiator is Initiator.ROLLBACK:
            previous = row.revision
            continue
        later = [r for r in rows[i + 1 :] if r.revision != row.revision]
        failed_at = _failure(row, later[0] if later else None, degraded)
        at = row.served_at or (row.finished_at if failed_at is not None else None)
        if at is None:
            continue  # not serving (yet), and not failed: not counted
        seen.add(row.revision)
        previous = row.revision
        restored_at = None
        if failed_at is not None:
            restored_at = next(
                (
                    r.served_at
                    for r in later
                    if r.served_at is not None and r.served_at >= failed_at
                ),
                None,
            )
        found.append(Deployment(row, before, at, env_of(row), failed_at, restored_at))
    return found


def _failure(
    row: DeploymentRecord, following: DeploymentRecord | None, degraded: list[HealthEvent]
) -> datetime | None:
    """The first sign that ``row`` failed, before the app's next operation elsewhere."""
    start = row.finished_at or row.started_at
    end = following.started_at if following is not None else None
    signs = [
        e.at
        for e in degraded
        if e.at >= start and (end is None or e.at < end) and e.revision in ("", row.revision)
    ]
    if following is not None and following.initiator is Initiator.ROLLBACK:
        signs.append(following.started_at)
    return min(signs) if signs else None


@dataclass(frozen=True)
class Figures:
    """The four keys of one app and environment (or of all) over a window."""

    app: str
    env: str
    deployments: int
    failures: int
    restored: int
    changes: int
    deployment_frequency: float
    """Deployments per day."""
    lead_time: float | None
    """Median seconds from change to deployment; None without changes."""
    change_failure_rate: float | None
    time_to_restore: float | None
    """Median seconds from failure to restore; None without a restored failure."""
    timeline: tuple[dict[str, Any], ...] = field(default=())

    def bands(self) -> dict[str, str | None]:
        return {
            "deploymentFrequency": frequency_band(self.deployment_frequency)
            if self.deployments
            else None,
            "leadTime": lead_time_band(self.lead_time),
            "changeFailureRate": failure_rate_band(self.change_failure_rate),
            "timeToRestore": restore_band(self.time_to_restore),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "env": self.env,
            "deployments": self.deployments,
            "failures": self.failures,
            "restored": self.restored,
            "changes": self.changes,
            "deploymentFrequency": self.deployment_frequency,
            "leadTimeSeconds": self.lead_time,
            "changeFailureRate": self.change_failure_rate,
            "timeToRestoreSeconds": self.time_to_restore,
            "bands": self.bands(),
            "timeline": list(self.timeline),
        }


Changes = Mapping[int, Sequence[datetime]]
"""The commit times of each deployment's changes, by deployment record id."""


def figures(
    deployments: Sequence[Deployment],
    changes: Changes,
    *,
    window: timedelta,
    now: datetime,
    app: str = "*",
    env: str = "*",
) -> Figures:
    """The four keys of ``deployments`` whose moment lies in ``(now - window, now]``."""
    start = now - window
    inside = [d for d in deployments if start < d.at <= now]
    failed = [d for d in inside if d.failed_at is not None]
    restores = [
        (d.restored_at - d.failed_at).total_seconds()
        for d in failed
        if d.restored_at is not None and d.failed_at is not None and d.restored_at <= now
    ]
    leads = [
        (d.at - committed).total_seconds()
        for d in inside
        for committed in changes.get(d.record.id, ())
        if d.at > committed
    ]
    timeline = tuple(_timeline(d, changes) for d in inside)
    return Figures(
        app=app,
        env=env,
        deployments=len(inside),
        failures=len(failed),
        restored=len(restores),
        changes=len(leads),
        deployment_frequency=len(inside) / (window.total_seconds() / DAY),
        lead_time=_ms(statistics.median(leads)) if leads else None,
        change_failure_rate=len(failed) / len(inside) if inside else None,
        time_to_restore=_ms(statistics.median(restores)) if restores else None,
        timeline=timeline,
    )


def per_app_env(
    deployments: Sequence[Deployment], changes: Changes, *, window: timedelta, now: datetime
) -> list[Figures]:
    """``figures`` of each (app, environment) that has deployed at some time, sorted."""
    groups: dict[tuple[str, str], list[Deployment]] = {}
    for d in deployments:
        groups.setdefault((d.app, d.env), []).append(d)
    return [
        figures(group, changes, window=window, now=now, app=app, env=env)
        for (app, env), group in sorted(groups.items())
    ]


def _timeline(d: Deployment, changes: Changes) -> dict[str, Any]:
    commits = [c for c in changes.get(d.record.id, ()) if d.at > c]
    return {
        "app": d.app,
        "env": d.env,
        "revision": d.record.revision,
        "deploymentId": d.record.id,
        "deployedAt": iso_ms(d.at),
        "failedAt": iso_ms(d.failed_at) if d.failed_at else None,
        "restoredAt": iso_ms(d.restored_at) if d.restored_at else None,
        "leadTimeSeconds": _ms(statistics.median((d.at - c).total_seconds() for c in commits))
        if commits
        else None,
    }


def iso_ms(moment: datetime) -> str:
    """RFC 3339 with milliseconds: restore times are often under a second."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(seconds: float | None) -> float | None:
    """Seconds to the millisecond, as the timeline's times are written."""
    return None if seconds is None else round(seconds, 3)


# -- the 2023 State of DevOps report's bands ----------------------------------------------


def frequency_band(per_day: float) -> str:
    """Elite: on demand (daily or more); high: daily to weekly; medium: weekly to monthly."""
    if per_day >= 1:
        return ELITE
    if per_day >= 1 / 7:
        return HIGH
    if per_day >= 1 / 30:
        return MEDIUM
    return LOW


def lead_time_band(seconds: float | None) -> str | None:
    """Elite: under a day; high: under a week; medium: under a month."""
    return _under(seconds, (DAY, 7 * DAY, 30 * DAY))


def failure_rate_band(rate: float | None) -> str | None:
    """Elite: 5% or less; high: 10%; medium: 15%; low: above."""
    if rate is None:
        return None
    for bound, band in ((0.05, ELITE), (0.10, HIGH), (0.15, MEDIUM)):
        if rate <= bound:
            return band
    return LOW


def restore_band(seconds: float | None) -> str | None:
    """Elite: under an hour; high: under a day; medium: under a week."""
    return _under(seconds, (3600.0, DAY, 7 * DAY))


def _under(seconds: float | None, bounds: tuple[float, float, float]) -> str | None:
    if seconds is None:
        return None
    for bound, band in zip(bounds, (ELITE, HIGH, MEDIUM), strict=True):
        if seconds < bound:
            return band
    return LOW
