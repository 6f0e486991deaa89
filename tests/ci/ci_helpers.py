"""Config repositories for the CI tests: a bare remote seeded with files, and reading it."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def config_repo(tmp_path: Path, files: dict[str, str]) -> Path:
    """A bare config repository (the remote) holding ``files`` on ``main``."""
    work = tmp_path / "seed"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "seed")
    bare = tmp_path / "config.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def show(bare: Path, path: str, ref: str = "main") -> str:
    return git(bare, "show", f"{ref}:{path}") + "\n"
