"""``conveyor ci run --app-file``: the published SHA tag lands in the config repository, where
the Application's Image Updater annotations say, and nothing else in the file changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from ci_helpers import config_repo, git, show

from support.ci_repos import GOOD_APP, conveyor, make_repo, pipeline

pytestmark = [pytest.mark.processes, pytest.mark.timeout(600)]

OVERLAY = "apps/shop/overlays/dev/kustomization.yaml"
KUSTOMIZATION = """\
# dev overlay: comments, odd spacing and order stay as they are
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
images:
  - name: ghcr.io/acme/worker
    newTag: "1.0"   # not ours
  - name: shop   # the artifact's name
    newTag: old-tag    # set by CI
"""


def application(repo_url: str, **extra: str) -> dict[str, object]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {
            "name": "shop-dev",
            "annotations": {
                "argocd-image-updater.argoproj.io/image-list": "shop=shop",
                "argocd-image-updater.argoproj.io/write-back-method": "git",
                "argocd-image-updater.argoproj.io/write-back-target": "kustomization",
                **extra,
            },
        },
        "spec": {
            "source": {"repoURL": repo_url, "path": "apps/shop/overlays/dev"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "syncPolicy": {"automated": {}},
        },
    }


def test_a_run_commits_its_sha_tag_into_the_config_repo(tmp_path: Path) -> None:
    bare = config_repo(tmp_path, {OVERLAY: KUSTOMIZATION, "README.md": "config\n"})
    before = git(bare, "rev-parse", "main")
    app_file = tmp_path / "shop-dev.yaml"
    app_file.write_text(yaml.safe_dump(application(f"file://{bare}")))
    repo = make_repo(tmp_path / "shop", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})
    sha = git(repo, "rev-parse", "HEAD")

    code, out, err = conveyor(
        "ci", "run", str(repo), "--app-file", str(app_file), "-o", "json",
        env={"CONVEYOR_SERVER": ""},
    )  # fmt: skip

    assert code == 0, err
    run = json.loads(out)
    stages = {s["name"]: s for s in run["stages"]}
    assert [s["name"] for s in run["stages"]][-2:] == ["publish", "write-back"]
    assert stages["write-back"]["status"] == "passed", stages["write-back"]
    assert run["artifact"] == f"shop:{sha}"
    expected = KUSTOMIZATION.replace("newTag: old-tag ", f"newTag: {sha} ")
    assert show(bare, OVERLAY) == expected  # byte for byte: only the tag line differs
    assert git(bare, "rev-parse", "main~1") == before  # one commit on top
    trailers = git(bare, "show", "-s", "--format=%(trailers:only,unfold)", "main")
    assert f"Conveyor-App-Commit: {sha}" in trailers
    assert f"Conveyor-Run: {run['id']}" in trailers
    assert "Conveyor-App-Commit-Date: " in trailers

    code, out, err = conveyor(
        "ci", "run", str(repo), "--app-file", str(app_file), "-o", "json",
        env={"CONVEYOR_SERVER": ""},
    )  # fmt: skip
    assert code == 0, err
    again = {s["name"]: s for s in json.loads(out)["stages"]}
    assert again["publish"]["status"] == "skipped"  # the tag is immutable: nothing rebuilt
    assert "already names this tag" in again["write-back"]["message"]
    assert git(bare, "rev-parse", "main~1") == before  # no second commit


def test_an_application_without_a_git_target_fails_before_anything_runs(tmp_path: Path) -> None:
    app_file = tmp_path / "shop-dev.yaml"
    method = {"argocd-image-updater.argoproj.io/write-back-method": "argocd"}
    app_file.write_text(yaml.safe_dump(application("file:///nowhere", **method)))
    repo = make_repo(tmp_path / "shop", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    code, _, err = conveyor(
        "ci", "run", str(repo), "--app-file", str(app_file), env={"CONVEYOR_SERVER": ""}
    )

    assert code == 1
    assert "Conveyor writes back to Git only" in err
    code, out, _ = conveyor("ci", "runs", "-o", "json", env={"CONVEYOR_SERVER": ""})
    assert json.loads(out) == []  # no run was started


def test_write_back_by_name_needs_a_server(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "shop", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    code, _, err = conveyor(
        "ci", "run", str(repo), "--write-back", "shop-dev", env={"CONVEYOR_SERVER": ""}
    )

    assert code == 1
    assert "reads the Application from the server" in err


def test_a_rolled_back_application_is_skipped_with_the_reason(tmp_path: Path) -> None:
    bare = config_repo(tmp_path, {OVERLAY: KUSTOMIZATION})
    before = git(bare, "rev-parse", "main")
    pinned = application(f"file://{bare}")
    pinned["spec"] = {**pinned["spec"], "syncPolicy": {}}  # type: ignore[dict-item]
    pinned["status"] = {"history": [{"revision": "a1"}, {"revision": "b2"}, {"revision": "a1"}]}
    app_file = tmp_path / "shop-dev.yaml"
    app_file.write_text(yaml.safe_dump(pinned))
    repo = make_repo(tmp_path / "shop", {**GOOD_APP, ".conveyor/pipeline.yaml": pipeline()})

    code, out, err = conveyor(
        "ci", "run", str(repo), "--app-file", str(app_file), "-o", "json",
        env={"CONVEYOR_SERVER": ""},
    )  # fmt: skip

    assert code == 0, err
    stage = json.loads(out)["stages"][-1]
    assert stage["status"] == "warned"
    assert "was rolled back to a1" in stage["message"]
    assert git(bare, "rev-parse", "main") == before  # nothing written
