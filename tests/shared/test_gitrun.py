"""The one git runner: a stalled server ends git by itself, for the mirrors and the builder."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.artifacts import ArtifactStore
from conveyor.errors import ValidationError
from conveyor.gitrun import HttpCredentials, NetworkLimits, limited_env, run_git
from conveyor.source import GitError, RepoCache
from support.git_http import GitHttpServer

# Stall limits of one second; the overall time limits stay at a minute, so an error that
# arrives is git giving up on its own, never the runner killing it.
FAST = NetworkLimits(connect_timeout=1, low_speed_limit=1000, low_speed_time=1)


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never says a word."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until git hangs up
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.mark.parametrize(
    ("scheme", "says"),
    [("http", "Operation too slow"), ("ssh", "timed out during banner exchange")],
)
async def test_a_mirror_fetch_from_a_silent_server_gives_up_on_its_own(
    tmp_path: Path, silent_port: int, scheme: str, says: str
) -> None:
    cache = RepoCache(tmp_path / "mirrors", git_timeout=60, network=FAST)
    with pytest.raises(GitError) as caught:
        await cache.ls_remote(f"{scheme}://git@127.0.0.1:{silent_port}/org/repo.git")
    assert says in caught.value.message
    assert "did not finish within" not in caught.value.message


async def test_an_artifact_clone_from_a_silent_server_gives_up_on_its_own(
    tmp_path: Path, silent_port: int
) -> None:
    store = ArtifactStore(tmp_path / "artifacts", git_limits=FAST)
    with pytest.raises(ValidationError, match=r"cannot fetch .*Operation too slow"):
        await store.build("app", source=f"http://127.0.0.1:{silent_port}/org/repo.git")


def test_a_configured_ssh_command_keeps_its_options_and_gets_the_limits() -> None:
    env = limited_env({"GIT_SSH_COMMAND": "ssh -i /keys/deploy -o IdentitiesOnly=yes"}, FAST)
    assert env["GIT_SSH_COMMAND"].startswith("ssh -i /keys/deploy -o IdentitiesOnly=yes ")
    assert "-o ConnectTimeout=1" in env["GIT_SSH_COMMAND"]
    assert "BatchMode=yes" in limited_env(None, FAST)["GIT_SSH_COMMAND"]
    wrapper = limited_env({"GIT_SSH_COMMAND": "/usr/local/bin/my-ssh-wrapper"}, FAST)
    assert wrapper["GIT_SSH_COMMAND"] == "/usr/local/bin/my-ssh-wrapper"


async def test_credentials_reach_git_through_its_environment_only(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    subprocess.run(["git", "init", "-q", "--bare", str(origin / "repo.git")], check=True)
    with GitHttpServer(origin, "bob", "pa55-word") as server:
        url = f"{server.url}/repo.git"
        refused = await run_git(["ls-remote", "--", url], timeout=60)
        assert refused.returncode != 0 and server.refused > 0
        wrong = HttpCredentials(url=f"{server.url}/other.git", username="bob", password="pa55-word")
        elsewhere = await run_git(["ls-remote", "--", url], timeout=60, credentials=wrong)
        assert elsewhere.returncode != 0  # the header is scoped to its repository's URL
        right = HttpCredentials(url=url, username="bob", password="pa55-word")
        assert "pa55-word" not in repr(right)
        done = await run_git(["ls-remote", "--", url], timeout=60, credentials=right)
        assert done.returncode == 0, done.stderr
        assert server.served > 0
