"""The engine's repository on both backends: apps, projects, operations, history once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.engine.repository import HistoryInput
from conveyor.settings import Settings
from conveyor.store import Database, EngineStore, open_database

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = await open_database(settings)
    yield db
    await db.close()


def manifest(name: str, path: str = "guestbook") -> dict[str, object]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name},
        "spec": {"source": {"repoURL": "file:///repo", "path": path}},
    }


def entry(revision: str, minute: int) -> HistoryInput:
    return HistoryInput(
        revision=revision,
        deploy_started_at=T0 + timedelta(minutes=minute),
        deployed_at=T0 + timedelta(minutes=minute, seconds=5),
        initiated_by={"automated": True},
        source={"repoURL": "file:///repo", "path": "guestbook"},
    )


async def test_apps_round_trip_and_status_is_kept_when_the_spec_changes(
    database: Database,
) -> None:
    store = EngineStore(database)
    await store.save_app("guestbook", manifest("guestbook"))
    await store.save_status("guestbook", {"sync": {"status": "Synced"}})
    await store.save_app("guestbook", manifest("guestbook", path="other"))
    app = await store.get_app("guestbook")
    assert app is not None
    assert app.manifest["spec"]["source"]["path"] == "other"
    assert app.status == {"sync": {"status": "Synced"}}
    assert [a.name for a in await store.list_apps()] == ["guestbook"]
    assert await store.delete_app("guestbook") is True
    assert await store.get_app("guestbook") is None
    assert await store.delete_app("guestbook") is False


async def test_projects_round_trip(database: Database) -> None:
    store = EngineStore(database)
    await store.save_project("team", {"kind": "AppProject", "metadata": {"name": "team"}})
    assert [p.name for p in await store.list_projects()] == ["team"]
    assert await store.delete_project("team") is True
    assert await store.get_project("team") is None


async def test_an_operation_is_running_until_finished_and_history_is_written_once(
    database: Database,
) -> None:
    store = EngineStore(database)
    await store.save_app("guestbook", manifest("guestbook"))
    op = await store.create_operation("guestbook", {"sync": {"revision": "abc"}}, T0)
    assert [o.id for o in await store.running_operations()] == [op.id]

    first = await store.finish_operation(
        op.id,
        phase="Succeeded",
        message="successfully synced",
        state={"syncResult": {"revision": "abc"}},
        finished_at=T0,
        history=entry("abc", 0),
        history_limit=10,
    )
    again = await store.finish_operation(  # a resumed operation finishing a second time
        op.id,
        phase="Succeeded",
        message="successfully synced",
        state={},
        finished_at=T0,
        history=entry("abc", 0),
        history_limit=10,
    )
    assert first is not None and again is not None and first.id == again.id == 0
    assert [h.revision for h in await store.history("guestbook")] == ["abc"]
    assert await store.running_operations() == []
    last = await store.last_operation("guestbook")
    assert last is not None and last.phase == "Succeeded" and last.finished_at is not None


async def test_history_is_trimmed_to_the_limit_and_ids_keep_counting(
    database: Database,
) -> None:
    store = EngineStore(database)
    await store.save_app("guestbook", manifest("guestbook"))
    for n in range(5):
        op = await store.create_operation("guestbook", {}, T0)
        await store.finish_operation(
            op.id,
            phase="Succeeded",
            message="",
            state={},
            finished_at=T0,
            history=entry(f"rev{n}", n),
            history_limit=3,
        )
    history = await store.history("guestbook")
    assert [(h.id, h.revision) for h in history] == [(2, "rev2"), (3, "rev3"), (4, "rev4")]
    assert history[0].to_dict()["deployedAt"] == "2026-11-23T12:02:05Z"


async def test_deleting_an_app_deletes_its_operations_and_history(database: Database) -> None:
    store = EngineStore(database)
    await store.save_app("guestbook", manifest("guestbook"))
    op = await store.create_operation("guestbook", {}, T0)
    await store.finish_operation(
        op.id,
        phase="Succeeded",
        message="",
        state={},
        finished_at=T0,
        history=entry("abc", 0),
        history_limit=10,
    )
    await store.delete_app("guestbook")
    await store.save_app("guestbook", manifest("guestbook"))
    assert await store.history("guestbook") == []
    assert await store.last_operation("guestbook") is None
