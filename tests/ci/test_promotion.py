"""Promotion through gates: the exact running tag moves on only when every gate holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ci_helpers import config_repo, git, show

from conveyor.ci.imageupdater import TagEdit, TargetKind
from conveyor.ci.leadtime import lead_time
from conveyor.ci.promotion import (
    EnvironmentState,
    PromotionRefused,
    load_pipelines,
    promote,
)
from conveyor.ci.writeback import WriteBackRequest, commit_trailers, write_back

pytestmark = pytest.mark.processes  # real git

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
IMAGE = "ghcr.io/acme/hello"
PIPELINES = """\
pipelines:
  - name: hello
    soak: 10m
    environments:
      - {name: dev, application: hello-dev}
      - {name: staging, application: hello-staging}
      - {name: prod, application: hello-prod, approval: true, soak: 1h}
"""


def kustomization(tag: str) -> str:
    return (
        "resources: [deploy.yaml]\n"
        "images:\n"
        f"  - name: {IMAGE}\n"
        f"    newTag: {tag}  # written by CI\n"
    )


def app(env: str, repo: Path, *, tag: str = "", health: str = "Healthy", revision: str = "",
        resources: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    return {
        "metadata": {
            "name": f"hello-{env}",
            "annotations": {
                "argocd-image-updater.argoproj.io/image-list": f"web={IMAGE}",
                "argocd-image-updater.argoproj.io/write-back-method": "git",
            },
        },
        "spec": {
            "source": {"repoURL": str(repo), "path": f"envs/{env}", "targetRevision": "main"},
            "syncPolicy": {"automated": {}},
        },
        "status": {
            "health": {"status": health},
            "sync": {"status": "Synced", "revision": revision},
            "summary": {"images": [f"{IMAGE}:{tag}"] if tag else []},
            "resources": resources or [],
        },
    }


def deployment(tag: str, *, root: bool = False) -> dict[str, Any]:
    security = {"runAsUser": 0} if root else {"runAsNonRoot": True}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "web", "image": f"{IMAGE}:{tag}", "securityContext": security,
            "resources": {"limits": {"cpu": "1", "memory": "128Mi"}},
            "readinessProbe": {"tcpSocket": {"port": 8080}},
            "livenessProbe": {"tcpSocket": {"port": 8080}},
        }]}}},
    }  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return config_repo(
        tmp_path,
        {
            ".conveyor/promotion.yaml": PIPELINES,
            "envs/dev/kustomization.yaml": kustomization("seed000"),
            "envs/staging/kustomization.yaml": kustomization("old0000"),
            "envs/prod/kustomization.yaml": kustomization("old0000"),
        },
    )


def states(repo: Path, **changes: Any) -> dict[str, EnvironmentState]:
    dev_revision = git(repo, "rev-parse", "main")
    dev = app("dev", repo, tag="aaa1111", revision=dev_revision, **changes.pop("dev", {}))
    served = changes.pop("served_at", NOW - timedelta(minutes=30))
    return {
        "dev": EnvironmentState(dev, served_at=served),
        "staging": EnvironmentState(
            app("staging", repo, tag="old0000"),
            manifests=[deployment("old0000", root=changes.pop("root", False))],
        ),
    }


async def test_the_running_tag_moves_to_staging_with_its_record(repo: Path) -> None:
    pipeline = load_pipelines(show(repo, ".conveyor/promotion.yaml"))["hello"]
    dev = TagEdit(TargetKind.KUSTOMIZATION, "envs/dev/kustomization.yaml", IMAGE)
    built = WriteBackRequest(
        str(repo), [(dev, "aaa1111")], "main", app_commit="c" * 40,
        app_commit_date="2026-12-05T10:00:00+00:00",
    )  # fmt: skip
    await write_back(built)  # CI wrote dev's tag: its commit names the app commit
    record = await promote(pipeline, "staging", states(repo), user="alice", approved=False, now=NOW)
    assert (record.source, record.target, record.tag) == ("dev", "staging", "aaa1111")
    assert [g.name for g in record.gates] == ["source-healthy", "soak", "analysis", "policy"]
    assert "newTag: aaa1111  # written by CI" in show(repo, "envs/staging/kustomization.yaml")
    assert show(repo, "envs/prod/kustomization.yaml") == kustomization("old0000")
    message = git(repo, "log", "-1", "--format=%B", "main")
    assert "Conveyor-Promotion: dev -> staging aaa1111" in message
    assert "Conveyor-Promoted-By: alice" in message
    assert "Conveyor-Gate: soak held: dev served for 1800s of 600s" in message
    assert record.commit == git(repo, "rev-parse", "main")
    assert f"Conveyor-App-Commit: {'c' * 40}" in message and record.app_commit == "c" * 40
    # staging serves it at noon: lead time from the app commit (10:00) is two hours
    trailers = await commit_trailers(repo, record.commit)
    measured = lead_time("staging", record.commit, NOW, trailers)
    assert measured.lead_time == timedelta(hours=2) and measured.app_commit == "c" * 40


@pytest.mark.parametrize(
    ("changes", "gate", "detail"),
    [
        ({"served_at": NOW - timedelta(minutes=3)}, "soak", "dev served for 180s of 600s"),
        ({"served_at": None}, "soak", "has not served"),
        ({"dev": {"health": "Degraded"}}, "source-healthy", "dev (hello-dev) is Degraded"),
        (
            {"dev": {"resources": [{"kind": "AnalysisRun", "name": "hello-abc",
                                    "health": {"status": "Degraded"}}]}},
            "analysis", "not successful: hello-abc Degraded",
        ),
        ({"root": True}, "policy", "may run as root"),
    ],
    ids=["soak-too-short", "never-served", "unhealthy", "analysis-failed", "policy-root"],
)  # fmt: skip
async def test_a_failing_gate_refuses_and_is_named(
    repo: Path, changes: dict[str, Any], gate: str, detail: str
) -> None:
    pipeline = load_pipelines(show(repo, ".conveyor/promotion.yaml"))["hello"]
    before = git(repo, "rev-parse", "main")
    with pytest.raises(PromotionRefused) as refused:
        await promote(
            pipeline, "staging", states(repo, **changes), user="bob", approved=True, now=NOW
        )
    assert f"gate {gate} failed" in str(refused.value) and detail in str(refused.value)
    assert [g.name for g in refused.value.gates if not g.held] == [gate]
    assert git(repo, "rev-parse", "main") == before


async def test_prod_needs_a_person_to_approve(repo: Path) -> None:
    pipeline = load_pipelines(show(repo, ".conveyor/promotion.yaml"))["hello"]
    staging_rev = git(repo, "rev-parse", "main")
    staging = app("staging", repo, tag="bbb2222", revision=staging_rev)
    prod = EnvironmentState(app("prod", repo, tag="old0000"), manifests=[deployment("old")])
    env = {"staging": EnvironmentState(staging, served_at=NOW - timedelta(hours=2)), "prod": prod}
    with pytest.raises(PromotionRefused, match="gate approval failed: prod needs --approve"):
        await promote(pipeline, "prod", env, user="carol", approved=False, now=NOW)
    record = await promote(pipeline, "prod", env, user="carol", approved=True, now=NOW)
    assert record.tag == "bbb2222"
    assert "newTag: bbb2222" in show(repo, "envs/prod/kustomization.yaml")


async def test_a_refusal_carries_its_record_and_a_promotion_names_its_app(repo: Path) -> None:
    pipeline = load_pipelines(show(repo, ".conveyor/promotion.yaml"))["hello"]
    soon = {"served_at": NOW - timedelta(minutes=3)}
    with pytest.raises(PromotionRefused) as refused:
        await promote(
            pipeline, "staging", states(repo, **soon), user="bob", approved=False, now=NOW
        )
    record = refused.value.record
    assert record is not None
    kept = record.to_dict()
    assert (kept["outcome"], kept["failedGates"], kept["commit"]) == ("refused", ["soak"], "")
    assert (kept["app"], kept["from"], kept["to"], kept["tag"]) == (
        "hello-staging", "dev", "staging", "aaa1111",
    )  # fmt: skip
    assert kept["message"] == str(refused.value)

    done = await promote(pipeline, "staging", states(repo), user="bob", approved=False, now=NOW)
    assert done.to_dict()["outcome"] == "promoted" and done.to_dict()["app"] == "hello-staging"
    assert done.to_dict()["failedGates"] == []
