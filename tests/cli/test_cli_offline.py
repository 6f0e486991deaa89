"""The CLI without a server: clear errors and exit codes, flags, and how apps are shown."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import conveyor

from conveyor.cli import app_view
from conveyor.cli.main import hoist_global_flags
from support.server_helpers import free_port


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["app", "list", "--server", "h:1"], ["--server", "h:1", "app", "list"]),
        (["app", "get", "x", "--auth-token=t"], ["--auth-token=t", "app", "get", "x"]),
        (["--server", "h", "app", "list"], ["--server", "h", "app", "list"]),
        (
            ["app", "create", "x", "--dest-server", "s"],
            ["app", "create", "x", "--dest-server", "s"],
        ),
        (["apply", "-f", "-", "--", "--server"], ["apply", "-f", "-", "--", "--server"]),
        (["app", "delete", "x", "--cascade=false"], ["app", "delete", "x", "--no-cascade"]),
        (["app", "diff", "x", "--exit-code=true"], ["app", "diff", "x", "--exit-code"]),
        (["app", "list", "--insecure", "--grpc-web"], ["app", "list"]),
        (["app", "get", "--path=false"], ["app", "get", "--path=false"]),
    ],
    ids=[
        "after",
        "equals",
        "before",
        "dest-server",
        "after-dashes",
        "bool-false",
        "bool-true",
        "no-op-transport",
        "not-a-bool-flag",
    ],
)
def test_global_flags_may_follow_the_subcommand(argv: list[str], expected: list[str]) -> None:
    assert hoist_global_flags(argv) == expected


@pytest.mark.processes
def test_no_server_is_one_clear_line_on_stderr(tmp_path: Path) -> None:
    port = free_port()
    result = conveyor(tmp_path, "app", "list", env={"CONVEYOR_SERVER": f"127.0.0.1:{port}"})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: no Conveyor server at http://127.0.0.1:{port}: start one with `conveyor server`"
    )
    diff = conveyor(tmp_path, "app", "diff", "x", "--server", f"http://127.0.0.1:{port}")
    assert diff.returncode == 2  # 1 means "there is a difference"


@pytest.mark.processes
def test_flag_mistakes_are_refused_before_any_request(tmp_path: Path) -> None:
    result = conveyor(
        tmp_path, "app", "create", "x", "--repo", "r", "--path", "p",
        "--dest-namespace", "n", "--auto-prune",
    )  # fmt: skip
    assert result.returncode == 1
    assert "--auto-prune and --self-heal need --sync-policy automated" in result.stderr


@pytest.mark.processes
def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = conveyor(tmp_path / "home", "server", "--port", str(port))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


@pytest.mark.parametrize("host", ["192.0.2.1", "0.0.0.0", "::"])
def test_a_host_beyond_loopback_without_tls_is_warned_about(host: str) -> None:
    """Checked without binding: tests bind 127.0.0.1 only (the server prints this warning
    before it binds, see cli/server_cmd.py)."""
    from conveyor.cli.server_cmd import plain_http_warning

    warning = plain_http_warning(host)
    assert warning is not None and "TLS" in warning and host in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_are_not_warned_about(host: str) -> None:
    from conveyor.cli.server_cmd import plain_http_warning

    assert plain_http_warning(host) is None


APP: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "argocd"},
    "spec": {
        "project": "default",
        "source": {"repoURL": "file:///r", "path": "app", "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    },
    "status": {
        "sync": {"status": "Synced", "revision": "0123456789abcdef" * 2 + "01234567"},
        "health": {"status": "Healthy"},
        "summary": {"externalURLs": ["http://127.0.0.1:30000"], "images": ["hello:1"]},
        "resources": [
            {
                "group": "apps",
                "kind": "Deployment",
                "namespace": "web",
                "name": "hello",
                "status": "Synced",
                "health": {"status": "Healthy"},
            },
        ],
        "operationState": {
            "phase": "Succeeded",
            "message": "successfully synced",
            "syncResult": {
                "revision": "abc",
                "resources": [
                    {
                        "group": "apps",
                        "kind": "Deployment",
                        "namespace": "web",
                        "name": "hello",
                        "status": "Synced",
                        "message": "deployment.apps/hello configured",
                    },
                ],
            },
        },
    },
}


def test_app_get_shows_argocds_fields() -> None:
    fields = dict(app_view.summary(APP))
    assert fields["Name"] == "argocd/web"
    assert fields["URL"] == "http://127.0.0.1:30000"
    assert fields["Sync Policy"] == "Automated (Prune, SelfHeal)"
    assert fields["Sync Status"] == "Synced to main (0123456)"
    assert fields["Health Status"] == "Healthy"
    columns, rows = app_view.resource_rows(APP)
    assert columns[:6] == ["GROUP", "KIND", "NAMESPACE", "NAME", "STATUS", "HEALTH"]
    assert rows == [
        ["apps", "Deployment", "web", "hello", "Synced", "Healthy", "",
         "deployment.apps/hello configured"],
    ]  # fmt: skip


def test_app_list_rows() -> None:
    columns, rows = app_view.list_rows([APP], wide=False)
    assert dict(zip(columns, rows[0], strict=True)) == {
        "NAME": "web",
        "CLUSTER": "https://kubernetes.default.svc",
        "NAMESPACE": "web",
        "PROJECT": "default",
        "STATUS": "Synced",
        "HEALTH": "Healthy",
        "SYNCPOLICY": "Automated",
        "CONDITIONS": "<none>",
        "REPO": "file:///r",
        "PATH": "app",
        "TARGET": "main",
    }


@pytest.mark.processes
def test_apply_refuses_an_alias_bomb_with_its_document_before_any_request(
    tmp_path: Path,
) -> None:
    lines = ['a0: &a0 ["lol"]'] + [
        f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 8)
    ]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata: {name: p}\nspec:\n"
        + "".join(f"  {line}\n" for line in lines)
    )
    port = free_port()  # nothing listens: the refusal must come before any request
    result = conveyor(tmp_path, "apply", "-f", str(bomb), "--server", f"127.0.0.1:{port}")
    assert result.returncode == 1
    assert f"error: {bomb}: document 1 (line 1): a document expands to more than" in (result.stderr)
    assert "no Conveyor server" not in result.stderr


def test_resource_filters_follow_argocd() -> None:
    from conveyor.cli import resource_filter
    from conveyor.cli.client import CliError

    app = {"status": {"resources": [
        {"group": "apps", "kind": "Deployment", "namespace": "web", "name": "api"},
        {"group": "", "kind": "Service", "namespace": "web", "name": "api"},
        {"group": "", "kind": "ConfigMap", "namespace": "other", "name": "api"},
    ]}}  # fmt: skip

    def picked(*specs: str) -> list[str]:
        return [f"{r['kind']}/{r['namespace']}" for r in resource_filter.select(app, list(specs))]

    assert picked("apps:Deployment:api") == ["Deployment/web"]
    assert picked(":ConfigMap:other/api") == ["ConfigMap/other"]
    assert picked("*:*:api", "!:ConfigMap:*") == ["Deployment/web", "Service/web"]
    assert picked("!apps:Deployment:api") == ["Service/web", "ConfigMap/other"]
    with pytest.raises(CliError, match="No matching app resources found for resource filter: "
                       ":Deployment:api"):  # fmt: skip
        picked(":Deployment:api")  # Deployment is in the apps group
    with pytest.raises(CliError, match="expected GROUP:KIND:NAME"):
        picked("Deployment:api")


def test_label_selectors_follow_kubernetes() -> None:
    from conveyor.errors import ValidationError
    from conveyor.model.labelselectors import parse_selector

    labels = {"app.kubernetes.io/instance": "root", "team": "a"}
    cases = {
        "app.kubernetes.io/instance=root": True, "app.kubernetes.io/instance!=root": False,
        "team in (a,b)": True, "team notin (a, b)": False, "!team": False, "missing": False,
        "missing!=x": True, "team==a,app.kubernetes.io/instance": True, "": True,
    }  # fmt: skip
    assert {text: parse_selector(text).matches(labels) for text in cases} == cases
    with pytest.raises(ValidationError, match="'a b c' does not parse"):
        parse_selector("a b c")


def test_app_get_tree_puts_owned_objects_under_their_owner() -> None:
    app = {"status": {"resources": [
        {"group": "apps", "kind": "Deployment", "namespace": "w", "name": "web",
         "status": "Synced"},
        {"group": "", "kind": "Service", "namespace": "w", "name": "web", "status": "OutOfSync"},
    ]}}  # fmt: skip
    nodes = [
        {"uid": "d", "group": "apps", "kind": "Deployment", "namespace": "w", "name": "web",
         "health": {"status": "Healthy"}},
        {"uid": "r", "group": "apps", "kind": "ReplicaSet", "namespace": "w", "name": "web-1",
         "parentRefs": [{"uid": "d"}], "health": {"status": "Healthy"}},
        {"uid": "p1", "kind": "Pod", "namespace": "w", "name": "web-1-a",
         "parentRefs": [{"uid": "r"}], "health": {"status": "Healthy"}},
        {"uid": "p2", "kind": "Pod", "namespace": "w", "name": "web-1-b",
         "parentRefs": [{"uid": "r"}], "health": {"status": "Progressing",
                                                  "message": "not ready"}},
        {"uid": "s", "group": "", "kind": "Service", "namespace": "w", "name": "web",
         "health": {"status": "Healthy"}},
    ]  # fmt: skip
    assert app_view.tree_rows(app, nodes) == [
        ["Deployment/web", "Synced", "Healthy", ""],
        ["└─ReplicaSet/web-1", "", "Healthy", ""],
        ["  ├─Pod/web-1-a", "", "Healthy", ""],
        ["  └─Pod/web-1-b", "", "Progressing", "not ready"],
        ["Service/web", "OutOfSync", "Healthy", ""],
    ]
