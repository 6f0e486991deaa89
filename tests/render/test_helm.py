"""Helm charts, rendered by the real helm (`make test` installs it into the venv).

Without helm on PATH the rendering tests skip with that reason, except in CI, where they fail.
The checks that refuse a request before helm runs need no helm at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from render_support import TreeWriter, names

from conveyor.render import (
    HelmFileParameter,
    HelmOptions,
    HelmParameter,
    RenderError,
    RenderRequest,
    render_helm,
)
from support.helm import needs_helm

NOT_RUN = "/nonexistent/helm"
"""For requests refused before helm starts: running it would fail the test."""

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 1\nimage: nginx\n",
    "chart/values-prod.yaml": "replicas: 3\ntier: prod\n",
    "chart/crds/widget.yaml": """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
""",
    "chart/templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
  annotations:
    tier: {{ .Values.tier | default "none" | quote }}
    list: {{ .Values.list | default "" | quote }}
    config: {{ .Values.config | default "" | quote }}
    ports: {{ .Values.ports | default list | toJson | quote }}
spec:
  replicas: {{ .Values.replicas }}
  template:
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
""",
}


def deployment_of(objects: list[dict[str, Any]]) -> dict[str, Any]:
    [deployment] = [o for o in objects if o["kind"] == "Deployment"]
    return deployment


async def test_missing_helm_is_a_clear_error_that_is_not_cached(
    tree: TreeWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    root = tree(CHART)
    with pytest.raises(RenderError, match=r"helm is not installed: .* on the PATH") as caught:
        await render_helm(RenderRequest(root=root, path="chart"))
    assert caught.value.cacheable is False


@needs_helm
@pytest.mark.processes
async def test_real_helm_renders_a_chart_as_argo_cd_would(tree: TreeWriter) -> None:
    """Release name from the app, namespace from the destination, CRDs included, and values in
    Argo CD's order: value files (later wins), then inline values, then parameters."""
    root = tree(CHART)
    options = HelmOptions(
        value_files=("values-prod.yaml", "/chart/values.yaml"),
        values="image: custom\n",
        parameters=(
            HelmParameter("replicas", "5"),
            HelmParameter("list", "a,b", force_string=True),
            HelmParameter("ports", "{80,443}"),
        ),
    )
    request = RenderRequest(
        root=root, path="chart", helm=options, app_name="shop", namespace="prod"
    )
    objects = await render_helm(request)
    assert sorted(names(objects)) == ["shop-web", "widgets.example.com"]
    deployment = deployment_of(objects)
    assert deployment["metadata"]["namespace"] == "prod"
    assert deployment["metadata"]["annotations"] == {
        "tier": "prod",  # only values-prod.yaml sets it; values.yaml, later, does not
        "list": "a,b",  # the comma is escaped, so helm keeps one string
        "config": "",
        "ports": "[80,443]",  # a {a,b} value stays a list
    }
    assert deployment["spec"]["replicas"] == 5
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "custom"


@needs_helm
@pytest.mark.processes
async def test_release_name_namespace_and_skip_crds_options(tree: TreeWriter) -> None:
    root = tree(CHART)
    options = HelmOptions(release_name="web-v2", namespace="override", skip_crds=True)
    request = RenderRequest(
        root=root, path="chart", helm=options, app_name="shop", namespace="prod"
    )
    objects = await render_helm(request)
    assert names(objects) == ["web-v2-web"]
    assert objects[0]["metadata"]["namespace"] == "override"
    assert objects[0]["spec"]["replicas"] == 1  # the chart's own values.yaml


@needs_helm
@pytest.mark.processes
async def test_file_parameters_are_read_from_the_repository(tree: TreeWriter) -> None:
    root = tree({**CHART, "chart/files/app.conf": "level=debug\n"})
    options = HelmOptions(file_parameters=(HelmFileParameter("config", "files/app.conf"),))
    objects = await render_helm(RenderRequest(root=root, path="chart", helm=options))
    assert deployment_of(objects)["metadata"]["annotations"]["config"] == "level=debug\n"


@pytest.mark.parametrize(
    "release", ["--post-renderer=./x", "Upper", "a" * 54], ids=["flag", "upper", "long"]
)
async def test_release_name_is_validated(tree: TreeWriter, release: str) -> None:
    root = tree(CHART)
    request = RenderRequest(root=root, path="chart", helm=HelmOptions(release_name=release))
    with pytest.raises(RenderError, match="is not a valid Helm release name"):
        await render_helm(request, helm=NOT_RUN)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (HelmOptions(value_files=("../../etc/passwd",)), "is outside the repository"),
        (HelmOptions(value_files=("https://example.com/v.yaml",)), "is a URL"),
        (HelmOptions(value_files=("missing.yaml",)), "does not exist at this revision"),
        (
            HelmOptions(file_parameters=(HelmFileParameter("x", "../../../etc/hostname"),)),
            "is outside the repository",
        ),
    ],
    ids=["outside", "remote", "missing", "file-parameter-outside"],
)
async def test_files_handed_to_helm_stay_in_the_repository(
    tree: TreeWriter, options: HelmOptions, message: str
) -> None:
    root = tree(CHART)
    request = RenderRequest(root=root, path="chart", helm=options)
    with pytest.raises(RenderError, match=message):
        await render_helm(request, helm=NOT_RUN)


@needs_helm
@pytest.mark.processes
async def test_missing_value_file_may_be_ignored(tree: TreeWriter) -> None:
    root = tree(CHART)
    options = HelmOptions(value_files=("missing.yaml",), ignore_missing_value_files=True)
    objects = await render_helm(RenderRequest(root=root, path="chart", helm=options))
    assert deployment_of(objects)["spec"]["replicas"] == 1


@needs_helm
@pytest.mark.processes
async def test_template_error_names_the_template_and_line(tree: TreeWriter) -> None:
    broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ nope }}\n"
    root = tree({**CHART, "chart/templates/broken.yaml": broken})
    with pytest.raises(RenderError, match='function "nope" not defined') as caught:
        await render_helm(RenderRequest(root=root, path="chart"))
    assert (caught.value.file, caught.value.line) == ("templates/broken.yaml", 4)
    assert str(root) not in str(caught.value)  # no server paths in the condition


@needs_helm
@pytest.mark.processes
async def test_invalid_yaml_output_names_the_template(tree: TreeWriter) -> None:
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   labels: [\n"
    root = tree({**CHART, "chart/templates/bad.yaml": bad})
    with pytest.raises(RenderError) as caught:
        await render_helm(RenderRequest(root=root, path="chart"))
    assert caught.value.file == "templates/bad.yaml"
    assert "YAML parse error" in str(caught.value)


@pytest.mark.processes
def test_helm_next_to_the_conveyor_executable_is_found_without_path(tmp_path: Path) -> None:
    """A server started as .venv/bin/conveyor (venv not activated) finds the venv's helm."""
    real = shutil.which("helm") or str(Path(sysconfig.get_path("scripts")) / "helm")
    if not Path(real).is_file():
        pytest.skip("no helm installed (make test installs it into the venv)")
    bin_dir, empty = tmp_path / "venv-bin", tmp_path / "empty"
    bin_dir.mkdir()
    empty.mkdir()
    (bin_dir / "helm").symlink_to(real)
    script = bin_dir / "conveyor"
    script.write_text("from conveyor.render.process import helm_binary\nprint(helm_binary())\n")
    env = {**os.environ, "PATH": str(empty)}
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == str(bin_dir / "helm")
