"""Write an app's files into a fresh directory, for tools that read a directory (kustomize).

The files come from ``tree.read_path``, so their names are already checked; writing still
refuses to follow anything already on disk (``O_EXCL | O_NOFOLLOW``), so a destination that
is not fresh cannot redirect a write elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from conveyor.source.tree import SourceFile

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def write_files(files: Mapping[str, SourceFile], dest: Path) -> Path:
    """Create ``dest`` (which must not exist, or be an empty directory) holding ``files``.

    Executable files keep their executable bit. Returns ``dest``. Blocking: call it through
    ``asyncio.to_thread``.
    """
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise FileExistsError(
            f"{dest} exists and is not an empty directory: export needs a fresh one"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for rel, file in files.items():
        target = dest.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, _FLAGS, 0o755 if file.executable else 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(file.data)
    return dest
