"""Running the scanners: find each tool, run it with a time limit, keep what it printed.

Tools are looked up beside the running interpreter first (the venv that installed Conveyor
and its scanners), then on PATH. Nothing runs through a shell, and the environment carries
nothing of the caller's Python setup into the app's tools.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ToolOutput:
    """What a finished tool left: its exit code and both streams, decoded."""

    code: int
    stdout: str
    stderr: str
    timed_out: bool = False


def find_tool(name: str) -> str | None:
    """The executable ``name``: beside this interpreter, else on PATH; None if absent."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a tool: no PYTHONPATH/VIRTUAL_ENV of ours, no colours, no prompts."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTEST_ADDOPTS")
    }
    env.update(NO_COLOR="1", PYTHONUNBUFFERED="1", PIP_NO_INPUT="1")
    env.update(extra or {})
    return env


async def run_tool(
    args: list[str],
    *,
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
) -> ToolOutput:
    """Run ``args`` in ``cwd``; a tool past ``timeout`` seconds is killed (``timed_out``)."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env or tool_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        stdout, stderr = await proc.communicate()
        return ToolOutput(
            -9, stdout.decode(errors="replace"), stderr.decode(errors="replace"), True
        )
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    code = proc.returncode if proc.returncode is not None else -1
    return ToolOutput(code, stdout.decode(errors="replace"), stderr.decode(errors="replace"))
