"""The compliance report over a window: deployments, success, scans and policy per app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.api import compliance
from conveyor.engine.events import Destination, Initiator
from conveyor.engine.records import CONTROLLER, AuditEntry
from conveyor.engine.repository import DeploymentRecord

NOW = datetime(2026, 12, 31, tzinfo=UTC)


def record(rid: int, app: str, days_ago: float, phase: str = "Succeeded") -> DeploymentRecord:
    started = NOW - timedelta(days=days_ago)
    return DeploymentRecord(
        id=rid, operation_id=rid, app=app, project="default",
        destination=Destination("https://kubernetes.default.svc", "", app), revision="a" * 40,
        app_commit=None, initiator=Initiator.USER, username="alice", phase=phase, message="",
        started_at=started, finished_at=started + timedelta(seconds=5), served_at=None,
    )  # fmt: skip


def run(name: str, days_ago: float, **stages: str) -> dict[str, Any]:
    return {
        "name": name, "status": "passed",
        "startedAt": (NOW - timedelta(days=days_ago)).isoformat(),
        "stages": [{"name": n.replace("_", "-"), "status": s} for n, s in stages.items()],
    }  # fmt: skip


def test_report_per_app_and_environment() -> None:
    records = [
        record(1, "demo-prod", 1), record(2, "demo-prod", 2, phase="Failed"),
        record(3, "demo-staging", 3), record(4, "demo-staging", 40),  # outside the window
        record(5, "blog", 5, phase="Error"),
    ]  # fmt: skip
    violation = AuditEntry(
        at=NOW - timedelta(days=1), actor=CONTROLLER, action="policy.violation",
        target_kind="Application", target="demo-prod", app="demo-prod", outcome="refused",
        detail="policy k8s: web runs as root; policy k8s: web has no limits",
    )  # fmt: skip
    runs = [
        run("demo", 1, secrets="passed", sast="passed", audit="passed", image_scan="skipped"),
        run("demo", 2, secrets="passed", sast="failed"),
        run("demo", 50, secrets="failed"),  # outside
        run("other", 1, secrets="passed"),
    ]
    answer = compliance.report(
        records=records, violations=[violation], ci_runs=runs,
        env_of=lambda r: {"demo-prod": "prod", "demo-staging": "staging"}.get(r.app, "dev"),
        window=timedelta(days=30), window_text="30d", now=NOW,
    )  # fmt: skip
    rows = {(i["app"], i["env"]): i for i in answer["items"]}
    assert list(rows) == [("blog", "dev"), ("demo-prod", "prod"), ("demo-staging", "staging")]
    prod = rows[("demo-prod", "prod")]
    assert (prod["deployments"], prod["succeeded"], prod["successRate"]) == (2, 1, 0.5)
    assert prod["policyViolations"] == 2
    assert (prod["ciRuns"], prod["scansPassed"], prod["scansFailed"]) == (2, 1, 1)
    assert rows[("blog", "dev")]["successRate"] == 0.0 and rows[("blog", "dev")]["ciRuns"] == 0
    assert answer["total"] == {
        "deployments": 4, "succeeded": 2, "successRate": 0.5, "policyViolations": 2,
        "ciRuns": 3, "scansPassed": 2, "scansFailed": 1,
    }  # fmt: skip
    assert (answer["from"], answer["until"]) == ("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")
