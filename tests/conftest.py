"""Shared fixtures: an isolated CONVEYOR_HOME per test, and git identity for test repos."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conveyor.logging import configure

# The venv's bin first on PATH, as in an activated venv: `make test` puts the real helm there.
_VENV_BIN = str(Path(sys.executable).parent)
if _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = os.pathsep.join([_VENV_BIN, os.environ.get("PATH", "")])


@pytest.fixture(autouse=True, scope="session")
def _logging() -> None:
    """The product's logging setup (plain tracebacks, masking) in every test."""
    configure("INFO")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own CONVEYOR_HOME; nothing touches the user's data dir."""
    home = tmp_path / "conveyor-home"
    monkeypatch.setenv("CONVEYOR_HOME", str(home))
    monkeypatch.delenv("CONVEYOR_DATABASE_URL", raising=False)
    for var, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(var, value)
    return home
