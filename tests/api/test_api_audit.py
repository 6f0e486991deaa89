"""``GET /api/v1/audit``: every mutation through the API, and the controller's own syncs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from api_helpers import Live, app_manifest, configmap, revision, secret, synced_healthy, wait_app

from engine.engine_helpers import ConfigRepo


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/cm.yaml", configmap("settings", greeting="hello"))
    repo.write("app/secret.yaml", secret("creds", password="hunter2-audit"))
    repo.commit("first")
    return repo


def _trail(api: httpx.Client, **params: str) -> list[dict[str, object]]:
    reply = api.get("/api/v1/audit", params=params)
    assert reply.status_code == 200, reply.text
    items: list[dict[str, object]] = reply.json()["items"]
    return items


def test_who_did_what_to_which_app_from_where(
    live: Live, api: httpx.Client, repo: ConfigRepo
) -> None:
    api.post("/api/v1/applications", json=app_manifest("aud-web", repo.url)).raise_for_status()
    api.post("/api/v1/applications/aud-web/sync", json={}).raise_for_status()
    synced = wait_app(api, "aud-web", synced_healthy, what="Synced and Healthy")
    sha = revision(synced)
    readonly = api.post("/api/v1/account/token", json={"name": "viewer", "role": "readonly"})
    viewer_token = readonly.raise_for_status().json()["token"]
    with live.client(viewer_token) as viewer:
        assert viewer.post("/api/v1/applications/aud-web/sync", json={}).status_code == 403
        assert viewer.get("/api/v1/audit").status_code == 200  # a read role reads the trail
    with httpx.Client(base_url=live.url) as anonymous:
        assert anonymous.delete("/api/v1/applications/aud-web").status_code == 401
    assert api.delete("/api/v1/applications/aud-web").status_code == 200

    rows = [
        (r["user"], r["action"], r["target"], r["outcome"])
        for r in _trail(api, app="aud-web")
    ]  # fmt: skip
    assert rows == [
        ("admin", "applications.create", "aud-web", "200"),
        ("admin", "applications.sync", "aud-web", "200"),
        ("admin", "operation.sync", "aud-web", "Succeeded"),
        ("viewer", "applications.sync", "aud-web", "403"),
        ("anonymous", "applications.delete", "aud-web", "401"),
        ("admin", "applications.delete", "aud-web", "200"),
    ]
    entries = _trail(api, app="aud-web")
    operation = entries[2]
    assert (operation["revisionBefore"], operation["revisionAfter"]) == ("", sha)
    assert operation["source"] == "controller" and operation["project"] == "default"
    deleted = entries[5]
    assert deleted["revisionBefore"] == sha and deleted["revisionAfter"] == ""
    assert {e["source"] for e in entries if e["action"] != "operation.sync"} == {"127.0.0.1"}

    # filters
    assert [e["outcome"] for e in _trail(api, user="viewer")] == ["403"]
    assert [e["user"] for e in _trail(api, action="applications.delete", app="aud-web")] == [
        "anonymous", "admin",
    ]  # fmt: skip
    since = str(entries[3]["at"])
    assert len(_trail(api, app="aud-web", since=since)) >= 3
    assert _trail(api, app="aud-web", until="2000-01-01T00:00:00Z") == []
    assert api.get("/api/v1/audit", params={"format": "xml"}).status_code == 400

    # exports: JSON lines and CSV, and no Secret value or token anywhere
    lines = api.get("/api/v1/audit", params={"app": "aud-web", "format": "jsonl"})
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in lines.text.splitlines()] == entries
    table = api.get("/api/v1/audit", params={"app": "aud-web", "format": "csv"})
    assert table.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(table.text)))
    assert [(r["user"], r["action"], r["outcome"]) for r in parsed][:2] == [
        ("admin", "applications.create", "200"), ("admin", "applications.sync", "200"),
    ]  # fmt: skip
    everything = api.get("/api/v1/audit", params={"format": "jsonl", "limit": 100000}).text
    for secret_text in ("hunter2", viewer_token, live.token):
        assert secret_text not in everything
        assert secret_text not in table.text


def test_the_controllers_own_syncs_are_system_controller(
    api: httpx.Client, repo: ConfigRepo
) -> None:
    manifest = app_manifest("aud-auto", repo.url, automated={"prune": True})
    api.post("/api/v1/applications", json=manifest).raise_for_status()
    synced = wait_app(api, "aud-auto", synced_healthy, what="auto-synced")
    entries = wait_for_entry(api, "aud-auto", "operation.auto-sync")
    assert (entries["user"], entries["revisionAfter"], entries["outcome"]) == (
        "system:controller", revision(synced), "Succeeded",
    )  # fmt: skip
    api.delete("/api/v1/applications/aud-auto").raise_for_status()


def wait_for_entry(api: httpx.Client, app: str, action: str) -> dict[str, object]:
    """The audit answer flushes what was queued before it; an operation's end may still be
    on its way to the queue when the app already shows Synced, so look a few times."""
    for _ in range(100):
        found = [e for e in _trail(api, app=app) if e["action"] == action]
        if found:
            return found[0]
        wait_app(api, app, lambda a: True, what="the app")
    raise AssertionError(f"no {action} entry for {app}")
