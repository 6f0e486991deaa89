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
    ],
    ids=["after", "equals", "before", "dest-server", "after-dashes"],
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
