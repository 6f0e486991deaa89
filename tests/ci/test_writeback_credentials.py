"""Write-back, `image set` and promotion push to a private config repository with the
credentials `conveyor repo add` stored, through git's environment as the engine's mirrors do."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_helpers import config_repo, git, show
from test_promotion import NOW, PIPELINES, app, deployment, kustomization
from typer.testing import CliRunner

from conveyor.artifacts.store import Artifact
from conveyor.ci.config import PipelineConfig
from conveyor.ci.context import StageContext
from conveyor.ci.promotion import EnvironmentState, load_pipelines, promote
from conveyor.ci.writeback import WriteBackError, write_back_app
from conveyor.ci.writeback_stage import write_back_stage
from conveyor.cli.main import app as cli
from conveyor.store.repocreds import RepoCredentialStore, Repository
from support.git_http import GitHttpServer

pytestmark = pytest.mark.processes  # real git, a git smart-HTTP server on 127.0.0.1

PASSWORD = "s3cret-Pa55word"
OVERLAY = "apps/hello/overlays/dev/kustomization.yaml"
KUSTOMIZATION = "images:\n  - name: ghcr.io/acme/hello\n    newTag: old  # set by CI\n"


def application(url: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "hello",
            "annotations": {
                "argocd-image-updater.argoproj.io/image-list": "web=ghcr.io/acme/hello",
                "argocd-image-updater.argoproj.io/write-back-method": "git",
            },
        },
        "spec": {"source": {"repoURL": url, "path": "apps/hello/overlays/dev",
                            "targetRevision": "main"}},
    }  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitHttpServer]:
    with GitHttpServer(tmp_path, "alice", PASSWORD) as served:
        yield served


def secrets() -> list[str]:
    return [PASSWORD, base64.b64encode(f"alice:{PASSWORD}".encode()).decode()]


async def test_write_back_pushes_with_the_stored_credentials(
    tmp_path: Path, server: GitHttpServer
) -> None:
    bare = config_repo(tmp_path, {OVERLAY: KUSTOMIZATION})
    url = f"{server.url}/config.git"
    store = RepoCredentialStore(tmp_path / "home")
    with pytest.raises(WriteBackError) as refused:  # nothing stored: the host says 401
        await write_back_app(application(url), {"web": "c0ffee1"}, credentials=store.lookup)
    assert server.refused > 0 and server.served == 0
    assert not any(s in str(refused.value) for s in secrets())

    store.add(Repository(url, username="alice", password=PASSWORD))
    result = await write_back_app(application(url), {"web": "c0ffee1"}, credentials=store.lookup)
    assert result.changed and result.commit == git(bare, "rev-parse", "main")
    assert "newTag: c0ffee1  # set by CI" in show(bare, OVERLAY)
    assert server.served > 0


def test_image_set_uses_the_credentials_of_conveyor_home(
    tmp_path: Path, server: GitHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = config_repo(tmp_path, {OVERLAY: KUSTOMIZATION})
    url = f"{server.url}/config.git"
    home = tmp_path / "home"
    RepoCredentialStore(home).add(Repository(url, username="alice", password=PASSWORD))
    app_file = tmp_path / "app.yaml"
    app_file.write_text(yaml.safe_dump(application(url)))
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    argv = ["image", "set", "hello", "web=1.21", "--app-file", str(app_file)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert 'newTag: "1.21"  # set by CI' in show(bare, OVERLAY)
    assert not any(s in result.output for s in secrets())


async def test_promotion_pushes_with_the_stored_credentials(
    tmp_path: Path, server: GitHttpServer
) -> None:
    files = {
        ".conveyor/promotion.yaml": PIPELINES,
        "envs/dev/kustomization.yaml": kustomization("aaa1111"),
        "envs/staging/kustomization.yaml": kustomization("old0000"),
    }
    bare = config_repo(tmp_path, files)
    url = f"{server.url}/config.git"
    pipeline = load_pipelines(show(bare, ".conveyor/promotion.yaml"))["hello"]
    dev = app("dev", bare, tag="aaa1111", revision=git(bare, "rev-parse", "main"))
    staging = app("staging", bare, tag="old0000")
    staging["spec"]["source"]["repoURL"] = url
    states = {
        "dev": EnvironmentState(dev, served_at=NOW - timedelta(minutes=30)),
        "staging": EnvironmentState(staging, manifests=[deployment("old0000")]),
    }
    store = RepoCredentialStore(tmp_path / "home")
    store.add(Repository(url, username="alice", password=PASSWORD))
    record = await promote(
        pipeline, "staging", states, user="alice", approved=False, now=NOW,
        credentials=store.lookup,
    )  # fmt: skip
    assert record.commit == git(bare, "rev-parse", "main")
    assert "newTag: aaa1111  # written by CI" in show(bare, "envs/staging/kustomization.yaml")
    assert server.served > 0


async def test_the_ci_write_back_stage_pushes_with_the_stored_credentials(
    tmp_path: Path, server: GitHttpServer
) -> None:
    bare = config_repo(tmp_path, {OVERLAY: KUSTOMIZATION})
    url = f"{server.url}/config.git"
    store = RepoCredentialStore(tmp_path / "home")
    store.add(Repository(url, username="alice", password=PASSWORD))
    app_repo = tmp_path / "app"
    app_repo.mkdir()
    git(app_repo, "init", "-q", "-b", "main")
    git(app_repo, "commit", "-q", "--allow-empty", "-m", "app")
    sha = git(app_repo, "rev-parse", "HEAD")
    published = Artifact("web", sha, tmp_path, tmp_path, tmp_path, str(app_repo), sha, "now", None)
    ctx = StageContext("web", sha, app_repo, tmp_path, tmp_path, PipelineConfig(), run_id="r1",
                       artifact=published)  # fmt: skip
    stage = write_back_stage([application(url)], credentials=store.lookup)
    result = await stage.run(ctx)
    assert result.status.value == "passed", result.message
    assert f"newTag: {sha}  # set by CI" in show(bare, OVERLAY)
    assert not any(s in result.message + result.log for s in secrets())
