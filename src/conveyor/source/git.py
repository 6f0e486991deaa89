"""The source stage's face on the shared git runner (``conveyor.gitrun``): errors as GitError.

Git is the real one (DESIGN.md), run by ``conveyor.gitrun`` with conveyor.gitsafety's flags
and environment, an overall time limit and network stall limits. Here a failure becomes a
GitError carrying git's stderr with credentials masked, so the message can be shown to a user
or logged as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from conveyor import gitrun
from conveyor.gitrun import kill
from conveyor.source.errors import GitError
from conveyor.source.urls import mask_credentials

__all__ = ["DEFAULT_TIMEOUT", "kill", "run_git"]

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
    limits: gitrun.NetworkLimits = gitrun.DEFAULT_LIMITS,
    credentials: gitrun.HttpCredentials | None = None,
) -> str:
    """Run git with ``args`` and return its stdout.

    ``url`` is only used to mask its credentials in error messages; ``stdin`` is written to
    git's standard input (e.g. object names for ``cat-file --batch-check``). Raises GitError
    when git exits non-zero, stalls past ``limits`` or runs longer than ``timeout`` seconds
    (the process is killed), and kills the process if the caller is cancelled.
    """
    shown = mask_credentials(" ".join(["git", *args]), url)
    try:
        result = await gitrun.run_git(
            args, git_dir=git_dir, env=env, timeout=timeout, stdin=stdin, limits=limits,
            credentials=credentials,
        )  # fmt: skip
    except gitrun.GitRunError as err:
        raise GitError(err.message, obj=shown) from err
    if result.returncode != 0:
        detail = mask_credentials(result.stderr.decode("utf-8", "replace").strip(), url)
        raise GitError(
            f"git exited with status {result.returncode}: {detail or 'no error output'}",
            obj=shown,
            returncode=result.returncode,
            stderr=detail,
        )
    return result.stdout.decode("utf-8", "replace")
