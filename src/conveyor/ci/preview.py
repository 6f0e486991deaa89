"""Preview of a config change: what every app and environment would get, before merging.

A change to a kustomize base or a values file can reach several environments at once, and
the files changed say little about the manifests that will be applied. So the preview renders
every Application found in the config repository (``kind: Application`` manifests anywhere in
it) at both revisions, with the same renderer the engine uses, and shows each object that
differs as a unified YAML diff. An app is "touched" when its rendered output changed, which
catches a base shared by overlays as well as a direct edit. Secret values are masked (equal
values get equal masks, so a changed value shows as a changed mask).

The trees are read from git objects (conveyor.source's tree reader: no checkout, symlinks
that leave the repository refused), never from the working tree.
"""

from __future__ import annotations

import asyncio
import difflib
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from conveyor.diff.secrets import mask_secrets
from conveyor.engine.compare import prepare
from conveyor.errors import ConveyorError
from conveyor.gitrun import run_git
from conveyor.model.objects import Object
from conveyor.render import Renderer, RenderRequest
from conveyor.source.catfile import ObjectReader
from conveyor.source.export import write_files
from conveyor.source.tree import read_path

GIT_TIMEOUT = 60.0


class PreviewError(ConveyorError):
    """A revision could not be resolved or read."""


@dataclass(frozen=True)
class ObjectChange:
    key: str
    """``group/Kind/namespace/name``."""
    action: str
    """added, removed or changed."""
    diff: str


@dataclass(frozen=True)
class AppPreview:
    app: str
    path: str
    changes: list[ObjectChange] = field(default_factory=list)
    error: str = ""
    """A render failure at either revision (the change may break the app)."""


async def _git(repo: Path, *args: str) -> str:
    out = await run_git(["-C", str(repo), *args], timeout=GIT_TIMEOUT, ceiling=repo.parent)
    if out.returncode != 0:
        raise PreviewError(f"git {args[0]}: {out.stderr.decode(errors='replace').strip()}")
    return out.stdout.decode().strip()


async def export(repo: Path, revision: str, dest: Path) -> str:
    """Write the whole tree of ``revision`` into ``dest``; returns its commit SHA."""
    if revision.startswith("-"):
        raise PreviewError(f"revision {revision!r} is not allowed")
    sha = await _git(repo, "rev-parse", "--verify", "--end-of-options", f"{revision}^{{commit}}")
    git_dir = Path(await _git(repo, "rev-parse", "--absolute-git-dir"))
    async with ObjectReader(git_dir) as objects:
        files = await read_path(objects, sha, PurePosixPath("."), where=str(repo))
    await asyncio.to_thread(write_files, files, dest)
    return sha


def find_applications(root: Path) -> dict[str, dict[str, Any]]:
    """Every Application manifest in the tree, by name."""
    apps: dict[str, dict[str, Any]] = {}
    for path in sorted([*root.rglob("*.yaml"), *root.rglob("*.yml")]):
        text = path.read_text(errors="replace")
        if "kind: Application" not in text:
            continue
        try:
            docs = list(yaml.safe_load_all(text))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if (
                isinstance(doc, dict)
                and doc.get("kind") == "Application"
                and str(doc.get("apiVersion", "")).startswith("argoproj.io/")
            ):
                apps[str((doc.get("metadata") or {}).get("name", path.stem))] = doc
    return apps


async def render(root: Path, application: Mapping[str, Any]) -> list[Object] | None:
    """The app's manifests at ``root`` as the engine applies them (tracking label, default
    namespace); None when its path is not in this tree."""
    spec = application.get("spec") or {}
    source = spec.get("source") or {}
    path = str(source.get("path") or ".")
    if not (root / path).is_dir():
        return None
    name = str((application.get("metadata") or {}).get("name", ""))
    namespace = str((spec.get("destination") or {}).get("namespace") or "")
    request = RenderRequest.from_source(root, source, app_name=name, namespace=namespace)
    manifests = (await Renderer().render(request)).manifests
    return prepare(manifests, name, namespace)  # as the engine would apply them


def object_key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0] or "core"
    return f"{group}/{obj.get('kind', '?')}/{meta.get('namespace') or '-'}/{meta.get('name', '?')}"


def _lines(obj: Any) -> list[str]:
    if obj is None:
        return []
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


def diff_objects(base: Iterable[Object], head: Iterable[Object]) -> list[ObjectChange]:
    """Per object: added, removed or changed, with a unified diff (Secrets masked)."""
    before = {object_key(o): o for o in base}
    after = {object_key(o): o for o in head}
    changes: list[ObjectChange] = []
    for key in sorted(before.keys() | after.keys()):
        new, old = mask_secrets(after.get(key), before.get(key))
        if new == old:
            continue
        action = "added" if old is None else "removed" if new is None else "changed"
        text = "".join(
            difflib.unified_diff(_lines(old), _lines(new), fromfile=f"base/{key}",
                                 tofile=f"head/{key}")
        )  # fmt: skip
        changes.append(ObjectChange(key, action, text))
    return changes


@dataclass(frozen=True)
class Rendered:
    """One Application rendered at both revisions (None: its path is not in that tree)."""

    app: str
    path: str
    application: Mapping[str, Any]
    base: list[Object] | None
    head: list[Object] | None
    error: str = ""
    """A render failure at either revision."""


async def render_trees(base: Path, head: Path) -> list[Rendered]:
    """Every Application found in either tree, rendered in both (apps in neither left out)."""
    apps = {**find_applications(base), **find_applications(head)}
    found: list[Rendered] = []
    for name, application in sorted(apps.items()):
        path = str(((application.get("spec") or {}).get("source") or {}).get("path") or ".")
        try:
            before, after = await render(base, application), await render(head, application)
        except ConveyorError as err:
            found.append(Rendered(name, path, application, None, None, str(err)))
            continue
        if before is not None or after is not None:
            found.append(Rendered(name, path, application, before, after))
    return found


def previews_of(rendered: Iterable[Rendered]) -> list[AppPreview]:
    """The apps whose rendered manifests differ (or that fail to render), with their diffs."""
    previews: list[AppPreview] = []
    for r in rendered:
        if r.error:
            previews.append(AppPreview(r.app, r.path, error=r.error))
            continue
        changes = diff_objects(r.base or [], r.head or [])
        if changes:
            previews.append(AppPreview(r.app, r.path, changes))
    return previews


async def preview(repo: Path, base: str, head: str) -> list[AppPreview]:
    """Every app whose rendered manifests differ between ``base`` and ``head``."""
    with tempfile.TemporaryDirectory(prefix="conveyor-preview-") as tmp:
        roots = {"base": Path(tmp) / "base", "head": Path(tmp) / "head"}
        await export(repo, base, roots["base"])
        await export(repo, head, roots["head"])
        return previews_of(await render_trees(roots["base"], roots["head"]))


def to_text(previews: list[AppPreview]) -> str:
    if not previews:
        return "no application's manifests change\n"
    out: list[str] = []
    for p in previews:
        out.append(f"=== {p.app} ({p.path})\n")
        if p.error:
            out.append(f"render failed: {p.error}\n")
        for change in p.changes:
            out.append(f"--- {change.action}: {change.key}\n{change.diff}")
    return "".join(out)


def to_markdown(previews: list[AppPreview]) -> str:
    if not previews:
        return "**Conveyor preview**: no application's manifests change.\n"
    out = ["### Conveyor preview\n\n", "| app | path | objects |\n|---|---|---|\n"]
    for p in previews:
        summary = (
            "render failed"
            if p.error
            else ", ".join(f"{c.key.split('/', 1)[1]} {c.action}" for c in p.changes)
        )
        out.append(f"| `{p.app}` | `{p.path}` | {summary} |\n")
    for p in previews:
        out.append(f"\n<details><summary><code>{p.app}</code></summary>\n\n")
        if p.error:
            out.append(f"Render failed: `{p.error}`\n")
        for change in p.changes:
            out.append(f"```diff\n{change.diff}```\n")
        out.append("\n</details>\n")
    return "".join(out)
