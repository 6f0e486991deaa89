"""Bearer tokens guard every route but the machine ones; a bad token changes nothing."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import Live, app_manifest, configmap, wait_app

from conveyor.api.auth import ensure_admin_token
from conveyor.api.discovery import ADMIN_TOKEN_FILE, read_admin_token
from conveyor.settings import Settings
from conveyor.store import TokenStore, open_database
from engine.engine_helpers import ConfigRepo

OPEN = {"/healthz", "/metrics", "/api/version", "/api/v1/webhook"}
MUTATING = {"post", "put", "patch", "delete"}


def _operations(live: Live) -> list[tuple[str, str, dict[str, Any]]]:
    spec = live.app.openapi()
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", *MUTATING}
    ]


def _fill(path: str) -> str:
    path = path.replace("{token_id}", "admin")
    if path.startswith("/api/v1/projects/"):
        return path.replace("{name}", "guarded-proj")
    return path.replace("{name}", "guarded")


def _body(method: str, path: str, repo: ConfigRepo) -> Any:
    if path == "/api/v1/applications":
        return app_manifest("intruder", repo.url)
    if path == "/api/v1/projects":
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
                "metadata": {"name": "intruder"}, "spec": {"sourceRepos": ["*"]}}  # fmt: skip
    if path.endswith("/rollback"):
        return {"id": 0}
    if path.endswith("/resource"):
        return {"data": {"k": "hacked"}}
    if method in ("put", "patch"):
        return app_manifest("guarded", "file:///elsewhere") if method == "put" else {"spec": {}}
    return {}


def _sync_ended(app: dict[str, Any]) -> bool:
    phase = ((app.get("status") or {}).get("operationState") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Error")


def _state(api: httpx.Client) -> dict[str, Any]:
    apps = api.get("/api/v1/applications").json()["items"]
    return {
        "apps": {a["metadata"]["name"]: a["spec"] for a in apps},
        "projects": api.get("/api/v1/projects").json()["items"],
        "tokens": api.get("/api/v1/account/tokens").json()["items"],
        "live": api.get("/api/v1/applications/guarded/manifests", params={"source": "live"}).json(),
        "operation": (api.get("/api/v1/applications/guarded").json()["status"]).get(
            "operationState"
        ),
    }


def test_the_spec_declares_bearer_auth_on_every_route_but_the_open_ones(live: Live) -> None:
    for method, path, op in _operations(live):
        secured = bool(op.get("security"))
        assert secured != (path in OPEN), f"{method.upper()} {path}"


@pytest.mark.parametrize("token", [None, "wrong", "cvy_" + "x" * 43], ids=["none", "junk", "fake"])
def test_without_a_valid_token_every_call_is_401_and_nothing_changes(
    live: Live, api: httpx.Client, tmp_path: Path, token: str | None
) -> None:
    repo = ConfigRepo(tmp_path / "cfg")
    repo.write("app/cm.yaml", configmap("settings", k="v"))
    repo.commit()
    if "guarded" not in {
        a["metadata"]["name"] for a in api.get("/api/v1/applications").json()["items"]
    }:
        api.post("/api/v1/applications", json=app_manifest("guarded", repo.url)).raise_for_status()
        api.post("/api/v1/projects", json={
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
            "metadata": {"name": "guarded-proj"}, "spec": {"sourceRepos": ["*"]},
        }).raise_for_status()  # fmt: skip
        api.post("/api/v1/applications/guarded/sync", json={}).raise_for_status()
    wait_app(api, "guarded", _sync_ended, what="the first sync of guarded to end")
    before = _state(api)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    checked = 0
    with httpx.Client(base_url=live.url, headers=headers, timeout=10.0) as anonymous:
        for method, path, _ in _operations(live):
            if path in OPEN or "/stream/" in path:
                continue
            body = _body(method, path, repo) if method in MUTATING else None
            params = (
                {"kind": "ConfigMap", "resourceName": "settings"}
                if path.endswith("/resource")
                else None
            )
            reply = anonymous.request(method, _fill(path), json=body, params=params)
            assert reply.status_code == 401, f"{method.upper()} {path}: {reply.status_code}"
            assert reply.headers["www-authenticate"] == "Bearer"
            checked += 1
        stream = anonymous.get("/api/v1/stream/applications")
        assert stream.status_code == 401
    assert checked >= 20
    assert _state(api) == before


def test_open_routes_need_no_token(live: Live) -> None:
    with httpx.Client(base_url=live.url) as anonymous:
        assert anonymous.get("/healthz").text == "ok"
        assert anonymous.get("/metrics").status_code == 200
        assert anonymous.get("/openapi.json").json()["info"]["title"] == "Conveyor"
        assert anonymous.get("/docs").status_code == 200


def test_generated_tokens_work_until_revoked(live: Live, api: httpx.Client) -> None:
    made = api.post("/api/v1/account/token", json={"name": "ci"}).raise_for_status().json()
    assert made["token"].startswith("cvy_") and made["name"] == "ci"
    listed = api.get("/api/v1/account/tokens").json()["items"]
    assert {"id": made["id"], "name": "ci"}.items() <= next(
        t for t in listed if t["id"] == made["id"]
    ).items()
    assert all("token" not in t for t in listed)
    with live.client(made["token"]) as ci:
        assert ci.get("/api/v1/applications").status_code == 200
        api.delete(f"/api/v1/account/tokens/{made['id']}").raise_for_status()
        assert ci.get("/api/v1/applications").status_code == 401


async def test_the_admin_token_is_written_0600_and_stored_only_hashed(tmp_path: Path) -> None:
    settings = Settings.from_env(home=tmp_path / "home")
    async with await open_database(settings) as db:
        tokens = TokenStore(db)
        await ensure_admin_token(tokens, settings.home)
        path = settings.home / ADMIN_TOKEN_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        token = read_admin_token(settings.home)
        assert token is not None and len(token) > 40
        assert (await tokens.verify(token)) is not None
        raw = b"".join(p.read_bytes() for p in settings.home.glob("conveyor.db*"))
        assert token.encode() not in raw
        assert hashlib.sha256(token.encode()).hexdigest().encode() in raw

        await ensure_admin_token(tokens, settings.home)  # a restart keeps it
        assert read_admin_token(settings.home) == token

        path.unlink()  # lost: a new admin token replaces the old one
        await ensure_admin_token(tokens, settings.home)
        fresh = read_admin_token(settings.home)
        assert fresh is not None and fresh != token
        assert await tokens.verify(token) is None
        assert (await tokens.verify(fresh)) is not None
