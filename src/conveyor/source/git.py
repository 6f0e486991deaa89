"""Run the git CLI safely: the flags and environment of conveyor.gitsafety, and time limits.

Git is the real one (DESIGN.md), run as an asyncio subprocess from an argument list, never a
shell. Every call gets configuration that a repository or a URL cannot override in a harmful
way (conveyor.gitsafety): only the file, git, http(s) and ssh transports, no hooks, no
prompts, no system gitconfig.
A failure raises GitError carrying git's stderr with credentials masked, so the message can
be shown to a user or logged as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path

from conveyor.gitsafety import git_argv, git_env
from conveyor.source.errors import GitError
from conveyor.source.urls import mask_credentials

DEFAULT_TIMEOUT = 60.0
"""Seconds a local git command may take; network commands pass their own limit."""


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
