"""The git runner's own defences, for when a caller forgets to validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.gitsafety import git_env
from conveyor.source import GitError
from conveyor.source.git import run_git


async def test_command_transports_are_disabled_in_git_itself(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for url in (f"ext::sh -c touch% {marker}", "fd::0"):
        with pytest.raises(GitError, match="not allowed"):
            await run_git(["ls-remote", "--", url])
    assert not marker.exists()


async def test_errors_mask_credentials_in_the_command_and_stderr(tmp_path: Path) -> None:
    url = "https://deploy:hunter22@host/repo"
    with pytest.raises(GitError) as caught:  # git echoes the key it refuses
        await run_git(["config", "--file", str(tmp_path / "cfg"), "--get", f"x.{url}"], url=url)
    assert "hunter22" not in str(caught.value)
    assert "deploy:******@host" in caught.value.stderr
    assert caught.value.returncode == 1


async def test_timeout_kills_git(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="did not finish within"):
        await run_git(["cat-file", "--batch"], stdin=b"", timeout=0.0)


def test_environment_cannot_prompt_or_redirect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    env = git_env({"GIT_TERMINAL_PROMPT": "1", "GIT_CONFIG_PARAMETERS": "'a.b=c'"})
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ASKPASS"] == "true"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert "GIT_DIR" not in env
    assert "GIT_CONFIG_PARAMETERS" not in env
