"""Run the git CLI safely: one place decides the flags, the environment and the time limits.

Git is the real one (DESIGN.md), run as an asyncio subprocess from an argument list, never a
shell. Every call gets configuration that a repository or a URL cannot override in a harmful
way: only the file, git, http(s) and ssh transports are allowed (``ext::`` and ``fd::`` run
commands), hooks never run, nothing prompts for a password, the system gitconfig is ignored.
A failure raises GitError carrying git's stderr with credentials masked, so the message can
be shown to a user or logged as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from conveyor.source.errors import GitError
from conveyor.source.urls import mask_credentials

GIT_BINARY = "git"

SAFE_CONFIG: tuple[str, ...] = (
    # Only the transports a GitOps source needs; ext:: and fd:: run commands.
    "-c", "protocol.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "protocol.git.allow=always",
    "-c", "protocol.http.allow=always",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.ssh.allow=always",
    "-c", "protocol.ext.allow=never",
    "-c", "protocol.fd.allow=never",
    # Hooks and filesystem monitors would run code from the machine or the repository.
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    # Mirrors hold the app's repository only; submodules are not followed.
    "-c", "submodule.recurse=false",
    "-c", "fetch.recurseSubmodules=false",
    # An automatic gc must not outlive the command that started it.
    "-c", "gc.autoDetach=false",
)  # fmt: skip
"""Flags placed before every git subcommand."""

# Variables that would point git at another repository, index, object store or config than
# the one asked for (e.g. when Conveyor itself runs inside a git hook).
_LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_CEILING_DIRECTORIES",
        "GIT_CONFIG",
        "GIT_CONFIG_PARAMETERS",
        "GIT_CONFIG_COUNT",
        "GIT_EXEC_PATH",
        "GIT_PROTOCOL_FROM_USER",
        "GIT_ALLOW_PROTOCOL",
    }
)

_FORCED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
    "LC_ALL": "C",
    "LANGUAGE": "C",
}

DEFAULT_TIMEOUT = 60.0
"""Seconds a local git command may take; network commands pass their own limit."""


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a git process: the caller's plus ``extra``, made non-interactive.

    ``extra`` is Conveyor's own configuration (an ssh command with a key, a proxy); it cannot
    turn prompting back on or point git at another repository.
    """
    env = {**os.environ, **(extra or {})}
    env = {k: v for k, v in env.items() if k not in _LOCATION_VARS}
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    env.update(_FORCED_ENV)
    return env


def git_argv(args: Sequence[str], *, git_dir: Path | None = None) -> list[str]:
    """``git <SAFE_CONFIG> [--git-dir=…] <args>``, the argument list of every git process."""
    argv = [GIT_BINARY, *SAFE_CONFIG]
    if git_dir is not None:
        argv.append(f"--git-dir={git_dir}")
    argv.extend(args)
    return argv


async def run_git(
    args: Sequence[str],
    *,
    git_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    url: str | None = None,
    stdin: bytes | None = None,
) -> str:
    """Run git with ``args`` and return its stdout.

    ``url`` is only used to mask its credentials in error messages; ``stdin`` is written to
    git's standard input (e.g. object names for ``cat-file --batch-check``). Raises GitError
    when git exits non-zero or runs longer than ``timeout`` seconds (the process is killed),
    and kills the process if the caller is cancelled.
    """
    shown = mask_credentials(" ".join(["git", *args]), url)
    try:
        proc = await asyncio.create_subprocess_exec(
            *git_argv(args, git_dir=git_dir),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=git_env(env),
            start_new_session=True,  # no controlling terminal: ssh cannot prompt either
        )
    except FileNotFoundError as err:
        raise GitError("git is not installed: install git and put it on PATH", obj=shown) from err
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except TimeoutError as err:
        await kill(proc)
        raise GitError(
            f"git did not finish within {timeout:g} seconds: check that the repository is "
            "reachable, or raise the timeout for large repositories",
            obj=shown,
        ) from err
    except asyncio.CancelledError:
        await kill(proc)
        raise
    if proc.returncode != 0:
        detail = mask_credentials(stderr.decode("utf-8", "replace").strip(), url)
        raise GitError(
            f"git exited with status {proc.returncode}: {detail or 'no error output'}",
            obj=shown,
            returncode=proc.returncode,
            stderr=detail,
        )
    return stdout.decode("utf-8", "replace")


async def kill(proc: asyncio.subprocess.Process) -> None:
    """Stop ``proc`` and reap it; used on timeouts, cancellation and early exits."""
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(Exception):
        await proc.wait()
