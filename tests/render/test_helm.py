"""Helm charts: the real helm when it is on PATH; a stand-in binary checks the arguments."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from textwrap import dedent

import pytest
from render_support import TreeWriter, names

from conveyor.render import (
    HelmOptions,
    HelmParameter,
    RenderError,
    RenderRequest,
    render_helm,
)

CHART = {
    "chart/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "chart/values.yaml": "replicas: 1\nimage: nginx\n",
    "chart/values-prod.yaml": "replicas: 3\n",
    "chart/templates/deployment.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-web
          namespace: {{ .Release.Namespace }}
        spec:
          replicas: {{ .Values.replicas }}
          template:
            spec:
              containers:
              - name: web
                image: {{ .Values.image }}
    """,
}


def fake_helm(tmp_path: Path, stdout: str, *, exit_code: int = 0, stderr: str = "") -> Path:
    """A stand-in ``helm`` that records its arguments next to itself and prints ``stdout``."""
    script = tmp_path / "bin" / "helm"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        dedent(
            f"""\
            #!{sys.executable}
            import json, sys
            json.dump(sys.argv[1:], open({str(script) + ".args"!r}, "w"))
            sys.stdout.write({stdout!r})
            sys.stderr.write({stderr!r})
            sys.exit({exit_code})
            """
        )
    )
    script.chmod(0o755)
    return script


def recorded_args(helm: Path) -> list[str]:
    return list(json.loads(Path(str(helm) + ".args").read_text()))


async def test_missing_helm_is_a_clear_error_that_is_not_cached(
    tree: TreeWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    root = tree(CHART)
    with pytest.raises(RenderError, match=r"helm is not installed: .* on the PATH") as caught:
        await render_helm(RenderRequest(root=root, path="chart"))
    assert caught.value.cacheable is False


async def test_arguments_follow_argo_cd(tree: TreeWriter, tmp_path: Path) -> None:
    root = tree(CHART)
    helm = fake_helm(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    options = HelmOptions(
        value_files=("values-prod.yaml", "/chart/values.yaml"),
        values="image: custom\n",
        parameters=(
            HelmParameter("replicas", "5"),
            HelmParameter("annotations.list", "a,b", force_string=True),
        ),
    )
    request = RenderRequest(
        root=root, path="chart", helm=options, app_name="shop", namespace="prod"
    )
    assert names(await render_helm(request, helm=str(helm))) == ["x"]
    args = recorded_args(helm)
    chart = str(root.resolve() / "chart")
    assert args[:7] == [
        "template",
        "shop",
        chart,
        "--namespace",
        "prod",
        "--include-crds",
        "--values",
    ]
    assert args[7] == f"{chart}/values-prod.yaml"
    assert args[8:10] == ["--values", f"{chart}/values.yaml"]
    assert args[10] == "--values" and args[11].endswith("values.yaml")  # the inline values
    assert args[12:] == ["--set", "replicas=5", "--set-string", "annotations.list=a\\,b"]


@pytest.mark.parametrize(
    "release", ["--post-renderer=./x", "Upper", "a" * 54], ids=["flag", "upper", "long"]
)
async def test_release_name_is_validated(tree: TreeWriter, tmp_path: Path, release: str) -> None:
    root = tree(CHART)
    helm = fake_helm(tmp_path, "")
    request = RenderRequest(root=root, path="chart", helm=HelmOptions(release_name=release))
    with pytest.raises(RenderError, match="is not a valid Helm release name"):
        await render_helm(request, helm=str(helm))


@pytest.mark.parametrize(
    ("value_file", "message"),
    [
        ("../../etc/passwd", "is outside the repository"),
        ("https://example.com/values.yaml", "is a URL"),
        ("missing.yaml", "does not exist at this revision"),
    ],
    ids=["outside", "remote", "missing"],
)
async def test_value_files_stay_in_the_repository(
    tree: TreeWriter, tmp_path: Path, value_file: str, message: str
) -> None:
    root = tree(CHART)
    helm = fake_helm(tmp_path, "")
    request = RenderRequest(root=root, path="chart", helm=HelmOptions(value_files=(value_file,)))
    with pytest.raises(RenderError, match=message):
        await render_helm(request, helm=str(helm))


async def test_missing_value_file_may_be_ignored(tree: TreeWriter, tmp_path: Path) -> None:
    root = tree(CHART)
    helm = fake_helm(tmp_path, "")
    options = HelmOptions(value_files=("missing.yaml",), ignore_missing_value_files=True)
    await render_helm(RenderRequest(root=root, path="chart", helm=options), helm=str(helm))
    assert "--values" not in recorded_args(helm)


async def test_helm_failure_names_the_template_and_line(tree: TreeWriter, tmp_path: Path) -> None:
    root = tree(CHART)
    stderr = (
        'Error: parse error at (web/templates/deployment.yaml:7): function "nope" not defined\n'
    )
    helm = fake_helm(tmp_path, "", exit_code=1, stderr=stderr)
    with pytest.raises(RenderError, match='function "nope" not defined') as caught:
        await render_helm(RenderRequest(root=root, path="chart"), helm=str(helm))
    assert (caught.value.file, caught.value.line) == ("templates/deployment.yaml", 7)


@pytest.mark.skipif(
    shutil.which("helm") is None, reason="helm is not on PATH: real chart rendering not tested"
)
async def test_real_helm_renders_a_chart(tree: TreeWriter) -> None:
    root = tree(CHART)
    options = HelmOptions(
        value_files=("values-prod.yaml",), parameters=(HelmParameter("image", "busybox"),)
    )
    request = RenderRequest(
        root=root, path="chart", helm=options, app_name="shop", namespace="prod"
    )
    [deployment] = await render_helm(request)
    assert deployment["metadata"] == {"name": "shop-web", "namespace": "prod"}
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
