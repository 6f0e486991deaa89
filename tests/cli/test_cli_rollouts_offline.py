"""``conveyor rollouts`` and ``app actions`` without a server: parsing and usage mistakes are
refused before any request, with their exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import conveyor

from support.server_helpers import free_port

pytestmark = pytest.mark.processes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "image", "web", "nginx:1.2"], "'nginx:1.2': write it as CONTAINER=IMAGE"),
        (["set", "image", "web", "=nginx"], "write it as CONTAINER=IMAGE"),
        (["undo", "web", "--to-revision", "-1"], "--to-revision"),
        (["promote"], "Missing argument 'ROLLOUT'"),
        (["get", "web", "--watch", "--full"], "No such option: --full"),
    ],
    ids=["no-equals", "no-container", "negative-revision", "no-name", "unknown-flag"],
)
def test_usage_mistakes_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    server = f"127.0.0.1:{free_port()}"
    result = conveyor(tmp_path, "rollouts", *args, env={"CONVEYOR_SERVER": server})
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.replace("│", " ").split())


def test_app_actions_need_kind_and_name(tmp_path: Path) -> None:
    result = conveyor(tmp_path, "app", "actions", "run", "shop", "abort", "--kind", "Rollout")
    assert result.returncode == 2 and "--resource-name" in result.stderr


def test_no_server_is_exit_1(tmp_path: Path) -> None:
    port = free_port()
    result = conveyor(
        tmp_path, "rollouts", "abort", "web", env={"CONVEYOR_SERVER": f"127.0.0.1:{port}"}
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no Conveyor server at http://127.0.0.1:{port}: start one with `conveyor server`"
    )
