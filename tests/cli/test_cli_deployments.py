"""``conveyor deployments list`` against a real server whose store holds deployments."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_helpers import conveyor, ok

from conveyor.api.app import create_app, local_engine
from conveyor.engine.controller import ControllerOptions
from conveyor.engine.events import Destination, Initiator
from conveyor.engine.repository import DeploymentInput
from conveyor.settings import Settings
from conveyor.store import EngineStore, open_database
from support.server_helpers import ThreadServer

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
SHA_A, SHA_B = "a1b2c3d4" * 5, "b2c3d4e5" * 5


async def _seed(settings: Settings) -> None:
    database = await open_database(settings)
    try:
        store = EngineStore(database)
        for op, (app, sha, user) in enumerate(
            [("shop", SHA_A, "alice"), ("blog", SHA_B, ""), ("shop", SHA_B, "")], start=1
        ):
            await store.record_deployment(
                DeploymentInput(
                    operation_id=op, app=app, project="web",
                    destination=Destination("https://kubernetes.default.svc", "", app),
                    revision=sha, initiator=Initiator.USER if user else Initiator.AUTOMATED,
                    username=user, started_at=T0 + timedelta(minutes=op), phase="Succeeded",
                    finished_at=T0 + timedelta(minutes=op, seconds=30),
                )
            )  # fmt: skip
        await store.mark_deployment_served("shop", SHA_B, T0 + timedelta(minutes=4))
    finally:
        await database.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    home = tmp_path_factory.mktemp("cli-deployments")
    settings = Settings.from_env(home=home)
    asyncio.run(_seed(settings))
    options = ControllerOptions(poll_interval=300.0)
    app = create_app(settings, controller_factory=local_engine(settings, options))
    with ThreadServer(app) as running:
        yield home, running.url


def test_list_shows_every_deployment_oldest_first(server: tuple[Path, str]) -> None:
    home, url = server
    lines = ok(conveyor(home, "deployments", "list", "--server", url)).splitlines()
    assert lines[0].split() == [
        "APP", "REVISION", "PHASE", "INITIATOR", "USER", "STARTED", "FINISHED", "SERVED",
    ]  # fmt: skip
    assert [line.split()[:4] for line in lines[1:]] == [
        ["shop", SHA_A[:7], "Succeeded", "user"],
        ["blog", SHA_B[:7], "Succeeded", "automated"],
        ["shop", SHA_B[:7], "Succeeded", "automated"],
    ]
    assert lines[3].split()[-1] == "2026-12-05T09:04:00Z"  # servedAt


def test_list_filters_by_app_and_prints_json(server: tuple[Path, str]) -> None:
    home, url = server
    out = ok(conveyor(home, "deployments", "list", "--app", "shop", "-o", "json", "--server", url))
    items = json.loads(out)
    assert [(d["app"], d["revision"], d["username"]) for d in items] == [
        ("shop", SHA_A, "alice"), ("shop", SHA_B, ""),
    ]  # fmt: skip
    assert items[1]["servedAt"] == "2026-12-05T09:04:00Z" and items[0]["servedAt"] is None
    wide = ok(conveyor(home, "deployments", "list", "--app", "blog", "-o", "wide", "--server", url))
    assert "https://kubernetes.default.svc,blog" in wide and SHA_B in wide


def test_a_bad_app_name_is_the_servers_error(server: tuple[Path, str]) -> None:
    home, url = server
    result = conveyor(home, "deployments", "list", "--app", "Bad_Name", "--server", url)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error:")
