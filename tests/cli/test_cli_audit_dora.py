"""``conveyor audit``, ``conveyor dora`` and ``conveyor report compliance`` against a real
server whose store holds a scripted history."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import conveyor, ok

from conveyor.api.app import create_app, local_engine
from conveyor.engine.controller import ControllerOptions
from conveyor.engine.events import Destination, Initiator
from conveyor.engine.records import AuditEntry, HealthEvent
from conveyor.engine.repository import DeploymentInput
from conveyor.settings import Settings
from conveyor.store import EngineStore, open_database
from support.server_helpers import ThreadServer

NOW = datetime.now(UTC).replace(microsecond=0)
T0 = NOW - timedelta(days=3)
SHA = ["1" * 40, "2" * 40, "1" * 40, "3" * 40]
INITIATORS = [Initiator.USER, Initiator.USER, Initiator.ROLLBACK, Initiator.AUTOMATED]


async def _seed(settings: Settings) -> None:
    database = await open_database(settings)
    try:
        store = EngineStore(database)
        for op, (sha, initiator) in enumerate(zip(SHA, INITIATORS, strict=True), start=1):
            started = T0 + timedelta(hours=op)
            await store.record_deployment(
                DeploymentInput(
                    operation_id=op, app="shop", project="web",
                    destination=Destination("https://kubernetes.default.svc", "", "prod"),
                    revision=sha, initiator=initiator, username="alice", started_at=started,
                    phase="Succeeded", finished_at=started + timedelta(minutes=1),
                )
            )  # fmt: skip
            await store.mark_deployment_served("shop", sha, started + timedelta(minutes=2))
        # deploy 2 turns Degraded 10 minutes after it served; the rollback serves 50 min later
        await store.record_health(HealthEvent("shop", "Degraded", SHA[1], T0 + timedelta(
            hours=2, minutes=12)))  # fmt: skip
        await store.record_audit([
            AuditEntry(at=T0, actor="alice", action="applications.sync",
                       target_kind="Application", target="shop", app="shop", outcome="200",
                       source="10.0.0.7", detail="=cmd|' /C calc'!A0"),
            AuditEntry(at=T0 + timedelta(hours=4), actor="system:controller",
                       action="operation.auto-sync", target_kind="Application", target="shop",
                       app="shop", outcome="Succeeded", source="controller",
                       revision_before=SHA[2], revision_after=SHA[3]),
        ])  # fmt: skip
    finally:
        await database.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("cli-audit")
    settings = Settings.from_env(home=home)
    asyncio.run(_seed(settings))
    app = create_app(settings, controller_factory=local_engine(settings, ControllerOptions()))
    with ThreadServer(app) as running:
        yield home, running.url


def test_audit_lists_filters_and_exports(server: tuple[Path, str]) -> None:
    home, url = server
    lines = ok(conveyor(home, "audit", "--app", "shop", "--server", url)).splitlines()
    assert lines[0].split() == ["TIME", "USER", "ACTION", "TARGET", "OUTCOME", "FROM"]
    assert [line.split()[1:3] for line in lines[1:]] == [
        ["alice", "applications.sync"], ["system:controller", "operation.auto-sync"],
    ]  # fmt: skip
    mine = json.loads(ok(conveyor(home, "audit", "--user", "alice", "-o", "json", "--server", url)))
    assert [(e["user"], e["source"]) for e in mine] == [("alice", "10.0.0.7")]
    exported = ok(conveyor(home, "audit", "--app", "shop", "-o", "csv", "--server", url))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["action"] for r in rows] == ["applications.sync", "operation.auto-sync"]
    assert rows[0]["detail"] == "'=cmd|' /C calc'!A0"  # a spreadsheet never runs it
    assert rows[1]["revisionAfter"] == SHA[3]
    jsonl = ok(conveyor(home, "audit", "-o", "jsonl", "--since", T0.isoformat(), "--server", url))
    assert [json.loads(line)["outcome"] for line in jsonl.splitlines()] == ["200", "Succeeded"]


def test_dora_shows_the_four_keys_with_bands(server: tuple[Path, str]) -> None:
    home, url = server
    args = ["dora", "--app", "shop", "--window", "30d", "-o", "json", "--server", url]
    answer = json.loads(ok(conveyor(home, *args)))
    [shop] = answer["items"]
    # deploys 1, 2 and 4 (the rollback is not a change); 2 failed at its Degraded moment
    # (2h12m) and was restored when the rollback served (3h02m): 50 minutes
    assert (shop["env"], shop["deployments"], shop["failures"]) == ("prod", 3, 1)
    assert shop["timeToRestoreSeconds"] == 50 * 60
    assert shop["changeFailureRate"] == 1 / 3
    table = ok(conveyor(home, "dora", "--app", "shop", "--server", url)).splitlines()
    assert table[0].split()[:3] == ["APP", "ENV", "DEPLOYMENTS"]
    assert table[1].split()[:4] == ["shop", "prod", "3", "0.10/day"]
    assert "33.3% (low)" in table[1] and "50m0s (elite)" in table[1]
    refused = conveyor(home, "dora", "--window", "forever", "--server", url)
    assert refused.returncode != 0 and "window" in refused.stderr


def test_compliance_report(server: tuple[Path, str]) -> None:
    home, url = server
    report = json.loads(
        ok(conveyor(home, "report", "compliance", "--window", "7d", "-o", "json", "--server", url))
    )  # fmt: skip
    [shop] = report["items"]
    assert (shop["app"], shop["env"], shop["deployments"], shop["successRate"]) == (
        "shop", "prod", 4, 1.0,
    )  # fmt: skip
    table = ok(conveyor(home, "report", "compliance", "--server", url)).splitlines()
    assert table[1].split()[:4] == ["shop", "prod", "4", "100.0%"]
