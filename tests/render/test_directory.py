"""Directory apps: which files are read, how they are parsed, and what errors say."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from render_support import TreeWriter, config_map, names

from conveyor.render import DirectoryOptions, RenderError, RenderRequest, render_directory


def render(root: Path, path: str = "app", **options: object) -> list[dict[str, object]]:
    request = RenderRequest(root=root, path=path, directory=DirectoryOptions(**options))  # type: ignore[arg-type]
    return render_directory(request)


def test_top_level_only_unless_recurse(tree: TreeWriter) -> None:
    root = tree(
        {
            "app/a.yaml": config_map("a"),
            "app/sub/b.yaml": config_map("b"),
            "app/sub/deeper/c.yml": config_map("c"),
        }
    )
    assert names(render(root)) == ["a"]
    assert names(render(root, recurse=True)) == ["a", "b", "c"]


def test_files_are_read_in_lexical_walk_order(tree: TreeWriter) -> None:
    root = tree(
        {
            "app/c.yaml": config_map("c"),
            "app/b/x.yaml": config_map("b-x"),
            "app/a.yaml": config_map("a"),
        }
    )
    assert names(render(root, recurse=True)) == ["a", "b-x", "c"]


def test_multi_document_yaml_json_and_list_kinds(tree: TreeWriter) -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}],
    }
    root = tree(
        {
            "app/many.yaml": (
                f"---\n{config_map('one')}---\n# only a comment\n---\n{config_map('two')}"
            ),
            "app/one.json": json.dumps(
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"}}
            ),
            "app/list.json": json.dumps(listing),
            "app/maps.yaml": """
                apiVersion: v1
                kind: ConfigMapList
                items:
                - apiVersion: v1
                  kind: ConfigMap
                  metadata: {name: in-list}
            """,
        }
    )
    assert names(render(root)) == ["s", "one", "two", "in-list", "svc"]  # file by file


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ("", "", ["a", "b", "c", "d"]),
        ("*.yaml", "", ["a", "b", "d"]),  # '*' crosses '/', as in Argo CD
        ("", "sub/*", ["a", "c"]),
        ("{a.yaml,c.json}", "", ["a", "c"]),
        ("", "{a.yaml,sub/*}", ["c"]),
        ("{sub/*,c.*}", "sub/d.yaml", ["b", "c"]),
        ("?.yaml", "", ["a"]),
        ("[ab].yaml", "", ["a"]),
        ("[!a].*", "", ["c"]),
    ],
    ids=["all", "star-crosses-dirs", "exclude-dir", "brace-include", "brace-exclude",
         "exclude-wins", "question", "class", "negated-class"],
)  # fmt: skip
def test_include_and_exclude_globs(
    tree: TreeWriter, include: str, exclude: str, expected: list[str]
) -> None:
    root = tree(
        {
            "app/a.yaml": config_map("a"),
            "app/c.json": json.dumps(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
            ),
            "app/sub/b.yaml": config_map("b"),
            "app/sub/d.yaml": config_map("d"),
        }
    )
    assert sorted(names(render(root, recurse=True, include=include, exclude=exclude))) == expected


def test_files_that_are_not_manifests_are_skipped(tree: TreeWriter) -> None:
    root = tree(
        {
            "app/README.md": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: readme}\n",
            "app/notes.txt": "kind: nonsense",
            "app/deploy.sh": "#!/bin/sh\nkubectl apply -f .\n",
            "app/values.yaml": "replicaCount: 2\nimage: {tag: latest}\n",
            "app/list.yaml": "- just\n- a list\n",
            "app/template.yaml": "name: {{ .Values.name }}\n  broken: [\n",
            "app/config.json": '{"compilerOptions": {}}',
            "app/package.json": "{not json",
            "app/real.yaml": config_map("real"),
        }
    )
    assert names(render(root)) == ["real"]


def test_yaml_syntax_error_names_file_and_line(tree: TreeWriter) -> None:
    root = tree(
        {
            "app/ok.yaml": config_map("ok"),
            "app/nested/broken.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: broken
                 data: x
            """,
        }
    )
    with pytest.raises(RenderError) as caught:
        render(root, recurse=True)
    assert (caught.value.file, caught.value.line) == ("nested/broken.yaml", 5)
    assert str(caught.value).startswith("nested/broken.yaml:5: YAML syntax error")


def test_syntax_error_after_an_object_is_an_error_even_without_markers(tree: TreeWriter) -> None:
    root = tree({"app/x.yaml": config_map("x") + "---\nfoo: [\n"})
    with pytest.raises(RenderError) as caught:
        render(root)
    assert caught.value.file == "x.yaml"
    assert caught.value.line == 7


def test_json_syntax_error_names_line(tree: TreeWriter) -> None:
    root = tree(
        {"app/svc.json": '{\n  "apiVersion": "v1",\n  "kind": "Service",\n  "metadata": {,}\n}'}
    )
    with pytest.raises(RenderError) as caught:
        render(root)
    assert (caught.value.file, caught.value.line) == ("svc.json", 4)


def test_non_object_document_in_a_manifest_names_the_file(tree: TreeWriter) -> None:
    root = tree({"app/mixed.yaml": config_map("fine") + "---\n- a\n- b\n"})
    with pytest.raises(RenderError, match="document 2 is a list") as caught:
        render(root)
    assert caught.value.file == "mixed.yaml"


def test_object_without_api_version_is_an_error(tree: TreeWriter) -> None:
    root = tree({"app/x.yaml": "kind: ConfigMap\nmetadata:\n  name: x\n"})
    with pytest.raises(RenderError, match=r"\(ConfigMap\) has no apiVersion"):
        render(root)


def test_values_keep_kubernetes_json_meaning(tree: TreeWriter) -> None:
    root = tree(
        {
            "app/cm.yaml": """
                apiVersion: v1
                kind: ConfigMap
                metadata:
                  name: typed
                  labels: &labels {app: web}
                  annotations: *labels
                data:
                  date: 2024-01-01
                  1: one
                  blob: !!binary |
                    aGVs
                    bG8=
            """
        }
    )
    [obj] = render(root)
    data = obj["data"]
    assert data == {"date": "2024-01-01", "1": "one", "blob": "aGVsbG8="}
    metadata = obj["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["labels"] == metadata["annotations"]
    assert metadata["labels"] is not metadata["annotations"]  # aliases are independent copies


def test_symlink_inside_the_repository_is_followed(tree: TreeWriter) -> None:
    root = tree({"shared/cm.yaml": config_map("shared"), "app/.keep": ""})
    (root / "app" / "link.yaml").symlink_to("../shared/cm.yaml")
    assert names(render(root)) == ["shared"]


def test_symlink_outside_the_repository_is_refused(tree: TreeWriter, tmp_path: Path) -> None:
    outside = tmp_path / "secret.yaml"
    outside.write_text(config_map("stolen"))
    root = tree({"app/.keep": ""})
    (root / "app" / "link.yaml").symlink_to(outside)
    with pytest.raises(RenderError, match="points outside the repository") as caught:
        render(root)
    assert caught.value.file == "link.yaml"


def test_symlinked_directories_are_not_entered(tree: TreeWriter, tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.yaml").write_text(config_map("outside"))
    root = tree({"app/a.yaml": config_map("a")})
    os.symlink(tmp_path / "elsewhere", root / "app" / "linked")
    assert names(render(root, recurse=True)) == ["a"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../other", "leaves the repository"),
        ("/etc", "leaves the repository"),
        ("missing", "does not exist in the repository"),
        ("escape", "points outside the repository"),
    ],
    ids=["dotdot", "absolute", "missing", "symlink-out"],
)
def test_app_path_must_stay_in_the_repository(
    tree: TreeWriter, tmp_path: Path, path: str, message: str
) -> None:
    root = tree({"app/a.yaml": config_map("a")})
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(RenderError, match=message):
        render(root, path=path)


def test_jsonnet_is_reported_not_silently_skipped(tree: TreeWriter) -> None:
    root = tree({"app/main.jsonnet": "{}", "app/a.yaml": config_map("a")})
    with pytest.raises(RenderError, match="Jsonnet is not rendered") as caught:
        render(root)
    assert caught.value.file == "main.jsonnet"
    assert names(render(root, exclude="*.jsonnet")) == ["a"]


def test_invalid_glob_is_a_clear_error(tree: TreeWriter) -> None:
    root = tree({"app/a.yaml": config_map("a")})
    with pytest.raises(RenderError, match=r"spec.source.directory: '\{' is never closed"):
        render(root, include="{a.yaml")


def test_app_path_dot_is_the_root(tree: TreeWriter) -> None:
    root = tree({"a.yaml": config_map("top")})
    assert names(render(root, path=".")) == ["top"]
