"""Kustomize apps through the real ``kubectl kustomize``, with Argo CD's parameters."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from render_support import TreeWriter, names
from ruamel.yaml.comments import CommentedMap

from conveyor.render import KustomizeOptions, RenderError, RenderRequest, render_kustomize
from conveyor.render.kustomize_edits import apply_edits, parse_image

BASE = {
    "base/kustomization.yaml": """
        resources:
        - deployment.yaml
        - service.yaml
        images:
        - name: nginx
          newTag: "1.25"
        commonLabels:
          app: web
    """,
    "base/deployment.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            spec:
              containers:
              - name: web
                image: nginx
              - name: sidecar
                image: busybox:1.36
    """,
    "base/service.yaml": """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          ports:
          - port: 80
    """,
    "overlays/dev/kustomization.yaml": """
        # the dev overlay
        resources:
        - ../../base
        namePrefix: dev-
        images:
        - name: busybox
          newName: registry.local/busybox
    """,
    "overlays/dev/README.md": "not read by kustomize",
}


def request(root: Path, path: str = "overlays/dev", **options: Any) -> RenderRequest:
    return RenderRequest(root=root, path=path, kustomize=KustomizeOptions(**options))


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [obj] = [o for o in objects if o["kind"] == kind]
    return obj


def images(objects: list[dict[str, Any]]) -> list[str]:
    deployment = by_kind(objects, "Deployment")
    return [c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]]


@pytest.mark.processes
async def test_overlay_builds_on_a_parent_base(tree: TreeWriter) -> None:
    objects = await render_kustomize(request(tree(BASE)))
    assert sorted(names(objects)) == ["dev-web", "dev-web"]
    assert images(objects) == ["nginx:1.25", "registry.local/busybox:1.36"]
    assert by_kind(objects, "Service")["metadata"]["labels"] == {"app": "web"}


@pytest.mark.processes
async def test_parameters_are_applied_as_argo_cd_applies_them(tree: TreeWriter) -> None:
    root = tree(BASE)
    objects = await render_kustomize(
        request(
            root,
            images=("nginx=registry.local/nginx:2.0", "busybox:1.37"),
            name_prefix="qa-",
            name_suffix="-v2",
            common_labels={"team": "payments"},
        )
    )
    assert names(objects) == ["qa-web-v2", "qa-web-v2"]  # namePrefix replaces the overlay's
    # 'busybox:1.37' replaces the overlay's busybox entry, newName included (kustomize edit).
    assert images(objects) == ["registry.local/nginx:2.0", "busybox:1.37"]
    service = by_kind(objects, "Service")
    assert service["metadata"]["labels"] == {"app": "web", "team": "payments"}
    deployment = by_kind(objects, "Deployment")
    assert deployment["spec"]["selector"]["matchLabels"] == {"app": "web", "team": "payments"}


@pytest.mark.processes
async def test_namespace_annotations_replicas_and_labels_without_selector(
    tree: TreeWriter,
) -> None:
    objects = await render_kustomize(
        request(
            tree(BASE),
            namespace="qa",
            common_annotations={"owner": "payments"},
            common_labels={"tier": "web"},
            label_without_selector=True,
            replicas=(("web", 4),),
        )
    )
    deployment = by_kind(objects, "Deployment")
    assert deployment["metadata"]["namespace"] == "qa"
    assert deployment["metadata"]["annotations"] == {"owner": "payments"}
    assert deployment["metadata"]["labels"] == {"app": "web", "tier": "web"}
    assert "tier" not in deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["replicas"] == 4


@pytest.mark.processes
async def test_parameters_never_touch_the_users_tree(tree: TreeWriter) -> None:
    root = tree(BASE)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    await render_kustomize(request(root, name_prefix="qa-", namespace="qa"))
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


@pytest.mark.processes
async def test_label_set_by_the_kustomization_needs_force(tree: TreeWriter) -> None:
    root = tree(BASE)
    labels = {"app": "other"}
    with pytest.raises(RenderError, match="forceCommonLabels") as caught:
        await render_kustomize(request(root, path="base", common_labels=labels))
    assert caught.value.file == "kustomization.yaml"
    objects = await render_kustomize(
        request(root, path="base", common_labels=labels, force_common_labels=True)
    )
    assert by_kind(objects, "Service")["metadata"]["labels"] == {"app": "other"}


async def test_kustomization_syntax_error_names_file_and_line(tree: TreeWriter) -> None:
    root = tree(BASE | {"overlays/dev/kustomization.yaml": "resources:\n- ../../base\n  oops: [\n"})
    with pytest.raises(RenderError, match="YAML syntax error") as caught:
        await render_kustomize(request(root))
    assert (caught.value.file, caught.value.line) == ("kustomization.yaml", 3)


@pytest.mark.processes
async def test_broken_base_is_reported_relative_to_the_app(tree: TreeWriter) -> None:
    root = tree(BASE | {"base/kustomization.yaml": "resources:\n- deployment.yaml\n- gone.yaml\n"})
    with pytest.raises(RenderError, match=r"gone\.yaml") as caught:
        await render_kustomize(request(root))
    assert caught.value.file == "../../base/kustomization.yaml"
    assert str(root) not in str(caught.value)


@pytest.mark.processes
async def test_broken_resource_yaml_names_the_file_and_line(tree: TreeWriter) -> None:
    root = tree(
        BASE
        | {"base/service.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n bad: 1\n"}
    )
    with pytest.raises(RenderError) as caught:
        await render_kustomize(request(root))
    assert (caught.value.file, caught.value.line) == ("../../base/service.yaml", 5)


async def test_reference_outside_the_repository_is_refused(
    tree: TreeWriter, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources: []\n")
    root = tree(
        BASE | {"overlays/dev/kustomization.yaml": "resources:\n- ../../base\n- ../../../outside\n"}
    )
    with pytest.raises(RenderError, match="points outside the repository") as caught:
        await render_kustomize(request(root))
    assert (caught.value.file, caught.value.line) == ("kustomization.yaml", 3)


async def test_symlinked_base_outside_the_repository_is_refused(
    tree: TreeWriter, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources: []\n")
    root = tree(BASE | {"overlays/dev/kustomization.yaml": "resources:\n- linked\n"})
    os.symlink(outside, root / "overlays" / "dev" / "linked")
    with pytest.raises(RenderError, match="'linked' points outside"):
        await render_kustomize(request(root))


async def test_missing_kustomization_is_a_clear_error(tree: TreeWriter) -> None:
    root = tree({"app/cm.yaml": "kind: ConfigMap"})
    with pytest.raises(RenderError, match=r"no kustomization.yaml, kustomization.yml or Kust"):
        await render_kustomize(request(root, path="app"))


@pytest.mark.parametrize(
    ("argument", "entry"),
    [
        ("nginx:1.27", {"name": "nginx", "newTag": "1.27"}),
        ("nginx@sha256:abc", {"name": "nginx", "digest": "sha256:abc"}),
        ("nginx=registry.local/nginx", {"name": "nginx", "newName": "registry.local/nginx"}),
        ("nginx=r.local/nginx:2", {"name": "nginx", "newName": "r.local/nginx", "newTag": "2"}),
        ("nginx=r.local/nginx@sha256:f",
         {"name": "nginx", "newName": "r.local/nginx", "digest": "sha256:f"}),
        ("localhost:5000/app:1.0", {"name": "localhost:5000/app", "newTag": "1.0"}),
    ],
    ids=["tag", "digest", "new-name", "new-name-tag", "new-name-digest", "registry-port"],
)  # fmt: skip
def test_image_arguments_parse_as_kustomize_edit_set_image(
    argument: str, entry: dict[str, str]
) -> None:
    assert parse_image(argument) == entry


def test_image_argument_without_tag_or_new_name_is_refused() -> None:
    with pytest.raises(RenderError, match="is not valid: use one of"):
        parse_image("nginx")


def test_image_edit_replaces_by_name_keeps_others_and_honours_star() -> None:
    kustomization = CommentedMap(
        images=[
            {"name": "zeta", "newTag": "1"},
            {"name": "nginx", "newName": "mirror/nginx", "newTag": "1.0"},
        ]
    )
    apply_edits(
        kustomization,
        KustomizeOptions(images=("nginx=*:2.0", "alpha:3")),
        file="kustomization.yaml",
    )
    assert kustomization["images"] == [
        {"name": "alpha", "newTag": "3"},
        {"name": "nginx", "newName": "mirror/nginx", "newTag": "2.0"},
        {"name": "zeta", "newTag": "1"},
    ]


# -- remote bases: the project's sourceRepos, and never Conveyor's own mirrors -----------------


def _git_repo(path: Path, files: dict[str, str]) -> Path:
    import subprocess
    from textwrap import dedent

    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    who = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env = {**os.environ, **who, "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "c"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True)
    return path


OTHER_TEAM = {
    "app/kustomization.yaml": "resources: [cm.yaml]\n",
    "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other-team-secret}\n",
}


@pytest.mark.processes
async def test_a_remote_base_outside_the_projects_repos_is_refused(
    tree: TreeWriter, tmp_path: Path
) -> None:
    other = _git_repo(tmp_path / "other-team", OTHER_TEAM)
    root = tree({"app/kustomization.yaml": f"resources:\n- file://{other}//app\n"})
    allowed = (f"file://{root}", "https://github.com/company/*")
    request = RenderRequest(root=root, path="app", source_repos=allowed, project="team-a")
    with pytest.raises(RenderError) as err:
        await render_kustomize(request)
    assert "is not permitted in project 'team-a'" in str(err.value)
    assert err.value.file == "kustomization.yaml"
    assert err.value.line == 2


@pytest.mark.parametrize(
    "entry",
    [
        "https://github.com/evil/repo//base?ref=v1",
        "git::https://github.com/evil/repo//base",
        "github.com/evil/repo/base?ref=main",
        "git@github.com:evil/repo.git//base",
        "ssh://git@github.com/evil/repo//base",
    ],
)
async def test_remote_base_spellings_are_checked(tree: TreeWriter, entry: str) -> None:
    root = tree({"app/kustomization.yaml": f"resources:\n- {entry}\n"})
    request = RenderRequest(
        root=root, path="app", source_repos=("!**/evil/*", "*"), project="team-a"
    )
    with pytest.raises(RenderError, match="denied by"):
        await render_kustomize(request)


@pytest.mark.processes
async def test_a_base_in_conveyors_mirror_cache_is_refused(
    tree: TreeWriter, tmp_path: Path
) -> None:
    mirrors = tmp_path / "home" / "repos"
    other = _git_repo(mirrors / "other-team-0123456789abcdef", OTHER_TEAM)
    root = tree({"app/kustomization.yaml": f"resources:\n- file://{other}//app\n"})
    request = RenderRequest(
        root=root, path="app", source_repos=("*",), private_dirs=(str(mirrors),)
    )
    with pytest.raises(RenderError, match="Conveyor's own"):
        await render_kustomize(request)


@pytest.mark.processes
async def test_a_permitted_remote_base_still_renders(tree: TreeWriter, tmp_path: Path) -> None:
    other = _git_repo(tmp_path / "shared", OTHER_TEAM)
    root = tree({"app/kustomization.yaml": f"resources:\n- file://{other}//app\n"})
    request = RenderRequest(root=root, path="app", source_repos=(f"{tmp_path}/*",))
    assert names(await render_kustomize(request)) == ["other-team-secret"]
