"""The demo config repo's Kustomize configuration for Argo Rollouts' kinds, through the real
``kubectl kustomize``: with the demo's base turned into a Rollout, an image edit, replicas, a
generated ConfigMap's hashed name and a Service name reach the Rollout as they would reach a
Deployment; without the configuration Kustomize refuses the overlay."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.cli.demo_setup import demo_sources
from conveyor.errors import ConveyorError
from conveyor.render import KustomizeOptions, RenderRequest, render_kustomize

OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: demo-prod
namePrefix: prod-
resources:
  - ../../base
replicas:
  - name: demo-app
    count: 3
configMapGenerator:
  - name: demo-app-config
    behavior: merge
    literals:
      - ERROR_RATE=0.3
"""


def _as_rollout(deployment: dict[str, Any]) -> dict[str, Any]:
    spec = {k: v for k, v in deployment["spec"].items() if k != "strategy"}
    spec["strategy"] = {
        "canary": {
            "canaryService": "demo-app",
            "stableService": "demo-app",
            "steps": [{"setWeight": 20}, {"pause": {"duration": "10s"}}],
        }
    }
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": deployment["metadata"], "spec": spec}  # fmt: skip


@pytest.fixture
def config_repo(tmp_path: Path) -> Path:
    """The demo's shipped base (its kustomizeconfig included), the Deployment a Rollout."""
    root = tmp_path / "config-repo"
    shutil.copytree(demo_sources() / "config-repo" / "base", root / "base")
    workload = root / "base" / "deployment.yaml"
    workload.write_text(yaml.safe_dump(_as_rollout(yaml.safe_load(workload.read_text()))))
    (root / "overlays" / "canary").mkdir(parents=True)
    (root / "overlays" / "canary" / "kustomization.yaml").write_text(OVERLAY)
    return root


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


async def test_image_replicas_and_generated_names_reach_a_rollout(config_repo: Path) -> None:
    request = RenderRequest(
        root=config_repo,
        path="overlays/canary",
        kustomize=KustomizeOptions(images=("demo-app=demo-app:0123abc",)),
    )
    objects = await render_kustomize(request)
    rollout, config = _one(objects, "Rollout"), _one(objects, "ConfigMap")
    assert config["metadata"]["name"].startswith("prod-demo-app-config-")
    assert config["data"]["ERROR_RATE"] == "0.3"
    [container] = rollout["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "demo-app:0123abc"
    assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    assert rollout["spec"]["replicas"] == 3
    canary = rollout["spec"]["strategy"]["canary"]
    service = _one(objects, "Service")["metadata"]["name"]
    assert (canary["canaryService"], canary["stableService"]) == (service, service)
    assert service == "prod-demo-app"


async def test_without_the_configuration_kustomize_refuses(config_repo: Path) -> None:
    base = config_repo / "base" / "kustomization.yaml"
    base.write_text(base.read_text().replace("  - rollout-kustomizeconfig.yaml\n", ""))
    base.write_text(base.read_text().replace("configurations:\n", ""))
    with pytest.raises(ConveyorError, match="does not match a config"):
        await render_kustomize(RenderRequest(root=config_repo, path="overlays/canary"))
