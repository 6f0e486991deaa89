"""Helpers shared by the render tests (imported by name: pytest puts this directory on sys.path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

TreeWriter = Callable[[dict[str, str]], Path]
"""Writes {relative path: text} under a repository root and returns the root."""


def config_map(name: str) -> str:
    """A minimal ConfigMap manifest."""
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def names(objects: list[dict[str, Any]]) -> list[str]:
    """metadata.name of each object, in order."""
    return [obj["metadata"]["name"] for obj in objects]
