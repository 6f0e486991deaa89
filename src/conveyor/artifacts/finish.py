"""Finishing a staged artifact: point its venv at the final path, record its metadata, and
take the write bits off, so that a published artifact is what it says and stays so."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

from conveyor.artifacts.store import VENV_DIR, Artifact

_RELOCATE_MAX_BYTES = 4 * 1024 * 1024


def relocate(staged: Path, final: Path) -> None:
    """Point the venv's scripts (shebangs, activate, .pth) at the final path, not the staging one.

    Only text files (no NUL byte) under a few MB are rewritten; bytecode keeps its old path,
    which Python corrects on import.
    """
    old, new = str(staged).encode(), str(final).encode()
    for directory, _, files in os.walk(staged / VENV_DIR):
        for filename in files:
            path = Path(directory) / filename
            if path.is_symlink() or path.suffix == ".pyc":
                continue
            try:
                if path.stat().st_size > _RELOCATE_MAX_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if old in data and b"\0" not in data:
                path.write_bytes(data.replace(old, new))


def write_metadata(path: Path, artifact: Artifact) -> None:
    metadata = {**artifact.metadata(), "python": sys.version.split()[0]}
    path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def make_read_only(root: Path) -> None:
    """Take the write bits off every file and directory (best effort: root ignores them)."""
    for directory, dirs, files in os.walk(root, topdown=False):
        for entry in [*files, *dirs]:
            path = os.path.join(directory, entry)
            if not os.path.islink(path):
                _chmod_read_only(path)
    _chmod_read_only(str(root))


def _chmod_read_only(path: str) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, os.stat(path).st_mode & ~0o222)
