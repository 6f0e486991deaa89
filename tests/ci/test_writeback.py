"""Write-back against real repositories: only the tag line changes, concurrent pushes both land."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from ci_helpers import config_repo, git, show
from typer.testing import CliRunner

from conveyor.ci.imageupdater import TagEdit, TargetKind
from conveyor.ci.writeback import (
    Checkout,
    WriteBackRequest,
    pin_reason,
    write_back,
    write_back_app,
)
from conveyor.cli.main import app as cli
from conveyor.errors import ValidationError

pytestmark = pytest.mark.processes  # real git

KUSTOMIZATION = """\
# overlay for dev: do not reorder
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- ../../base   # the shared base

images:
  -   name: ghcr.io/acme/hello   # odd indentation kept
      newTag: 'old'    # set by CI
  - name: ghcr.io/acme/worker
    newTag: "1.0"
"""

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}   # flow style stays
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/acme/hello:old  # pinned by CI
          args: ["--port",   "8080"]
"""

VALUES = """\
replicaCount: 2
image:
  repository: ghcr.io/acme/hello
  # the tag CI writes
  tag: old
service: {type: ClusterIP,  port: 80}
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


@pytest.mark.parametrize(
    ("path", "text", "edit", "tag", "expected"),
    [
        (
            "apps/hello/overlays/dev/kustomization.yaml",
            KUSTOMIZATION,
            TagEdit(TargetKind.KUSTOMIZATION, "apps/hello/overlays/dev/kustomization.yaml",
                    "ghcr.io/acme/hello"),
            "3f2a9c1",
            "      newTag: '3f2a9c1'    # set by CI\n",
        ),
        (
            "apps/hello/deploy.yaml",
            MANIFEST,
            TagEdit(TargetKind.MANIFEST, "apps/hello/deploy.yaml", "ghcr.io/acme/hello"),
            "3f2a9c1",
            "          image: ghcr.io/acme/hello:3f2a9c1  # pinned by CI\n",
        ),
        (
            "charts/hello/values.yaml",
            VALUES,
            TagEdit(TargetKind.HELM_VALUES, "charts/hello/values.yaml", "ghcr.io/acme/hello",
                    values_key="image.tag"),
            "1234567",  # an all-digit short SHA: YAML would read a number
            '  tag: "1234567"\n',
        ),
    ],
    ids=["kustomization", "manifest", "helm-values"],
)  # fmt: skip
async def test_only_the_tag_line_changes(
    tmp_path: Path, path: str, text: str, edit: TagEdit, tag: str, expected: str
) -> None:
    bare = config_repo(tmp_path, {path: text})
    result = await write_back(
        WriteBackRequest(
            repo_url=str(bare), edits=[(edit, tag)], base_branch="main",
            app_commit="a" * 40, run_id="run-17",
        )
    )  # fmt: skip
    assert result.changed and result.attempts == 1
    after = show(bare, path)
    [(_, new_line)] = changed_lines(text, after)
    assert new_line == expected
    assert git(bare, "rev-parse", "main") == result.commit
    message = git(bare, "log", "-1", "--format=%B", "main")
    assert f"Conveyor-App-Commit: {'a' * 40}" in message
    trailers = git(bare, "log", "-1", "--format=%(trailers:key=Conveyor-Run,valueonly)", "main")
    assert trailers == "run-17"


async def test_the_same_tag_again_commits_nothing(tmp_path: Path) -> None:
    path = "values.yaml"
    bare = config_repo(tmp_path, {path: VALUES})
    edit = TagEdit(TargetKind.HELM_VALUES, path, "ghcr.io/acme/hello", values_key="image.tag")
    before = git(bare, "rev-parse", "main")
    result = await write_back(WriteBackRequest(str(bare), [(edit, "old")], base_branch="main"))
    assert not result.changed
    assert git(bare, "rev-parse", "main") == before


async def test_a_push_that_loses_the_race_is_reapplied_and_lands(tmp_path: Path) -> None:
    path = "dev/kustomization.yaml"
    bare = config_repo(tmp_path, {path: KUSTOMIZATION})
    hello = TagEdit(TargetKind.KUSTOMIZATION, path, "ghcr.io/acme/hello")
    worker = TagEdit(TargetKind.KUSTOMIZATION, path, "ghcr.io/acme/worker")
    slow = Checkout(
        WriteBackRequest(str(bare), [(hello, "aaa111")], base_branch="main", run_id="slow"),
        tmp_path / "slow",
    )
    await slow.clone()
    assert await slow.commit()  # committed locally, not pushed yet
    fast = await write_back(
        WriteBackRequest(str(bare), [(worker, "bbb222")], base_branch="main", run_id="fast")
    )
    assert fast.attempts == 1
    result = await slow.land()
    assert result.attempts == 2  # rejected once, re-applied on the fresh branch
    final = show(bare, path)
    assert "newTag: 'aaa111'" in final and 'newTag: "bbb222"' in final
    assert [b for _, b in changed_lines(KUSTOMIZATION, final)] == [
        "      newTag: 'aaa111'    # set by CI\n",
        '    newTag: "bbb222"\n',
    ]
    runs = git(bare, "log", "--format=%(trailers:key=Conveyor-Run,valueonly)", "main")
    assert runs.split() == ["slow", "fast"]


async def test_two_writers_at_once_both_land(tmp_path: Path) -> None:
    bare = config_repo(tmp_path, {"a/values.yaml": VALUES, "b/values.yaml": VALUES})

    def request(where: str, tag: str) -> WriteBackRequest:
        edit = TagEdit(TargetKind.HELM_VALUES, f"{where}/values.yaml", "hello", "image.tag")
        return WriteBackRequest(str(bare), [(edit, tag)], base_branch="main", run_id=where)

    results = await asyncio.gather(
        write_back(request("a", "tag-a")), write_back(request("b", "tag-b"))
    )
    assert all(r.changed for r in results)
    assert "tag: tag-a" in show(bare, "a/values.yaml")
    assert "tag: tag-b" in show(bare, "b/values.yaml")
    assert git(bare, "rev-list", "--count", "main") == "3"


def application(**annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "hello",
            "annotations": {
                "argocd-image-updater.argoproj.io/image-list": "web=ghcr.io/acme/hello",
                "argocd-image-updater.argoproj.io/write-back-method": "git",
                **{f"argocd-image-updater.argoproj.io/{k}": v for k, v in annotations.items()},
            },
        },
        "spec": {"source": {"repoURL": "", "path": "apps/hello/overlays/dev",
                            "targetRevision": "main"}},
    }  # fmt: skip


async def test_branch_mode_writes_to_the_review_branch(tmp_path: Path) -> None:
    path = "apps/hello/overlays/dev/kustomization.yaml"
    bare = config_repo(tmp_path, {path: KUSTOMIZATION})
    app = application(**{"git-branch": "main:update-hello"})
    app["spec"]["source"]["repoURL"] = str(bare)
    main_before = git(bare, "rev-parse", "main")
    result = await write_back_app(app, {"web": "c0ffee1"}, app_commit="b" * 40)
    assert result.branch == "update-hello"
    assert git(bare, "rev-parse", "main") == main_before
    assert "newTag: 'c0ffee1'" in show(bare, path, "update-hello")


async def test_a_rolled_back_app_is_pinned_until_automated_sync_returns(tmp_path: Path) -> None:
    path = "apps/hello/overlays/dev/kustomization.yaml"
    bare = config_repo(tmp_path, {path: KUSTOMIZATION})
    app = application()
    app["spec"]["source"]["repoURL"] = str(bare)
    app["status"] = {
        "history": [{"id": 1, "revision": "r1"}, {"id": 2, "revision": "r2"},
                    {"id": 3, "revision": "r1"}],
    }  # fmt: skip
    before = git(bare, "rev-parse", "main")
    result = await write_back_app(app, {"web": "c0ffee1"})
    assert not result.changed
    assert "rolled back" in result.skipped and "automated" in result.skipped
    assert git(bare, "rev-parse", "main") == before
    app["spec"]["syncPolicy"] = {"automated": {}}
    assert pin_reason(app) == ""
    assert (await write_back_app(app, {"web": "c0ffee1"})).changed


def test_image_set_cli_commits_from_an_application_file(tmp_path: Path) -> None:
    path = "apps/hello/overlays/dev/kustomization.yaml"
    bare = config_repo(tmp_path, {path: KUSTOMIZATION})
    app = application()
    app["spec"]["source"]["repoURL"] = str(bare)
    app_file = tmp_path / "app.yaml"
    app_file.write_text(yaml.safe_dump(app))
    argv = ["image", "set", "hello", "web=1.20", "--app-file", str(app_file), "--run", "r9"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    assert 'newTag: "1.20"    # set by CI' in show(bare, path)
    assert git(bare, "rev-parse", "main") in result.output


async def test_a_trailer_value_cannot_inject_another_trailer(tmp_path: Path) -> None:
    bare = config_repo(tmp_path, {"values.yaml": VALUES})
    edit = TagEdit(TargetKind.HELM_VALUES, "values.yaml", "ghcr.io/acme/hello", "image.tag")
    forged = WriteBackRequest(
        str(bare), [(edit, "new")], base_branch="main", run_id="r1\nConveyor-App-Commit: evil"
    )
    with pytest.raises(ValidationError, match="must be one line"):
        await write_back(forged)
