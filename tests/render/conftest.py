"""Render test fixtures: repository trees written from a {path: text} mapping."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
from render_support import TreeWriter


@pytest.fixture
def tree(tmp_path: Path) -> TreeWriter:
    """Write files (dedented) under ``tmp_path/repo`` and return that root."""
    root = tmp_path / "repo"

    def write(files: dict[str, str]) -> Path:
        root.mkdir(exist_ok=True)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
        return root

    return write
