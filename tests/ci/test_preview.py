"""Preview of a config change: each touched app's rendered diff, Secrets masked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conveyor.cli.main import app as cli

pytestmark = pytest.mark.processes  # real git and kustomize

BASE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - {name: web, image: ghcr.io/acme/hello:old}
"""

SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: hello-db}
stringData: {password: hunter2-before}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def application(env: str, path: str) -> str:
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: hello-{env}}}
spec:
  project: default
  source: {{repoURL: file:///config, path: {path}, targetRevision: HEAD}}
  destination: {{server: https://kubernetes.default.svc, namespace: hello-{env}}}
"""


def write(repo: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "config"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write(
        repo,
        {
            "apps/dev.yaml": application("dev", "overlays/dev"),
            "apps/prod.yaml": application("prod", "overlays/prod"),
            "apps/plain.yaml": application("plain", "plain"),
            "base/deployment.yaml": BASE_DEPLOYMENT,
            "base/kustomization.yaml": "resources: [deployment.yaml]\n",
            "overlays/dev/kustomization.yaml": "resources: [../../base]\n"
            "images: [{name: ghcr.io/acme/hello, newTag: dev1}]\n",
            "overlays/prod/kustomization.yaml": "resources: [../../base]\n"
            "images: [{name: ghcr.io/acme/hello, newTag: prod1}]\n",
            "plain/secret.yaml": SECRET,
        },
    )
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "change")
    return repo


def commit(repo: Path, files: dict[str, str]) -> None:
    write(repo, files)
    git(repo, "commit", "-q", "-am", "change")


def test_a_dev_overlay_change_touches_dev_only(repo: Path) -> None:
    commit(repo, {"overlays/dev/kustomization.yaml": "resources: [../../base]\n"
                  "images: [{name: ghcr.io/acme/hello, newTag: dev2}]\n"})  # fmt: skip
    result = CliRunner().invoke(cli, ["preview", "--base", "main", "--head", "change",
                                      "--repo", str(repo)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "=== hello-dev (overlays/dev)" in result.output
    assert "-      - image: ghcr.io/acme/hello:dev1" in result.output
    assert "+      - image: ghcr.io/acme/hello:dev2" in result.output
    assert "hello-prod" not in result.output and "hello-plain" not in result.output


def test_a_base_change_reaches_every_overlay(repo: Path) -> None:
    commit(repo, {"base/deployment.yaml": BASE_DEPLOYMENT.replace("replicas: 1", "replicas: 3")})
    result = CliRunner().invoke(
        cli, ["preview", "--base", "main", "--head", "change", "--repo", str(repo), "-o",
              "markdown"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "| `hello-dev` | `overlays/dev` | Deployment/hello-dev/hello changed |" in (
        result.output
    )
    assert "`hello-prod`" in result.output
    assert "```diff" in result.output and "+  replicas: 3" in result.output


def test_secret_values_are_masked(repo: Path) -> None:
    commit(repo, {"plain/secret.yaml": SECRET.replace("hunter2-before", "hunter2-after")})
    result = CliRunner().invoke(cli, ["preview", "--base", "main", "--head", "change",
                                      "--repo", str(repo)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "=== hello-plain (plain)" in result.output
    assert "hunter2" not in result.output
    assert "core/Secret/hello-plain/hello-db" in result.output


def test_no_change_says_so(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["preview", "--base", "main", "--head", "change",
                                      "--repo", str(repo), "--exit-code"])  # fmt: skip
    assert result.exit_code == 0
    assert "no application's manifests change" in result.output
