"""The compliance report: per app and environment over a window, what shipped and what held.

For each app and environment: its operations that were not dry runs (``deployments``:
started in the window, ended), how many Succeeded (``successRate``), the policy violations the
gate found (the ``policy.violation`` entries of the audit trail, written by
``api.statuswatch`` when an app's policy findings change), and the CI runs of the window that
built it with their scans (secrets, sast, audit, image-scan): a run is the app's when its
artifact name is the app's name or the app's name starts with it and a dash (``demo`` builds
``demo-staging`` and ``demo-prod``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from conveyor.engine.records import AuditEntry, iso
from conveyor.engine.repository import DeploymentRecord

SCANS = ("secrets", "sast", "audit", "image-scan")
"""The CI stages that are security scans."""
PASSED = frozenset({"passed", "skipped"})
SUCCEEDED = "Succeeded"
POLICY_VIOLATION = "policy.violation"


def report(
    *,
    records: list[DeploymentRecord],
    violations: list[AuditEntry],
    ci_runs: list[dict[str, Any]],
    env_of: Callable[[DeploymentRecord], str],
    window: timedelta,
    window_text: str,
    now: datetime,
) -> dict[str, Any]:
    """``GET /api/v1/reports/compliance``'s answer."""
    start = now - window
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    envs: dict[str, str] = {}
    for record in records:
        if record.finished_at is None or not start < record.started_at <= now:
            continue
        env = envs.setdefault(record.app, env_of(record))
        row = rows.setdefault((record.app, env), _row(record.app, env))
        row["deployments"] += 1
        row["succeeded"] += record.phase == SUCCEEDED
    for entry in violations:
        if entry.action == POLICY_VIOLATION and start < entry.at <= now and entry.app:
            env = envs.get(entry.app, "")
            row = rows.setdefault((entry.app, env), _row(entry.app, env))
            row["policyViolations"] += max(1, entry.detail.count("policy "))
    runs = [r for r in ci_runs if _in_window(r.get("startedAt"), start, now)]
    for row in rows.values():
        scans = _scans([r for r in runs if _builds(str(r.get("name", "")), row["app"])])
        row.update(scans)
        row["successRate"] = row["succeeded"] / row["deployments"] if row["deployments"] else None
    items = [rows[key] for key in sorted(rows)]
    total = {
        "deployments": sum(r["deployments"] for r in items),
        "succeeded": sum(r["succeeded"] for r in items),
        "policyViolations": sum(r["policyViolations"] for r in items),
        **_scans(runs),
    }
    total["successRate"] = (
        total["succeeded"] / total["deployments"] if total["deployments"] else None
    )
    return {
        "window": window_text,
        "from": iso(start),
        "until": iso(now),
        "total": total,
        "items": items,
    }


def _row(app: str, env: str) -> dict[str, Any]:
    return {"app": app, "env": env, "deployments": 0, "succeeded": 0, "policyViolations": 0}


def _builds(artifact: str, app: str) -> bool:
    return bool(artifact) and (app == artifact or app.startswith(artifact + "-"))


def _in_window(text: Any, start: datetime, now: datetime) -> bool:
    if not isinstance(text, str) or not text:
        return False
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        return False
    return start < moment <= now


def _scans(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """CI runs, and how many passed every scan they ran."""
    finished = [r for r in runs if r.get("status") not in ("running", "pending")]
    passed = 0
    for run in finished:
        stages = {s.get("name"): s.get("status") for s in run.get("stages") or []}
        ran = [stages[name] for name in SCANS if name in stages]
        passed += bool(ran) and all(status in PASSED for status in ran)
    return {
        "ciRuns": len(finished),
        "scansPassed": passed,
        "scansFailed": len(finished) - passed,
    }
