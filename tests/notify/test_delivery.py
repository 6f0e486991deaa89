"""Delivery through the outbox to a real HTTP receiver on 127.0.0.1.

The notifier is fed engine events about an app the test describes (a fake at Conveyor's own
seam, ``notifier.Apps``); the store is a real SQLite file; the sender posts with httpx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from receiver import Receiver

from conveyor.engine.events import AppUpdated
from conveyor.notify.config import parse_config
from conveyor.notify.delivery import Deliverer, DeliveryOptions
from conveyor.notify.notifier import Notifier
from conveyor.settings import Settings
from conveyor.store import open_database
from conveyor.store.db import Database
from conveyor.store.notifications import NotificationStore, OutboxEntry
from support.server_helpers import free_port

REV = "c" * 40
SECRET_VALUE = "tok-9f8e7d6c5b4a"
FAST = DeliveryOptions(max_attempts=3, retry_base=0.05, retry_cap=0.2, timeout=5.0)


def _app(revision: str = REV) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "annotations": {"notifications.argoproj.io/subscribe.on-deployed.hook": "ops"},
        },
        "spec": {"project": "default"},
        "status": {
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": "Healthy"},
            "operationState": {"phase": "Succeeded", "syncResult": {"revision": revision}},
        },
    }


class Apps:
    def __init__(self) -> None:
        self.apps = {"web": _app()}

    def application(self, name: str) -> dict[str, Any]:
        return json.loads(json.dumps(self.apps[name]))

    async def project(self, name: str) -> dict[str, Any] | None:
        return None


def _configmap(url: str) -> dict[str, str]:
    return {
        "service.webhook.hook": (
            f"url: {url}\nheaders:\n- name: Authorization\n  value: Bearer $hook-token\n"
        ),
        "template.app-deployed": (
            "webhook:\n  hook:\n    method: POST\n    path: /deployed\n"
            '    body: \'{"app": "{{ app.metadata.name }}", '
            '"revision": "{{ app.status.sync.revision }}", "to": "{{ event.trigger }}"}\'\n'
        ),
    }


class Setup:
    def __init__(self, database: Database, url: str, options: DeliveryOptions) -> None:
        self.store = NotificationStore(database)
        self.apps = Apps()
        self.url = url
        self.options = options
        self.notifier: Notifier | None = None
        self.sender: Deliverer | None = None

    async def load(self) -> Any:
        return parse_config(_configmap(self.url), {"hook-token": SECRET_VALUE})

    async def start(self) -> Notifier:
        sender = Deliverer(self.store, lambda: notifier.config, options=self.options)
        notifier = Notifier(self.store, self.apps, load_config=self.load, on_queued=sender.wake)
        await notifier.start()
        sender.start()
        self.notifier, self.sender = notifier, sender
        return notifier

    async def stop(self) -> None:
        if self.notifier is not None:
            await self.notifier.close()
        if self.sender is not None:
            await self.sender.close()

    def event(self) -> AppUpdated:
        return AppUpdated("web", datetime.now(UTC))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(Settings.from_env(home=tmp_path))
    yield database
    await database.close()


async def _until(
    check: Callable[[], Awaitable[list[OutboxEntry]]], timeout: float = 30.0
) -> list[OutboxEntry]:
    """Wait until ``check`` gives rows (the outbox reached the state the test waits for)."""
    async with asyncio.timeout(timeout):
        while not (rows := await check()):
            await asyncio.sleep(0.02)
    return rows


async def test_a_deployment_is_notified_once_across_repeats_and_a_restart(
    database: Database,
) -> None:
    with Receiver() as receiver:
        setup = Setup(database, receiver.url, FAST)
        notifier = await setup.start()
        for _ in range(3):
            notifier(setup.event())
        sent = await _until(lambda: setup.store.listing(status="sent"))
        await setup.stop()

        again = Setup(database, receiver.url, FAST)  # a restart: state from the store
        notifier = await again.start()
        notifier(again.event())
        await notifier.flush()
        assert again.sender is not None
        await again.sender.send_due()
        await again.stop()

    assert len(sent) == 1 and len(await setup.store.listing()) == 1
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert (request.method, request.path) == ("POST", "/deployed")
    assert json.loads(request.body) == {"app": "web", "revision": REV, "to": "on-deployed"}
    assert request.headers["Authorization"] == f"Bearer {SECRET_VALUE}"
    assert SECRET_VALUE not in json.dumps([e.to_dict() for e in sent] + [sent[0].body])


async def test_a_new_revision_is_notified_again(database: Database) -> None:
    with Receiver() as receiver:
        setup = Setup(database, receiver.url, FAST)
        notifier = await setup.start()
        notifier(setup.event())
        await _until(lambda: setup.store.listing(status="sent"))
        setup.apps.apps["web"] = _app("d" * 40)
        notifier(setup.event())
        sent = await _until(
            lambda: _when(setup.store.listing(status="sent"), lambda rows: len(rows) == 2)
        )
        await setup.stop()
    assert [json.loads(r.body)["revision"] for r in receiver.requests] == [REV, "d" * 40]
    assert len(sent) == 2


async def _when(
    rows: Awaitable[list[OutboxEntry]], ok: Callable[[list[OutboxEntry]], bool]
) -> list[OutboxEntry]:
    found = await rows
    return found if ok(found) else []


async def test_delivery_retries_through_two_500s_then_succeeds(database: Database) -> None:
    with Receiver(statuses=[500, 500, 200], answer=SECRET_VALUE.encode()) as receiver:
        setup = Setup(database, receiver.url, FAST)
        notifier = await setup.start()
        notifier(setup.event())
        sent = await _until(lambda: setup.store.listing(status="sent"))
        await setup.stop()
    assert sent[0].attempts == 3
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # the same notification each time
    # the last failure's error was kept until the success cleared it, masked throughout
    assert sent[0].last_error == ""


async def test_a_receiver_that_stays_down_is_dead_lettered_with_its_error_masked(
    database: Database,
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    setup = Setup(database, down, FAST)
    notifier = await setup.start()
    notifier(setup.event())
    dead = await _until(lambda: setup.store.listing(status="dead"))
    await setup.stop()
    assert dead[0].attempts == FAST.max_attempts
    assert "ConnectError" in dead[0].last_error
    assert dead[0].to_dict()["status"] == "dead"


async def test_an_error_that_echoes_the_secret_is_stored_masked(database: Database) -> None:
    with Receiver(statuses=[500], answer=f"bad token {SECRET_VALUE}".encode()) as receiver:
        setup = Setup(database, receiver.url, FAST)
        notifier = await setup.start()
        notifier(setup.event())
        dead = await _until(lambda: setup.store.listing(status="dead"))
        await setup.stop()
    assert dead[0].last_error == "HTTP 500: bad token ******"


async def test_slack_api_errors_are_retried_and_dead_lettered_with_slacks_reason(
    database: Database,
) -> None:
    answer = json.dumps({"ok": False, "error": "channel_not_found"}).encode()
    with Receiver(statuses=[200], answer=answer) as receiver:
        store = NotificationStore(database)
        apps = Apps()
        apps.apps["web"]["metadata"]["annotations"] = {
            "notifications.argoproj.io/subscribe.on-deployed.slack": "deploys"
        }

        async def load() -> Any:
            return parse_config(
                {"service.slack": f"token: $slack-token\napiURL: {receiver.url}/api/\n"},
                {"slack-token": SECRET_VALUE},
            )

        sender = Deliverer(store, lambda: notifier.config, options=FAST)
        notifier = Notifier(store, apps, load_config=load, on_queued=sender.wake)
        await notifier.start()
        sender.start()
        notifier(AppUpdated("web", datetime.now(UTC)))
        dead = await _until(lambda: store.listing(status="dead"))
        await notifier.close()
        await sender.close()
    assert dead[0].last_error == "Slack: channel_not_found"
    assert len(receiver.requests) == FAST.max_attempts
    request = receiver.requests[0]
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {SECRET_VALUE}"
    sent = json.loads(request.body)
    assert sent["channel"] == "deploys"
    assert (
        sent["text"]
        == ":white_check_mark: Application web is now running new version of deployments manifests."
    )
    assert sent["attachments"][0]["title"] == "web"
