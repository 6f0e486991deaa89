"""Helpers for the source tests: a real upstream repository to commit to and fetch from."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class Upstream:
    """A non-bare repository playing the remote; ``url`` is its path."""

    path: Path

    @property
    def url(self) -> str:
        return str(self.path)

    def commit(
        self,
        files: dict[str, str] | None = None,
        *,
        links: dict[str, str] | None = None,
        remove: tuple[str, ...] = (),
        message: str = "change",
    ) -> str:
        """Write files and symlinks (name -> target), delete ``remove``, commit, return SHA."""
        for name, text in (files or {}).items():
            path = self.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for name, target in (links or {}).items():
            path = self.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, path)
        for name in remove:
            git(self.path, "rm", "-q", "-r", name)
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def git(self, *args: str) -> str:
        return git(self.path, *args)
