"""Helpers of the API tests: the live server's handle, apps in a git repo, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from conveyor.api.discovery import read_admin_token

SECRET = "s3cret-webhook"


@dataclass
class Live:
    url: str
    home: Path
    app: FastAPI
    repos: Path

    @property
    def token(self) -> str:
        token = read_admin_token(self.home)
        assert token is not None
        return token

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30.0)


def app_manifest(name: str, repo_url: str, path: str = "app", **policy: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": repo_url, "path": path, "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        "syncPolicy": {"syncOptions": ["CreateNamespace=true"], **policy},
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": spec,
    }


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def secret(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": data}


def wait_app(
    api: httpx.Client,
    name: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    timeout: float = 30.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = api.get(f"/api/v1/applications/{name}").raise_for_status().json()
        if check(app):
            return app
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; status: {app.get('status')}")


def synced_healthy(app: dict[str, Any]) -> bool:
    status = app.get("status") or {}
    return (status.get("sync") or {}).get("status") == "Synced" and (
        status.get("health") or {}
    ).get("status") == "Healthy"


def revision(app: dict[str, Any]) -> str:
    return str(((app.get("status") or {}).get("sync") or {}).get("revision") or "")
