"""``conveyor ci run`` in a config repository: preview and policy of what a commit touches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.artifacts import ArtifactStore
from conveyor.ci.results import Status
from conveyor.ci.runner import run_pipeline
from engine.engine_helpers import ConfigRepo
from support.ci_repos import conveyor

pytestmark = [pytest.mark.processes, pytest.mark.timeout(300)]  # real git and kustomize

IMAGE = "ghcr.io/acme/hello"


def application(env: str) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": f"hello-{env}", "labels": {"environment": env}},
        "spec": {
            "project": "default",
            "source": {"repoURL": "file:///config", "path": f"envs/{env}"},
            "destination": {"namespace": f"hello-{env}"},
        },
    }  # fmt: skip


def deployment(tag: str, *, root: bool = False) -> dict[str, Any]:
    security = {"runAsUser": 0} if root else {"runAsNonRoot": True}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello"},
        "spec": {"selector": {"matchLabels": {"app": "hello"}}, "template": {
            "metadata": {"labels": {"app": "hello"}},
            "spec": {"containers": [{
                "name": "web", "image": f"{IMAGE}:{tag}", "securityContext": security,
                "resources": {"limits": {"cpu": "1", "memory": "128Mi"}},
                "readinessProbe": {"tcpSocket": {"port": 8080}},
                "livenessProbe": {"tcpSocket": {"port": 8080}},
            }]},
        }},
    }  # fmt: skip


def secret(password: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hello-db"},
        "stringData": {"password": password},
    }


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.write_text(".conveyor/pipeline.yaml", "kind: config\n")
    for env in ("dev", "prod"):
        repo.write(f"apps/{env}.yaml", application(env))
        repo.write(f"envs/{env}/app.yaml", deployment("aaa1111"), secret("hunter2-before"))
    repo.commit("seed")
    return repo


async def test_a_root_container_fails_policy_and_the_preview_shows_the_masked_diff(
    repo: ConfigRepo, tmp_path: Path
) -> None:
    repo.write("envs/dev/app.yaml", deployment("bbb2222", root=True), secret("hunter2-after"))
    head = repo.commit("dev: bbb2222")

    run = await run_pipeline(repo.path, store=ArtifactStore(tmp_path / "artifacts"))

    assert run.commit == head and run.artifact is None
    assert [(s.name, s.status) for s in run.stages] == [
        ("preview", Status.passed), ("policy", Status.failed),
    ]  # fmt: skip
    policy = run.stage("policy")
    assert 'hello-dev: Deployment/hello: container "web" may run as root' in policy.message
    assert "hello-prod" not in policy.message  # prod is not touched by this commit
    assert policy.counts == {"apps": 1, "denied": 1, "warnings": 0}
    preview = run.stage("preview")
    assert preview.counts == {"apps": 1, "objects": 2}
    assert preview.log.startswith("### Conveyor preview")
    changed = [line for line in preview.log.splitlines() if f"image: {IMAGE}:" in line]
    assert [line[0] for line in changed] == ["-", "+"] and changed[1].endswith(":bbb2222")
    assert "hello-prod" not in preview.log
    assert "hunter2" not in preview.log  # the Secret changed, and shows only as masks
    assert "Secret/hello-dev/hello-db changed" in preview.log


async def test_a_compliant_change_passes_and_an_untouched_violation_is_not_judged(
    repo: ConfigRepo, tmp_path: Path
) -> None:
    repo.write("envs/prod/app.yaml", deployment("aaa1111", root=True), secret("hunter2-before"))
    repo.commit("prod runs as root (before this pipeline existed)")
    repo.write("envs/dev/app.yaml", deployment("ccc3333"), secret("hunter2-before"))
    repo.commit("dev: ccc3333")

    run = await run_pipeline(repo.path, store=ArtifactStore(tmp_path / "artifacts"))

    assert run.status is Status.passed, run.to_dict()
    assert run.stage("policy").message.startswith("1 changed apps pass default")
    assert run.stage("preview").message.startswith("1 apps change (hello-dev)")

    # the same violation, judged when the commit touches it
    prod = await run_pipeline(
        repo.path, store=ArtifactStore(tmp_path / "artifacts"), revision="HEAD~1"
    )
    assert prod.status is Status.failed
    assert "hello-prod: Deployment/hello" in prod.stage("policy").message


async def test_probes_are_required_in_prod_by_the_apps_environment(
    repo: ConfigRepo, tmp_path: Path
) -> None:
    bare = deployment("ddd4444")
    del bare["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    for env in ("dev", "prod"):
        repo.write(f"envs/{env}/app.yaml", bare, secret("hunter2-before"))
    repo.commit("both: ddd4444 without a liveness probe")

    run = await run_pipeline(repo.path, store=ArtifactStore(tmp_path / "artifacts"))

    policy = run.stage("policy")
    assert policy.status is Status.failed
    assert policy.counts["apps"] == 2
    assert [f["app"] for f in policy.findings if f["severity"] == "deny"] == ["hello-prod"]
    assert "has no livenessProbe, required in prod" in policy.message


async def test_warn_mode_and_stage_keys_of_the_other_kind(repo: ConfigRepo, tmp_path: Path) -> None:
    repo.write_text(".conveyor/pipeline.yaml", "kind: config\npolicy: {onFinding: warn}\n")
    repo.write("envs/dev/app.yaml", deployment("eee5555", root=True), secret("hunter2-before"))
    repo.commit("dev as root, policy warns")
    store = ArtifactStore(tmp_path / "artifacts")

    warned = await run_pipeline(repo.path, store=store)
    assert warned.status is Status.warned and warned.stage("policy").status is Status.warned

    repo.write_text(".conveyor/pipeline.yaml", "kind: config\nlint: {enabled: false}\n")
    repo.commit("an app stage in a config pipeline")
    refused = await run_pipeline(repo.path, store=store)
    assert refused.stage("config").status is Status.failed
    assert "lint: not a stage of a config pipeline" in refused.stage("config").message


def test_the_cli_runs_the_config_pipeline_and_shows_the_preview(
    repo: ConfigRepo, tmp_path: Path
) -> None:
    repo.remove(".conveyor/pipeline.yaml")  # a promotion file makes it a config repository
    repo.write_text(".conveyor/promotion.yaml", yaml.safe_dump({"pipelines": []}))
    repo.write("envs/dev/app.yaml", deployment("fff6666", root=True), secret("hunter2-before"))
    repo.commit("dev: fff6666")
    env = {"CONVEYOR_HOME": str(tmp_path / "home"), "CONVEYOR_SERVER": ""}

    code, out, err = conveyor("ci", "run", str(repo.path), "--local", env=env)

    assert code == 1, out + err
    assert "preview" in err and "policy" in err and "may run as root" in err
    run_id = next(line.split()[-1] for line in out.splitlines() if line.startswith("Run"))
    code, out, _ = conveyor("ci", "logs", run_id, "--stage", "preview", env=env)
    assert code == 0 and "### Conveyor preview" in out and f"{IMAGE}:fff6666" in out


def test_no_github_workflow_pretends_to_run_a_config_pipeline(repo: ConfigRepo) -> None:
    code, out, err = conveyor("ci", "workflow", "github", "--path", str(repo.path))
    assert code == 1 and out == ""
    assert "config repository's pipeline (kind: config)" in err
