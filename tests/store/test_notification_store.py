"""The notifications' store on both backends: state and outbox rows in one transaction, due
rows in order, attempts recorded, sent rows and oncePer keys trimmed, configs replaced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.settings import Settings
from conveyor.store import Database, open_database
from conveyor.store.notifications import DEAD, PENDING, SENT, NotificationStore, OutboxInput

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[NotificationStore]:
    db: Database = await open_database(settings)
    yield NotificationStore(db)
    await db.close()


def item(key: str, subject: str = "app/web") -> OutboxInput:
    body = {"templates": ["t"], "rendered": {"message": key}}
    return OutboxInput(
        key, subject, trigger="on-deployed", service="hook", recipient="", body=body, app="web"
    )


async def test_rows_and_keys_are_written_together_and_sent_in_order(
    store: NotificationStore,
) -> None:
    await store.record([item("app/web:a"), item("app/web:b")], [], T0, rejected={"app/web:b": "no"})
    await store.record([item("app/web:c")], ["app/web:a"], T0)
    assert await store.notified() == {"app/web:b", "app/web:c"}
    rows = await store.listing()
    assert [(r.body["rendered"]["message"], r.status) for r in rows] == [
        ("app/web:c", PENDING), ("app/web:b", DEAD), ("app/web:a", PENDING),
    ]  # fmt: skip
    assert rows[1].last_error == "no"
    due = await store.due(T0)
    assert [r.body["rendered"]["message"] for r in due] == ["app/web:a", "app/web:c"]
    first, second = due
    later = T0 + timedelta(seconds=30)
    await store.attempted(first.id, status=PENDING, attempts=1, error="HTTP 500", at=T0,
                          next_at=later)  # fmt: skip
    await store.attempted(second.id, status=SENT, attempts=1, error="", at=T0)
    assert [r.id for r in await store.due(T0)] == []
    assert await store.next_due() == later
    assert [r.id for r in await store.due(later)] == [first.id]
    sent = await store.listing(status=SENT)
    assert [(r.id, r.sent_at) for r in sent] == [(second.id, T0)]
    assert (await store.listing(app="other")) == []
    assert len(await store.listing(app="web")) == 3


async def test_sent_rows_and_once_per_keys_are_trimmed(settings: Settings) -> None:
    db = await open_database(settings)
    store = NotificationStore(db, keep_sent=2, keep_state=3)
    for n in range(5):
        await store.record([item(f"app/web:{n}")], [], T0 + timedelta(minutes=n))
    await store.record([item("rollout/p/r:x", "rollout/p/r")], [], T0)
    assert await store.notified() == {"app/web:2", "app/web:3", "app/web:4", "rollout/p/r:x"}
    for row in await store.due(T0 + timedelta(hours=1)):
        await store.attempted(row.id, status=SENT, attempts=1, error="", at=T0)
    assert len(await store.listing(status=SENT)) == 2
    await store.forget_subject("app/web")
    assert await store.notified() == {"rollout/p/r:x"}
    await db.close()


async def test_configs_are_created_then_replaced(store: NotificationStore) -> None:
    assert await store.save_config("argocd-notifications-cm", "ConfigMap", {"a": "1"}, T0)
    assert not await store.save_config("argocd-notifications-cm", "ConfigMap", {"b": "2"}, T0)
    assert await store.configs() == {"argocd-notifications-cm": {"b": "2"}}
    assert await store.delete_config("argocd-notifications-cm")
    assert await store.configs() == {}
