"""Bad input is refused with a clear error and changes nothing: URLs, revisions, paths,
missing fields, and what an AppProject does not allow."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import ConfigRepo, application, configmap

from conveyor.bootstrap import engine, local_target
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.errors import PermanentError
from conveyor.settings import Settings


@pytest.fixture
async def controller(tmp_path: Path) -> AsyncIterator[Controller]:
    settings = Settings.from_env(home=tmp_path / "home")
    async with (
        local_target(settings) as target,
        engine(settings, target, options=ControllerOptions(poll_interval=1.0)) as ctl,
    ):
        yield ctl


@pytest.fixture
def repo(tmp_path: Path) -> ConfigRepo:
    repo = ConfigRepo(tmp_path / "config")
    repo.write("app/cm.yaml", configmap("settings", {"k": "1"}))
    repo.commit()
    return repo


def with_source(manifest: dict[str, Any], **source: str) -> dict[str, Any]:
    out = copy.deepcopy(manifest)
    out["spec"]["source"].update(source)
    return out


async def refused(controller: Controller, manifest: dict[str, Any]) -> str:
    """Apply ``manifest``, expect a permanent error, check that nothing was registered."""
    before = controller.names()
    with pytest.raises(PermanentError) as info:
        await controller.apply_application(manifest)
    assert controller.names() == before
    assert await controller.repo.list_apps() == []
    return str(info.value)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("repoURL", "-oProxyCommand=touch /tmp/pwned", "repoURL"),
        ("repoURL", "ext::sh -c touch% /tmp/pwned", "ext::"),
        ("repoURL", "fd::17", "fd::"),
        ("targetRevision", "--upload-pack=touch /tmp/pwned", "revision"),
        ("path", "../outside", ".."),
        ("path", "/etc", "leaves the repository"),
    ],
)
async def test_unsafe_source_fields_are_refused(
    controller: Controller, repo: ConfigRepo, field: str, value: str, expected: str
) -> None:
    message = await refused(
        controller, with_source(application("app", repo, "app"), **{field: value})
    )
    assert expected.lower() in message.lower()
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        (("spec", "source"), "spec.source"),
        (("spec", "source", "repoURL"), "spec.source.repoURL"),
        (("spec", "destination"), "spec.destination"),
        (("spec", "destination", "namespace"), "spec.destination.namespace"),
        (("metadata", "name"), "metadata.name"),
    ],
)
async def test_missing_required_fields_are_named(
    controller: Controller, repo: ConfigRepo, remove: tuple[str, ...], named: str
) -> None:
    manifest = application("app", repo, "app")
    parent = manifest
    for part in remove[:-1]:
        parent = parent[part]
    del parent[remove[-1]]
    assert named in await refused(controller, manifest)


def project(name: str, repos: list[str], namespace: str = "team-*") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name},
        "spec": {
            "sourceRepos": repos,
            "destinations": [{"server": "https://kubernetes.default.svc", "namespace": namespace}],
        },
    }


async def test_a_repo_the_project_does_not_allow_is_refused(
    controller: Controller, repo: ConfigRepo
) -> None:
    await controller.apply_project(project("team", ["https://github.com/team/*"]))
    manifest = application("app", repo, "app", project="team", namespace="team-a")
    message = await refused(controller, manifest)
    assert "spec.sourceRepos" in message


async def test_a_destination_the_project_does_not_allow_is_refused(
    controller: Controller, repo: ConfigRepo
) -> None:
    await controller.apply_project(project("team", [repo.url]))
    manifest = application("app", repo, "app", project="team", namespace="kube-system")
    message = await refused(controller, manifest)
    assert "kube-system" in message and "destinations" in message


async def test_an_unknown_project_is_refused(controller: Controller, repo: ConfigRepo) -> None:
    message = await refused(controller, application("app", repo, "app", project="nope"))
    assert "nope" in message


async def test_unknown_fields_are_kept_and_warned(controller: Controller, repo: ConfigRepo) -> None:
    manifest = application("app", repo, "app")
    manifest["spec"]["source"]["repo_url"] = "typo"
    result = await controller.apply_application(manifest)
    assert any("repo_url" in w for w in result["warnings"])
    assert controller.application("app")["spec"]["source"]["repo_url"] == "typo"


async def test_a_symlink_leaving_the_repo_is_a_comparison_error(
    controller: Controller, repo: ConfigRepo
) -> None:
    (repo.path / "app" / "passwd.yaml").symlink_to("/etc/passwd")
    repo.commit("sneaky")
    await controller.apply_application(application("app", repo, "app"))
    for _ in range(100):
        await controller.wait_reconciled("app", timeout=0.5)
        app = controller.application("app")
        conditions = app["status"].get("conditions", [])
        if any(c["type"] == "ComparisonError" for c in conditions):
            break
    messages = [c["message"] for c in conditions if c["type"] == "ComparisonError"]
    assert messages, app["status"].get("conditions")
    message = messages[0]
    assert "passwd.yaml" in message and "outside" in message
    assert app["status"]["sync"]["status"] == "Unknown"
