"""The demo's path end to end: demo-app built as an artifact, deployed from the config repo.

What ``conveyor demo`` does, on a small scale: the app repo's HEAD becomes the artifact
``demo-app:<sha>``, that tag goes into overlays/dev, and the demo-dev Application (the
manifest in apps/, only its repoURL filled in) is synced by the engine onto the local runtime.
The Service then answers with the SHA it was built from and the dev overlay's settings.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import engine, local_target
from conveyor.cli.demo_setup import demo_sources
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.target import LocalTarget
from support.runtime_helpers import service_port, wait_for
from support.wheelhouse import needs_wheelhouse

pytestmark = [pytest.mark.slow, needs_wheelhouse]  # pip installs FastAPI offline

EXAMPLES = demo_sources()
PLACEHOLDER_TAG = "REPLACE_WITH_GIT_SHA"
PLACEHOLDER_REPO = "file:///REPLACED/BY/DEMO"
FAST = KubeletOptions(backoff_base=0.5, backoff_cap=2.0, image_retry_base=0.5)
QUICK = ControllerOptions(poll_interval=1.0, self_heal_backoff=0.2, step_timeout=60.0)
IDENTITY = ("-c", "user.name=Demo", "-c", "user.email=demo@example.com")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *IDENTITY, *args], cwd=repo, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def git_repo_of(source: Path, repo: Path, edit: Callable[[Path], None] | None = None) -> str:
    """Copy ``source`` to a new git repo at ``repo``, edit it, commit; returns the SHA."""
    shutil.copytree(source, repo, ignore=shutil.ignore_patterns("__pycache__"))
    if edit is not None:
        edit(repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{source.name}")
    return git(repo, "rev-parse", "HEAD")


@dataclass
class Built:
    store: ArtifactStore
    sha: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """demo-app built from its repo's HEAD, once for the module (pip install included)."""
    root = tmp_path_factory.mktemp("demo-artifacts")
    sha = git_repo_of(EXAMPLES / "demo-app", root / "demo-app")
    store = ArtifactStore(root / "store")
    artifact = asyncio.run(store.build("demo-app", source=str(root / "demo-app")))
    assert (artifact.image, artifact.revision) == (f"demo-app:{sha}", sha)
    return Built(store, sha)


@pytest.fixture
async def controller_and_target(
    tmp_path: Path, built: Built
) -> AsyncIterator[tuple[Controller, LocalTarget]]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with (
        local_target(settings, FAST, built.store) as target,
        engine(settings, target, options=QUICK) as controller,
    ):
        yield controller, target


def config_repo(root: Path, sha: str) -> Path:
    """The example config repo with ``sha`` committed as dev's image tag (CI's write-back)."""

    def set_dev_tag(repo: Path) -> None:
        kustomization = repo / "overlays" / "dev" / "kustomization.yaml"
        text = kustomization.read_text(encoding="utf-8")
        assert f"newTag: {PLACEHOLDER_TAG}" in text
        kustomization.write_text(text.replace(PLACEHOLDER_TAG, sha), encoding="utf-8")

    repo = root / "config-repo"
    git_repo_of(EXAMPLES / "config-repo", repo, set_dev_tag)
    return repo


def dev_application(repo: Path) -> dict[str, Any]:
    """apps/demo-dev.yaml with the repoURL placeholder filled in, as the demo registers it."""
    text = (repo / "apps" / "demo-dev.yaml").read_text(encoding="utf-8")
    assert PLACEHOLDER_REPO in text
    manifest = yaml.safe_load(text.replace(PLACEHOLDER_REPO, f"file://{repo}"))
    assert isinstance(manifest, dict)
    return manifest


async def served(target: LocalTarget) -> dict[str, Any] | None:
    """What the dev Service's ``/`` answers, or None while it cannot answer 200."""
    svc = await target.get(ObjectKey("", "Service", "demo-dev", "demo-app"))
    port = service_port(svc) if svc else None
    if port is None:
        return None
    async with httpx.AsyncClient() as client:
        try:
            reply = await client.get(f"http://127.0.0.1:{port}/", timeout=2.0)
        except httpx.HTTPError:
            return None
    return dict(reply.json()) if reply.status_code == 200 else None


async def test_the_dev_app_is_synced_from_the_config_repo_and_serves_its_sha(
    tmp_path: Path, built: Built, controller_and_target: tuple[Controller, LocalTarget]
) -> None:
    controller, target = controller_and_target
    repo = config_repo(tmp_path, built.sha)
    revision = git(repo, "rev-parse", "HEAD")
    await controller.apply_application(dev_application(repo))

    async def synced_healthy() -> dict[str, Any] | None:
        await controller.wait_reconciled("demo-dev", timeout=0.3)
        status = controller.application("demo-dev").get("status") or {}
        sync, health = status.get("sync") or {}, status.get("health") or {}
        done = sync.get("status") == "Synced" and health.get("status") == "Healthy"
        return status if done else None

    status = await wait_for(synced_healthy, timeout=120, what="demo-dev Synced and Healthy")
    assert status["sync"]["revision"] == revision
    assert status["summary"]["images"] == [f"demo-app:{built.sha}"]

    answer = await wait_for(lambda: served(target), timeout=60, what="the Service to answer /")
    assert answer["version"] == built.sha
    assert answer["environment"] == "dev"
    assert answer["pod"].startswith("demo-app-")
