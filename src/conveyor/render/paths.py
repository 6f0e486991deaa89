"""Keep every path a render touches inside the exported repository tree.

The app path comes from an Application, i.e. from whoever may commit to a config repo, and the
tree may hold symlinks: a path is accepted only when its real location (symlinks followed) is
the root or below it. Errors name paths relative to the app, the way the user wrote them.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from conveyor.render.errors import RenderError


def is_inside(path: Path, root: Path) -> bool:
    """True when the real ``path`` is ``root`` or below it (``root`` must be resolved)."""
    return path.is_relative_to(root)


def resolve_app_dir(root: Path, app_path: str) -> tuple[Path, Path]:
    """The resolved (root, app directory); RenderError when the path leaves the root.

    ``app_path`` is relative to the root; ``""`` and ``"."`` mean the root itself.
    """
    real_root = root.resolve()
    if not real_root.is_dir():
        raise RenderError(f"the repository directory {root} does not exist", cacheable=False)
    parts = PurePosixPath(app_path or ".").parts
    if "\x00" in app_path:
        raise RenderError(f"path {app_path!r} contains a NUL character", file=None)
    if PurePosixPath(app_path or ".").is_absolute() or ".." in parts:
        raise RenderError(
            f"path {app_path!r} leaves the repository: use a path relative to its root",
            file=app_path,
        )
    app_dir = (real_root / os.path.join(*parts)).resolve() if parts else real_root
    if not is_inside(app_dir, real_root):
        raise RenderError(
            f"path {app_path!r} is a symlink that points outside the repository", file=app_path
        )
    if not app_dir.is_dir():
        raise RenderError(
            f"path {app_path!r} does not exist in the repository at this revision: "
            "check spec.source.path and spec.source.targetRevision",
            file=app_path,
        )
    return real_root, app_dir


def display(path: Path, app_dir: Path) -> str:
    """``path`` as the user would write it: relative to the app directory, '/' separated."""
    return Path(os.path.relpath(path, app_dir)).as_posix()
