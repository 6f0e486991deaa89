"""An artifact's virtualenv: ``python -m venv`` then pip, isolated from the caller's Python.

Which dependencies a project declares (requirements.txt, pyproject.toml, setup.py), whether
this interpreter's pip can install into a venv made without pip, and running venv and pip with
their output in the build log are one job, apart from pinning and staging the tree (``build``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tomllib
from importlib import metadata as importlib_metadata
from pathlib import Path

from conveyor.artifacts.buildlog import BuildLog
from conveyor.errors import PermanentError, ValidationError

PIP_PYTHON_OPTION = (22, 3)
"""The first pip with ``--python``: the outer pip installs into a venv made ``--without-pip``."""


class BuildError(PermanentError):
    """Building the virtualenv failed; the message ends with the last lines of pip's output."""


def _dependencies(src: Path, work: Path) -> tuple[str, list[str]] | None:
    """What to install, as (what, pip arguments): requirements.txt, else the project itself."""
    if (src / "requirements.txt").is_file():
        return "requirements.txt", ["-r", "requirements.txt"]
    pyproject = src / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ValidationError(f"pyproject.toml is not valid TOML: {err}") from err
        if "project" in data or "build-system" in data:
            return "pyproject.toml", [str(work / "project")]
    if (src / "setup.py").is_file():
        return "setup.py", [str(work / "project")]
    return None


def _outer_pip_has_python_option() -> bool:
    """Whether this interpreter's pip (>= 22.3) can install into another venv with --python."""
    try:
        version = importlib_metadata.version("pip")
    except importlib_metadata.PackageNotFoundError:
        return False
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    return numbers >= PIP_PYTHON_OPTION


async def build_venv(venv: Path, src: Path, work: Path, log: BuildLog) -> None:
    """``python -m venv`` then pip; a venv without pip when this pip can install into it."""
    deps = _dependencies(src, work)
    outer_pip = _outer_pip_has_python_option()
    lean = deps is None or outer_pip
    log("creating the virtualenv" + ("" if lean else " (with pip: this pip has no --python)"))
    create = [sys.executable, "-m", "venv", *(["--without-pip"] if lean else []), str(venv)]
    await _run_logged(create, cwd=src, log=log, what="creating the virtualenv")
    if deps is None:
        log("no requirements.txt or pyproject.toml: the virtualenv stays empty")
        return
    what, args = deps
    if what != "requirements.txt":
        # pip builds a project in place (build/, *.egg-info); keep the exported tree pristine.
        await asyncio.to_thread(shutil.copytree, src, work / "project", symlinks=True)
    python = str(venv / "bin" / "python")
    pip = [sys.executable, "-m", "pip", "--python", python] if outer_pip else [python, "-m", "pip"]
    log(f"installing {what}")
    install = [
        *pip,
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
    ]
    await _run_logged([*install, *args], cwd=src, log=log, what=f"installing {what}")


def _pip_env() -> dict[str, str]:
    """The environment for venv and pip: nothing from the caller's Python setup leaks in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_PYTHON", "PIP_USER")
    }
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONUNBUFFERED="1")
    return env


async def _run_logged(args: list[str], *, cwd: Path, log: BuildLog, what: str) -> None:
    """Run ``args``, its output streamed into the build log; BuildError with the tail on failure."""
    log.tail.clear()
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=_pip_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        async for line in proc.stdout:
            log.write(line)
            log.tail.append(line.decode(errors="replace").rstrip())
        code = await proc.wait()
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if code != 0:
        tail = "\n".join(f"  {line}" for line in log.tail if line)
        raise BuildError(f"{what} failed (exit code {code}); the last lines of its output:\n{tail}")
