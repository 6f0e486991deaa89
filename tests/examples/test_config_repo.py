"""The demo's config repo: the overlays render with the real kustomize, the Applications load clean.

This is the config repo ``conveyor demo`` copies; if it stops rendering or an Application picks
up a warning, the demo breaks before it shows anything, so it is checked like code.
"""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.cli.demo_setup import demo_sources
from conveyor.model.application import Application
from conveyor.model.loading import load_documents
from conveyor.render import KustomizeOptions, Renderer, RenderRequest, SourceType

CONFIG_REPO = demo_sources() / "config-repo"
PLACEHOLDER_TAG = "REPLACE_WITH_GIT_SHA"
PLACEHOLDER_REPO = "file:///REPLACED/BY/DEMO"
ENVS = {
    # env: (replicas, LOG_LEVEL, memory limit, automated sync)
    "dev": (1, "debug", "256Mi", True),
    "staging": (2, "info", "384Mi", False),
    "prod": (3, "error", "512Mi", False),
}


async def render(path: str, options: KustomizeOptions | None = None) -> list[dict[str, Any]]:
    request = RenderRequest(
        root=CONFIG_REPO,
        path=path,
        source_type=SourceType.KUSTOMIZE,
        kustomize=options or KustomizeOptions(),
    )
    return (await Renderer().render(request)).manifests


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = [obj["kind"] for obj in objects]
    assert len(kinds) == len(set(kinds)), kinds
    return {obj["kind"]: obj for obj in objects}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


PROD_KINDS = {
    ("ConfigMap", "demo-app-config"),
    ("Service", "demo-app"),
    ("Service", "demo-app-canary"),
    ("AnalysisTemplate", "success-rate"),
    ("AnalysisTemplate", "success-rate-builtin"),
    ("Rollout", "demo-app"),
}


def by_kind_and_name(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Prod's objects by kind, the one named demo-app where a kind has several."""
    named = {}
    for obj in objects:
        name = obj["metadata"]["name"]
        if obj["kind"] == "ConfigMap":
            name = name.rsplit("-", 1)[0]
        named[(obj["kind"], name)] = obj
    assert set(named) == PROD_KINDS
    return {
        kind: obj for (kind, name), obj in named.items() if name in ("demo-app", "demo-app-config")
    }


def rendered_by_kind(env: str, objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Dev and staging run a Deployment; prod a Rollout (stored under "Deployment" here)."""
    if env != "prod":
        return by_kind(objects)
    found = by_kind_and_name(objects)
    found["Deployment"] = found.pop("Rollout")
    return found


@pytest.mark.parametrize("env", list(ENVS))
async def test_each_overlay_renders_with_its_namespace_replicas_image_and_settings(
    env: str,
) -> None:
    replicas, log_level, memory, _ = ENVS[env]
    rendered = await render(f"overlays/{env}")
    objects = rendered_by_kind(env, rendered)
    assert set(objects) == {"ConfigMap", "Deployment", "Service"}
    assert {obj["metadata"]["namespace"] for obj in rendered} == {f"demo-{env}"}

    deployment, config = objects["Deployment"], objects["ConfigMap"]
    assert deployment["metadata"]["name"] == "demo-app"
    assert deployment["spec"]["replicas"] == replicas
    main = container(deployment)
    assert main["image"] == f"demo-app:{PLACEHOLDER_TAG}"
    assert "command" not in main  # the artifact's Procfile (the image's CMD) starts it
    assert main["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert main["resources"]["limits"]["memory"] == memory

    # The generated ConfigMap's hashed name is what the Pods read their settings from.
    assert config["metadata"]["name"].startswith("demo-app-config-")
    assert main["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    assert config["data"]["ENVIRONMENT"] == env
    assert config["data"]["LOG_LEVEL"] == log_level
    assert float(config["data"]["ERROR_RATE"]) == 0.0

    service = objects["Service"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"


async def test_the_environments_differ_in_resources_and_settings() -> None:
    rendered = {env: rendered_by_kind(env, await render(f"overlays/{env}")) for env in ENVS}
    resources = [container(r["Deployment"])["resources"] for r in rendered.values()]
    settings = [r["ConfigMap"]["data"] for r in rendered.values()]
    assert all(a != b for i, a in enumerate(resources) for b in resources[i + 1 :])
    assert all(a != b for i, a in enumerate(settings) for b in settings[i + 1 :])


async def test_setting_the_image_tag_as_ci_does_reaches_the_deployment() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    objects = by_kind(await render("overlays/dev", KustomizeOptions(images=(f"demo-app:{sha}",))))
    assert container(objects["Deployment"])["image"] == f"demo-app:{sha}"


def load_apps() -> dict[str, tuple[Application, tuple[str, ...]]]:
    apps: dict[str, tuple[Application, tuple[str, ...]]] = {}
    for file in sorted((CONFIG_REPO / "apps").glob("*.yaml")):
        for doc in load_documents(file.read_text(encoding="utf-8"), file.name):
            assert doc.ok, doc.error
            assert isinstance(doc.object, Application), file
            apps[doc.object.metadata.name] = (doc.object, doc.warnings)
    return apps


def test_the_three_applications_load_without_errors_or_warnings() -> None:
    apps = load_apps()
    assert set(apps) == {f"demo-{env}" for env in ENVS}
    for env, (_, _, _, automated) in ENVS.items():
        app, warnings = apps[f"demo-{env}"]
        assert warnings == ()
        spec = app.spec
        assert spec.project == "default"
        assert spec.source is not None
        assert spec.source.repo_url == PLACEHOLDER_REPO
        assert spec.source.path == f"overlays/{env}"
        assert spec.destination.server == "https://kubernetes.default.svc"
        assert spec.destination.namespace == f"demo-{env}"
        policy = spec.sync_policy
        assert policy is not None
        assert "CreateNamespace=true" in (policy.sync_options or [])
        if automated:
            assert policy.automated is not None
            assert (policy.automated.prune, policy.automated.self_heal) == (True, True)
        else:
            assert policy.automated is None


async def test_each_application_renders_from_its_own_source() -> None:
    for name, (app, _) in load_apps().items():
        assert app.spec.source is not None
        request = RenderRequest.from_source(
            CONFIG_REPO, app.spec.source, app_name=name, namespace=app.spec.destination.namespace
        )
        manifests = (await Renderer().render(request)).manifests
        assert {m["metadata"]["namespace"] for m in manifests} == {app.spec.destination.namespace}


async def test_prod_runs_the_seeds_canary_with_shortened_pauses_and_background_analysis() -> None:
    objects = await render("overlays/prod", KustomizeOptions(images=("demo-app:abc123",)))
    assert not [o for o in objects if o["kind"] == "Deployment"]
    rollout = next(o for o in objects if o["kind"] == "Rollout")
    assert container(rollout)["image"] == "demo-app:abc123"
    canary = rollout["spec"]["strategy"]["canary"]
    weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
    assert weights == [10, 25, 50, 75]  # the seeds' steps
    pauses = [s["pause"]["duration"] for s in canary["steps"] if "pause" in s]
    assert pauses == ["10s"] * 4  # 2m/5m/10m/10m in the seeds: a release takes about a minute
    assert (canary["stableService"], canary["canaryService"]) == ("demo-app", "demo-app-canary")
    templates = {o["metadata"]["name"]: o for o in objects if o["kind"] == "AnalysisTemplate"}
    assert canary["analysis"]["templates"][0]["templateName"] in templates
    prom, builtin = (
        templates[n]["spec"]["metrics"][0] for n in ("success-rate", "success-rate-builtin")
    )
    for metric in (prom, builtin):
        assert metric["successCondition"] == "result[0] >= 0.95"
        assert metric["failureLimit"] == 3
    assert builtin["provider"]["plugin"]["conveyor/builtin"]["measure"] == "successRate"
    assert "http_requests_total" in prom["provider"]["prometheus"]["query"]
