"""Helpers for the engine's end-to-end tests: a config repo in git, Application manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml


class ConfigRepo:
    """A real git repository of manifests, committed to as a user would."""

    def __init__(self, root: Path) -> None:
        self.path = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=self.path, check=True, capture_output=True, text=True
        ).stdout.strip()

    def write(self, relpath: str, *docs: dict[str, Any]) -> None:
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump_all(docs, sort_keys=False))

    def write_text(self, relpath: str, text: str) -> None:
        target = self.path / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def remove(self, relpath: str) -> None:
        (self.path / relpath).unlink()

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    @property
    def url(self) -> str:
        return f"file://{self.path}"


def application(
    name: str,
    repo: ConfigRepo,
    path: str,
    *,
    namespace: str = "demo",
    automated: bool = True,
    prune: bool = True,
    self_heal: bool = True,
    options: tuple[str, ...] = ("CreateNamespace=true",),
    project: str = "default",
    **spec_extra: Any,
) -> dict[str, Any]:
    policy: dict[str, Any] = {"syncOptions": list(options)}
    if automated:
        policy["automated"] = {"prune": prune, "selfHeal": self_heal}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": project,
            "source": {"repoURL": repo.url, "targetRevision": "main", "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": policy,
            **spec_extra,
        },
    }


def configmap(name: str, data: dict[str, str], **annotations: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = dict(annotations)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def hook_job(
    name: str, hook: str, command: str, *, wave: int = 0, policy: str = ""
) -> dict[str, Any]:
    notes = {"argocd.argoproj.io/hook": hook, "argocd.argoproj.io/sync-wave": str(wave)}
    if policy:
        notes["argocd.argoproj.io/hook-delete-policy"] = policy
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "annotations": notes},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "", "command": ["sh", "-c", command]}],
                }
            },
        },
    }
