"""The flags and environment every git process gets, whoever runs it.

Both the GitOps source (mirrors of config repos) and the artifact builder (clones of app
repos) run the real git on URLs and revisions that come from outside, so they share one
definition of "safe": only the file, git, http(s) and ssh transports (``ext::`` and ``fd::``
run commands), no hooks, no prompts, no system gitconfig, and no variable that points git at
another repository than the one asked for.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

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
LOCATION_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
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


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a git process: the caller's plus ``extra``, made non-interactive.

    ``extra`` is Conveyor's own configuration (an ssh command with a key, a proxy); it cannot
    turn prompting back on or point git at another repository.
    """
    env = {**os.environ, **(extra or {})}
    env = {k: v for k, v in env.items() if k not in LOCATION_VARS}
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
