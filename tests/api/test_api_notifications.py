"""Notifications end to end: a real server, an app synced from git, a webhook received on
127.0.0.1; the configuration applied through the API and ``conveyor apply -f``, the outbox read
through the API and ``conveyor notifications list``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import yaml
from api_helpers import Live, app_manifest, configmap, revision, secret, synced_healthy, wait_app

from api.test_api_rollouts import PAUSED, rollout, set_status
from cli.cli_helpers import conveyor, ok
from engine.engine_helpers import ConfigRepo
from notify.receiver import Receiver

TOKEN = "hook-secret-4d3c2b1a"


def _notification_cm(url: str) -> dict[str, object]:
    manifest = configmap(
        "argocd-notifications-cm",
        **{
            "service.webhook.hook": (
                f"url: {url}\nheaders:\n- name: X-Hook-Token\n  value: $hook-token\n"
            ),
            # Argo CD's Go template form, translated
            "template.app-sync-succeeded": (
                "webhook:\n  hook:\n    method: POST\n    path: /synced\n"
                '    body: \'{"app": "{{.app.metadata.name}}", '
                '"revision": "{{.app.status.operationState.syncResult.revision}}"}\'\n'
            ),
        },
    )
    return manifest


def _wait_requests(receiver: Receiver, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(receiver.requests) < count:
        assert time.monotonic() < deadline, f"{len(receiver.requests)} of {count} requests"
        time.sleep(0.05)


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/cm.yaml", configmap("settings", greeting="hello"))
    repo.commit("first")
    return repo


def test_a_sync_sends_on_sync_succeeded_to_the_subscribed_webhook(
    live: Live, api: httpx.Client, repo: ConfigRepo
) -> None:
    with Receiver() as receiver:
        token = api.post(
            "/api/v1/notifications/config",
            json=secret("argocd-notifications-secret", **{"hook-token": TOKEN}),
        )
        assert token.json()["result"] == "created"
        applied = api.post("/api/v1/notifications/config", json=_notification_cm(receiver.url))
        assert applied.status_code == 200, applied.text
        assert applied.json()["warnings"] == []
        shown = api.get("/api/v1/notifications/config").json()
        assert shown["services"] == {"hook": "webhook"} and shown["secretKeys"] == ["hook-token"]
        assert TOKEN not in json.dumps(shown)

        manifest = app_manifest("notified", repo.url)
        manifest["metadata"]["annotations"] = {
            "notifications.argoproj.io/subscribe.on-sync-succeeded.hook": ""
        }
        assert api.post("/api/v1/applications", json=manifest).status_code == 200
        synced = api.post("/api/v1/applications/notified/sync", json={})
        assert synced.status_code == 200, synced.text
        app = wait_app(api, "notified", synced_healthy, what="Synced and Healthy", timeout=60)
        _wait_requests(receiver, 1)

    request = receiver.requests[0]
    assert (request.method, request.path) == ("POST", "/synced")
    assert request.headers["X-Hook-Token"] == TOKEN
    assert json.loads(request.body) == {"app": "notified", "revision": revision(app)}

    listed = api.get("/api/v1/notifications", params={"app": "notified"}).json()["items"]
    assert [(n["trigger"], n["service"], n["status"], n["attempts"]) for n in listed] == [
        ("on-sync-succeeded", "hook", "sent", 1)
    ]
    assert (
        api.get("/api/v1/notifications", params={"dead": "true", "app": "notified"}).json()["items"]
        == []
    )
    with httpx.Client(base_url=live.url) as anonymous:
        assert anonymous.get("/api/v1/notifications").status_code == 401

    home, url = live.home, live.url
    out = ok(conveyor(home, "notifications", "list", "--app", "notified", "--server", url))
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID", "CREATED", "SUBJECT", "TRIGGER", "SERVICE", "RECIPIENT", "STATUS", "ATTEMPTS",
    ]  # fmt: skip
    assert lines[1].split()[2:] == ["app/notified", "on-sync-succeeded", "hook", "sent", "1"]


def test_apply_takes_the_notification_configmap_and_reports_its_warnings(
    live: Live, tmp_path: Path
) -> None:
    cm = configmap(
        "argocd-notifications-cm",
        **{"service.email": "host: smtp.example.com\n", "defaultTriggers": "[on-deployed]"},
    )
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump(cm))
    result = conveyor(live.home, "apply", "-f", str(path), "--server", live.url)
    assert result.returncode == 0, result.stderr
    assert "configmap/argocd-notifications-cm" in result.stdout
    assert "service type 'email' is not supported" in result.stderr
    dead = ok(conveyor(live.home, "notifications", "list", "--dead", "-o", "json",
                       "--server", live.url))  # fmt: skip
    assert json.loads(dead) == []


def test_rollout_triggers_fire_from_the_live_rollout(
    live: Live, api: httpx.Client, tmp_path: Path
) -> None:
    body = (
        "webhook:\n  hook:\n    method: POST\n    path: /{event}\n"
        "    body: '{{{{ rollout.metadata.name }}}} {{{{ rollout.status.phase }}}}'\n"
    )
    with Receiver() as receiver:
        cm = configmap(
            "argocd-notifications-cm",
            **{
                "service.webhook.hook": f"url: {receiver.url}\n",
                "template.rollout-paused": body.format(event="paused"),
                "template.rollout-aborted": body.format(event="aborted"),
            },
        )
        assert api.post("/api/v1/notifications/config", json=cm).json()["warnings"] == []
        repo = ConfigRepo(tmp_path / "ro")
        repo.write("app/rollout.yaml", rollout())
        repo.commit()
        manifest = app_manifest("ro-notified", repo.url)
        manifest["metadata"]["annotations"] = {
            "notifications.argoproj.io/subscribe.on-rollout-paused.hook": "",
            "notifications.argoproj.io/subscribe.on-rollout-aborted.hook": "",
        }
        api.post("/api/v1/applications", json=manifest).raise_for_status()
        api.post("/api/v1/applications/ro-notified/sync", json={}).raise_for_status()
        wait_app(
            api, "ro-notified",
            lambda a: (a["status"].get("operationState") or {}).get("phase") == "Succeeded",
            what="the first sync",
        )  # fmt: skip
        set_status(api, "ro-notified", PAUSED)
        _wait_requests(receiver, 1)
        set_status(api, "ro-notified", {**PAUSED, "phase": "Degraded", "abort": True,
                                        "pauseConditions": None})  # fmt: skip
        _wait_requests(receiver, 2)
    assert [(r.path, r.body) for r in receiver.requests] == [
        ("/paused", b"web Paused"),
        ("/aborted", b"web Degraded"),
    ]
    listed = api.get("/api/v1/notifications", params={"app": "ro-notified"}).json()["items"]
    assert [(n["subject"], n["trigger"], n["status"]) for n in listed] == [
        ("rollout/ro-notified/web", "on-rollout-aborted", "sent"),
        ("rollout/ro-notified/web", "on-rollout-paused", "sent"),
    ]
