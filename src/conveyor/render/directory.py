"""Plain manifests: every YAML and JSON file of the app directory, as Argo CD reads them.

Argo CD's rules, kept so that a repository renders the same in both: files are visited in
lexical order (subdirectories only with ``recurse``); only ``.yaml``, ``.yml`` and ``.json``
files are read, so a README, a script or a ``.txt`` file is never parsed; ``exclude`` then
``include`` globs filter paths relative to the app directory; a YAML file that is not a
Kubernetes manifest (a Helm values file, a CI config) is skipped. A symlink is followed only
to a file inside the repository; one that points outside is an error, not a silent skip.

Conveyor does not run Jsonnet: a ``.jsonnet`` file that the globs let through is an error
rather than a silent gap in the app (a gap would make the sync prune those objects).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.model.globs import compile_glob
from conveyor.model.objects import Object
from conveyor.render import documents
from conveyor.render.errors import RenderError
from conveyor.render.paths import display, is_inside, resolve_app_dir
from conveyor.render.request import DirectoryOptions, RenderRequest

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json", ".jsonnet")
"""The names Argo CD treats as manifests (its ``^.*\\.(yaml|yml|json|jsonnet)$``)."""

_SKIPPED_DIRS = frozenset({".git"})  # git's own data, never manifests


def render_directory(request: RenderRequest) -> list[Object]:
    """The objects of a directory app, in file order then document order.

    Blocking (file reads and YAML parsing): async callers run it in a worker thread.
    """
    root, app_dir = resolve_app_dir(request.root, request.path)
    log = get_logger(path=request.path)
    objects: list[Object] = []
    for path, relative in manifest_files(root, app_dir, request.directory):
        if relative.endswith(".jsonnet"):
            raise RenderError(
                "Jsonnet is not rendered by Conveyor: render it to YAML in CI, or leave it out "
                "with spec.source.directory.exclude",
                file=relative,
            )
        text = read_text(path, relative)
        parse = documents.parse_json if relative.endswith(".json") else documents.parse_yaml
        parsed = parse(text, relative)
        if parsed.not_manifest is not None:
            log.debug(
                "skipped a file that is not a manifest", file=relative, why=parsed.not_manifest
            )
        objects.extend(parsed.objects)
    return objects


def manifest_files(
    root: Path, app_dir: Path, options: DirectoryOptions
) -> Iterator[tuple[Path, str]]:
    """(real path, path relative to the app) of each file to read, in Argo CD's order."""
    try:
        exclude = compile_glob(options.exclude) if options.exclude else None
        include = compile_glob(options.include) if options.include else None
    except ValidationError as err:
        raise RenderError(f"spec.source.directory: {err.message}") from err
    for entry in _walk(app_dir, options.recurse):
        if not entry.name.endswith(MANIFEST_SUFFIXES):
            continue
        relative = display(Path(entry.path), app_dir)
        real = _real_file(entry, root, relative)
        if real is None:
            continue
        if exclude is not None and exclude.match(relative):
            continue
        if include is not None and not include.match(relative):
            continue
        yield real, relative


def _walk(directory: Path, recurse: bool) -> Iterator[os.DirEntry[str]]:
    """Files under ``directory`` in lexical order, as Go's filepath.Walk visits them.

    Symlinked directories are not entered, so a link cannot lead the walk out of the tree or
    into a loop.
    """
    with os.scandir(directory) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if recurse and entry.name not in _SKIPPED_DIRS:
                yield from _walk(Path(entry.path), recurse)
            continue
        yield entry


def _real_file(entry: os.DirEntry[str], root: Path, relative: str) -> Path | None:
    """The regular file to read for ``entry``, None to skip it; refuses links out of root."""
    path = Path(entry.path)
    if not entry.is_symlink():
        return path if entry.is_file(follow_symlinks=False) else None
    real = path.resolve()
    if not real.exists():
        get_logger().debug("skipped a symlink whose target is missing", file=relative)
        return None
    if not is_inside(real, root):
        raise RenderError(
            "this symlink points outside the repository, which Conveyor does not follow: "
            "replace it with the file itself",
            file=relative,
        )
    return real if real.is_file() else None


def read_text(path: Path, relative: str) -> str:
    """The file's text: UTF-8 (a BOM is dropped) or UTF-16 with a BOM, as Argo CD reads it."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise RenderError(f"cannot read the file: {err.strerror}", file=relative) from err
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise RenderError(
            f"the file is not UTF-8 text (byte {err.start} cannot be decoded)", file=relative
        ) from err
