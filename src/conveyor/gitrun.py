"""The one way Conveyor runs git: safe flags, no shell, and time limits that catch a stall.

The GitOps source (mirrors of config repos) and the artifact builder (clones of app repos)
both run the real git on URLs that come from outside. Besides conveyor.gitsafety's flags and
environment, every run here gets:

- an overall time limit, after which the process (and its session) is killed;
- network limits (``NetworkLimits``) that end a hung transfer long before that limit:
  ``http.lowSpeedLimit``/``http.lowSpeedTime`` abort an http(s) transfer that stays below a
  rate (curl's own connect timeout also applies), and ssh gets ``ConnectTimeout`` plus
  keep-alives (``ServerAliveInterval``/``CountMax``) so a silent server is dropped;
- ``start_new_session``: no controlling terminal, so ssh cannot prompt either;
- stored repository credentials (``HttpCredentials``) as an ``Authorization`` header scoped
  to the repository's URL, given through git's ``GIT_CONFIG_*`` environment: never in the URL
  or the argument list, where ``ps`` and error messages would show them.

Callers turn a ``GitRunError`` and a non-zero exit into their own errors, with credentials
masked by what they know about the URL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from conveyor.errors import TemporaryError
from conveyor.gitsafety import git_argv, git_env


@dataclass(frozen=True)
class NetworkLimits:
    """How long a network git may stall before it gives up on its own."""

    connect_timeout: int = 30
    """Seconds ssh may take to connect and exchange banners."""
    low_speed_limit: int = 1000
    """Bytes per second below which an http(s) transfer counts as stalled."""
    low_speed_time: int = 60
    """Seconds an http(s) transfer may stay below ``low_speed_limit`` (or ssh stay silent)."""

    def config(self) -> list[str]:
        """``-c`` flags for git itself."""
        return [
            "-c", f"http.lowSpeedLimit={self.low_speed_limit}",
            "-c", f"http.lowSpeedTime={self.low_speed_time}",
        ]  # fmt: skip

    def ssh_options(self) -> str:
        interval = max(1, self.low_speed_time // 4)
        return (
            f"-o ConnectTimeout={self.connect_timeout} -o ServerAliveInterval={interval} "
            "-o ServerAliveCountMax=4"
        )


DEFAULT_LIMITS = NetworkLimits()


@dataclass(frozen=True)
class HttpCredentials:
    """A username and password (or token) for one http(s) repository."""

    url: str
    """The repository URL (without credentials); the header is sent to URLs under it only."""
    username: str
    password: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """git's ``http.<url>.extraHeader`` as environment configuration."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.{self.url}.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
        }


@dataclass(frozen=True)
class GitOutput:
    """What a finished git process said (``stdout`` is empty when it went to a file)."""

    returncode: int
    stdout: bytes
    stderr: bytes


class GitRunError(TemporaryError):
    """git could not be run, or did not finish in time (it was killed); worth a retry."""


def limited_env(
    extra: Mapping[str, str] | None, limits: NetworkLimits = DEFAULT_LIMITS
) -> dict[str, str]:
    """conveyor.gitsafety's environment, with the ssh command given ``limits``.

    A configured ssh command (``GIT_SSH_COMMAND`` with a key, say) keeps its options and gets
    the limits appended when it runs ``ssh`` itself; a wrapper script is left alone.
    """
    env = git_env(extra)
    command = env.get("GIT_SSH_COMMAND", "")
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    if words and os.path.basename(words[0]) == "ssh" and "ConnectTimeout" not in command:
        env["GIT_SSH_COMMAND"] = f"{command} {limits.ssh_options()}"
    return env


async def run_git(
    args: Sequence[str],
    *,
    timeout: float,
    git_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    stdout: IO[bytes] | None = None,
    limits: NetworkLimits = DEFAULT_LIMITS,
    ceiling: Path | None = None,
    credentials: HttpCredentials | None = None,
) -> GitOutput:
    """Run ``git <safe flags> <limits> [--git-dir] <args>`` and wait for it.

    ``env`` is added to the safe environment; ``stdin`` is written to git's input; with
    ``stdout`` git writes there instead of into the result; with ``ceiling`` git does not look
    for a repository above that directory (GIT_CEILING_DIRECTORIES). A non-zero exit is
    returned, not raised. ``credentials`` authenticate to an http(s) remote (see the module
    docstring). Raises GitRunError when git is missing or runs past ``timeout``
    seconds (it is killed); a cancelled caller also kills it.
    """
    full_env = limited_env(env, limits)
    if ceiling is not None:
        full_env["GIT_CEILING_DIRECTORIES"] = str(ceiling)
    if credentials is not None:
        full_env.update(credentials.env())  # after git_env, which drops GIT_CONFIG_COUNT
    try:
        proc = await asyncio.create_subprocess_exec(
            *git_argv([*limits.config(), *args], git_dir=git_dir),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=stdout if stdout is not None else asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=full_env,
            start_new_session=True,
        )
    except FileNotFoundError as err:
        raise GitRunError("git is not installed: install git and put it on PATH") from err
    try:
        out, err_out = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError as err:
        await kill(proc)
        raise GitRunError(
            f"git did not finish within {timeout:g} seconds: check that the repository is "
            "reachable, or raise the timeout for large repositories"
        ) from err
    except asyncio.CancelledError:
        await kill(proc)
        raise
    return GitOutput(proc.returncode if proc.returncode is not None else -1, out or b"", err_out)


async def kill(proc: asyncio.subprocess.Process) -> None:
    """Stop ``proc`` and reap it; used on timeouts, cancellation and early exits."""
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(Exception):
        await proc.wait()
