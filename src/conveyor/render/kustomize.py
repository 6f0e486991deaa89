"""Kustomize apps, built by the real kustomize (``kubectl kustomize``).

Before the build Conveyor reads the kustomization graph itself (the app's kustomization and
every local base, component, generator and transformer directory it reaches) for two reasons:
a YAML error in a kustomization is reported with its file and line, and a reference whose real
location is outside the repository (``../../../etc``, or a symlink) is refused. kustomize's
own load restrictor already keeps *files* inside each kustomization's directory; directories
are where it allows any path. A remote base (``https://host/org/repo//dir``, ``file:///...``)
is fetched by kustomize, but only when the project's sourceRepos permit its repository
(``RenderRequest.source_repos``, as Argo CD's repo-server would need it registered), and never
from Conveyor's own directories (``private_dirs``: the mirrors of other teams' repositories).
The remote base's own remote bases are kustomize's to fetch and are not seen here.

spec.source.kustomize parameters are applied as edits to a copy: the directories of the graph
are copied (hard links where the filesystem allows) into a temporary tree at the same relative
places, so ``../base`` still resolves, and only the copy's kustomization is rewritten. Without
parameters the user's tree is built where it is; kustomize never writes to it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from conveyor.model.appproject import source_repos_verdict
from conveyor.model.objects import Object
from conveyor.model.repourls import kustomize_remote_repo, parse_repo_url
from conveyor.render import documents
from conveyor.render.errors import RenderError
from conveyor.render.kustomize_edits import apply_edits
from conveyor.render.paths import display, is_inside, resolve_app_dir
from conveyor.render.process import ToolOutput, kubectl_binary, run_tool
from conveyor.render.request import KUSTOMIZATION_FILES, RenderRequest

REFERENCE_FIELDS = ("resources", "bases", "components", "generators", "transformers", "validators")
"""Kustomization fields whose entries may name another directory (a kustomization)."""

MAX_KUSTOMIZATIONS = 1000
"""Kustomizations one app may reach; a bound for a graph that a repository controls."""


@dataclass(frozen=True)
class Graph:
    """The local kustomizations one app reaches: real directories, the app's first."""

    directories: tuple[Path, ...]


async def render_kustomize(request: RenderRequest, *, kubectl: str | None = None) -> list[Object]:
    """The objects ``kubectl kustomize`` builds for the app, parameters applied.

    The caller bounds the time (``asyncio.timeout``); cancelling kills kubectl.
    """
    root, app_dir = await asyncio.to_thread(resolve_app_dir, request.root, request.path)
    graph = await asyncio.to_thread(read_graph, root, app_dir, _remote_check(request))
    binary = kubectl if kubectl is not None else await asyncio.to_thread(kubectl_binary)
    if not request.kustomize.has_edits():
        output = await run_tool([binary, "kustomize", str(app_dir)])
        return await _objects(output, root, app_dir, {})
    build_root = await asyncio.to_thread(_scratch_dir)
    try:
        build_dir = await asyncio.to_thread(
            _prepare_copy, request, root, app_dir, graph, build_root
        )
        output = await run_tool([binary, "kustomize", str(build_dir)])
        return await _objects(output, root, app_dir, {build_root: root})
    finally:
        await asyncio.to_thread(shutil.rmtree, build_root, ignore_errors=True)


async def _objects(
    output: ToolOutput, root: Path, app_dir: Path, moved: dict[Path, Path]
) -> list[Object]:
    if output.returncode != 0:
        raise kustomize_error(output.stderr, root, app_dir, moved)
    return await asyncio.to_thread(documents.parse_stream, output.stdout, "kustomize output")


def _scratch_dir() -> Path:
    """A new private temporary directory, by its real path (kustomize reports real paths)."""
    return Path(os.path.realpath(tempfile.mkdtemp(prefix="conveyor-kustomize-")))


def kustomization_file(directory: Path, app_dir: Path) -> Path:
    """The kustomization file of ``directory``; RenderError when there is none or several."""
    found = [directory / name for name in KUSTOMIZATION_FILES if (directory / name).is_file()]
    where = None if directory == app_dir else display(directory, app_dir)
    if len(found) > 1:
        names = ", ".join(path.name for path in found)
        raise RenderError(
            f"several kustomization files ({names}): kustomize needs exactly one, delete the rest",
            file=where,
        )
    if not found:
        raise RenderError(
            "no kustomization.yaml, kustomization.yml or Kustomization in this directory",
            file=where,
        )
    return found[0]


def load_kustomization(path: Path, app_dir: Path) -> CommentedMap:
    """The kustomization, round-trip parsed; RenderError with the line for bad YAML."""
    shown = display(path, app_dir)
    try:
        data = YAML(typ="rt").load(path.read_text(encoding="utf-8-sig"))
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise RenderError(
            f"YAML syntax error: {err.problem or err.context}",
            file=shown,
            line=mark.line + 1 if mark is not None else None,
        ) from err
    except (YAMLError, OSError, UnicodeDecodeError) as err:
        raise RenderError(f"cannot read the kustomization: {err}", file=shown) from err
    if data is None:
        return CommentedMap()
    if not isinstance(data, CommentedMap):
        raise RenderError("a kustomization must be a YAML mapping", file=shown)
    return data


RemoteCheck = Callable[[str], str | None]
"""A remote reference -> why it is refused, or None."""


def _remote_check(request: RenderRequest) -> RemoteCheck:
    private = [Path(os.path.realpath(d)) for d in request.private_dirs]

    def check(entry: str) -> str | None:
        repo = kustomize_remote_repo(entry)
        if repo is None:
            return None
        parts = parse_repo_url(repo)
        if parts.scheme == "file":
            real = Path(os.path.realpath(parts.path))
            if any(is_inside(real, d) for d in private):
                return (
                    f"remote base {entry!r} reads Conveyor's own repository mirrors:"
                    " reference the repository by its URL"
                )
        if request.source_repos is None:
            return None
        verdict = source_repos_verdict(request.source_repos, repo, request.project)
        return None if verdict else f"remote base {entry!r}: {verdict.reason}"

    return check


def read_graph(root: Path, app_dir: Path, remote: RemoteCheck | None = None) -> Graph:
    """Every local kustomization directory the app reaches; refuses ones outside ``root``.

    ``remote`` refuses remote references (see ``_remote_check``)."""
    order: list[Path] = []
    pending = [app_dir]
    while pending:
        directory = pending.pop()
        if directory in order:
            continue
        if len(order) >= MAX_KUSTOMIZATIONS:
            raise RenderError(f"the app reaches more than {MAX_KUSTOMIZATIONS} kustomizations")
        order.append(directory)
        file = kustomization_file(directory, app_dir)
        kustomization = load_kustomization(file, app_dir)
        for target in _references(kustomization, file, root, app_dir, remote):
            if target.is_dir() and any((target / n).is_file() for n in KUSTOMIZATION_FILES):
                pending.append(target)
    return Graph(tuple(order))


def _references(
    kustomization: CommentedMap,
    file: Path,
    root: Path,
    app_dir: Path,
    remote: RemoteCheck | None = None,
) -> list[Path]:
    """The real paths of the local entries of REFERENCE_FIELDS, each checked against root;
    remote entries are checked by ``remote``."""
    targets = []
    for key in REFERENCE_FIELDS:
        entries = kustomization.get(key)
        if entries is None:
            continue
        if not isinstance(entries, CommentedSeq):
            raise RenderError(f"{key} must be a list", file=display(file, app_dir))
        for index, entry in enumerate(entries):
            if not isinstance(entry, str):
                continue  # an inline generator or transformer configuration
            # kustomize joins and cleans the path lexically, then follows symlinks.
            joined = Path(os.path.normpath(os.path.join(file.parent, entry)))
            if not joined.exists():
                refused = remote(entry) if remote is not None else None
                if refused is not None:
                    raise RenderError(
                        refused, file=display(file, app_dir), line=_item_line(entries, index)
                    )
                continue  # a permitted remote base, or missing: kustomize reports it
            target = joined.resolve()
            if not is_inside(target, root):
                raise RenderError(
                    f"{key} entry {entry!r} points outside the repository; only paths inside "
                    "it (or remote URLs) may be referenced",
                    file=display(file, app_dir),
                    line=_item_line(entries, index),
                )
            targets.append(target)
    return targets


def _item_line(entries: CommentedSeq, index: int) -> int | None:
    try:
        return int(entries.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return None


def _prepare_copy(
    request: RenderRequest, root: Path, app_dir: Path, graph: Graph, build_root: Path
) -> Path:
    """Copy the graph's directories under ``build_root`` and edit the app's kustomization."""
    tops = sorted(graph.directories)
    tops = [d for d in tops if not any(d != t and d.is_relative_to(t) for t in tops)]
    for directory in tops:
        shutil.copytree(
            directory,
            build_root / directory.relative_to(root),
            symlinks=True,
            ignore=shutil.ignore_patterns(".git"),
            copy_function=_link_or_copy,
            dirs_exist_ok=True,
        )
    build_dir = build_root / app_dir.relative_to(root)
    original = kustomization_file(app_dir, app_dir)
    kustomization = load_kustomization(original, app_dir)
    apply_edits(kustomization, request.kustomize, file=original.name)
    target = build_dir / original.name
    target.unlink()  # a hard link to the user's file: replace the link, never write through it
    buffer = StringIO()
    YAML(typ="rt").dump(kustomization, buffer)
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return build_dir


def _link_or_copy(source: str, destination: str) -> Any:
    """Hard-link when the filesystem allows (no data copied), else copy."""
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
    return destination


_IN_FILE = re.compile(r"in File: (\S+)")
_RECURSED = re.compile(r"recursed accumulation of path '([^']+)'")
_YAML_LINE = re.compile(r"yaml: line (\d+)")


def kustomize_error(stderr: str, root: Path, app_dir: Path, moved: dict[Path, Path]) -> RenderError:
    """kustomize's error, paths shown relative to the app, with the file and line it names.

    kustomize names a bad resource as ``in File: NAME`` relative to the kustomization being
    built at that point, the last ``recursed accumulation of path '...'``; an error without a
    file is the fault of that kustomization. For a YAML error the file is parsed again here:
    kustomize's line is that of the document it split out, the parser's is the file's.
    """
    text = stderr.strip()
    for temporary, original in moved.items():
        text = text.replace(str(temporary), str(original))
    lines = [
        re.sub(r"^error: ", "", line)
        for line in text.splitlines()
        if line.strip() and not line.startswith("# Warning")
    ]
    text = " ".join(lines) or "kustomize failed without saying why"
    recursed = _RECURSED.findall(text)
    current = Path(recursed[-1]) if recursed else app_dir
    in_file = _IN_FILE.search(text)
    reported = _YAML_LINE.search(text)
    line = int(reported.group(1)) if reported else None
    if in_file is not None:
        path = current / in_file.group(1)
        line = _syntax_error_line(path, root) or line
    else:
        names = [current / n for n in KUSTOMIZATION_FILES if (current / n).is_file()]
        path = names[0] if names else current
    message = re.sub(
        re.escape(str(root)) + r"(/[^\s':]*)?",
        lambda match: display(Path(match.group(0)), app_dir),
        text,
    )
    return RenderError(f"kustomize: {message}", file=display(path, app_dir), line=line)


def _syntax_error_line(path: Path, root: Path) -> int | None:
    """The line of the first YAML syntax error in ``path`` (inside root), if it has one."""
    real = path.resolve()
    if not is_inside(real, root) or not real.is_file():
        return None
    try:
        for _ in documents.load_yaml_documents(real.read_text(encoding="utf-8-sig"), path.name):
            pass
    except RenderError as err:
        return err.line
    except (OSError, UnicodeDecodeError):
        return None
    return None
