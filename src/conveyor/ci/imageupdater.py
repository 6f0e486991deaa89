"""Argo CD Image Updater's annotations, read into write-back targets.

Teams that already run the Image Updater describe on each Application which images to track
and where their tags live in Git; Conveyor's write-back reads the same annotations, so an
Application moves between the two unchanged:

- ``image-list``: ``alias=name[:constraint], ...`` (the constraint is the Updater's registry
  query; Conveyor is handed the tag by its pipeline, so a constraint is ignored with a warning);
- ``write-back-method``: ``git`` (``git:secret:…``/``git:repocreds`` credentials work the
  same way; ``argocd``, the Updater's parameter-override mode, is refused: Git stays the truth);
- ``write-back-target``: ``kustomization[:path]`` (relative to the app's source path, or from
  the repository root when it starts with ``/``), ``helmvalues[:path]`` (default
  ``values.yaml``), and Conveyor's own ``manifest:path`` for a plain manifest;
- ``<alias>.helm.image-tag`` / ``<alias>.helm.image-spec``: the values path to set;
  ``<alias>.kustomize.image-name``: the name in the kustomization's ``images`` list;
- ``git-branch``: ``base`` or ``base:target`` (write to ``target`` for review);
- ``git-repository``: the config repository when it is not the app's source.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from conveyor.errors import ValidationError

PREFIX = "argocd-image-updater.argoproj.io/"
IMAGE_LIST = PREFIX + "image-list"
WRITE_BACK_METHOD = PREFIX + "write-back-method"
WRITE_BACK_TARGET = PREFIX + "write-back-target"
GIT_BRANCH = PREFIX + "git-branch"
GIT_REPOSITORY = PREFIX + "git-repository"


class TargetKind(StrEnum):
    """Where a tag is written."""

    KUSTOMIZATION = "kustomization"
    HELM_VALUES = "helmvalues"
    MANIFEST = "manifest"


@dataclass(frozen=True)
class TagEdit:
    """One tag to set in one file of the config repository."""

    kind: TargetKind
    path: str
    """File path inside the repository (posix, no leading slash, confined)."""
    image: str
    """Image name (repository part); for Helm, the image the values path belongs to."""
    values_key: str = ""
    """Helm only: dotted values path of the tag (or the whole ``name:tag`` for image-spec)."""
    full_spec: bool = False
    """Helm only: the values path holds ``name:tag`` rather than the tag alone."""


@dataclass(frozen=True)
class UpdaterConfig:
    """An Application's write-back configuration, from its annotations and source."""

    repo_url: str
    base_branch: str
    """The branch to read; "" for the remote's default (targetRevision HEAD)."""
    target_branch: str
    """The branch to push to: ``base_branch`` normally, another one for review."""
    images: dict[str, str]
    """Alias -> image name."""
    edits: dict[str, TagEdit]
    """Alias -> where its tag goes."""
    warnings: tuple[str, ...] = ()


def confined(path: str) -> str:
    """``path`` normalised inside the repository; raises when it leaves it."""
    norm = posixpath.normpath("/" + path.strip()).lstrip("/")
    if norm in ("", ".") or path.strip() == "":
        raise ValidationError("write-back path is empty")
    if ".." in norm.split("/") or "\x00" in norm:
        raise ValidationError(f"write-back path {path!r} leaves the repository")
    return norm


def _resolve(source_path: str, target: str) -> str:
    if target.startswith("/"):
        return confined(target)
    joined = posixpath.normpath(posixpath.join("/", source_path or "", target))
    if not joined.startswith("/") or ".." in joined.split("/"):
        raise ValidationError(f"write-back path {target!r} leaves the repository")
    return confined(joined)


def parse_image_list(value: str) -> tuple[dict[str, str], list[str]]:
    """``alias=name[:constraint]`` entries -> alias -> name, plus warnings."""
    images: dict[str, str] = {}
    warnings: list[str] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        alias, sep, ref = entry.partition("=")
        if not sep:
            ref, alias = alias, ""
        name = ref.split("@", 1)[0]
        slash, colon = name.rfind("/"), name.rfind(":")
        if colon > slash:
            warnings.append(
                f"image {name!r}: the version constraint {name[colon + 1 :]!r} is ignored; "
                "write-back sets the tag the pipeline built"
            )
            name = name[:colon]
        alias = alias.strip() or name.rsplit("/", 1)[-1]
        images[alias] = name.strip()
    if not images:
        raise ValidationError(f"{IMAGE_LIST} names no image")
    return images, warnings


def read_config(application: Mapping[str, Any]) -> UpdaterConfig:
    """The write-back configuration of an Application manifest; raises when it has none."""
    meta = application.get("metadata") or {}
    notes: Mapping[str, str] = meta.get("annotations") or {}
    name = meta.get("name", "?")
    if IMAGE_LIST not in notes:
        raise ValidationError(f"application {name!r} has no {IMAGE_LIST} annotation")
    method = notes.get(WRITE_BACK_METHOD, "argocd")
    if method.split(":", 1)[0] != "git":
        raise ValidationError(
            f"application {name!r}: {WRITE_BACK_METHOD} is {method!r}; Conveyor writes back "
            "to Git only (set it to `git`)"
        )
    source = (application.get("spec") or {}).get("source") or {}
    source_path = str(source.get("path") or "")
    repo_url = notes.get(GIT_REPOSITORY) or str(source.get("repoURL") or "")
    if not repo_url:
        raise ValidationError(f"application {name!r} has no source repoURL to write back to")
    revision = str(source.get("targetRevision") or "HEAD")
    base, _, target = notes.get(GIT_BRANCH, "").partition(":")
    base = base or ("" if revision == "HEAD" else revision)
    images, warnings = parse_image_list(notes[IMAGE_LIST])
    kind_text, _, where = notes.get(WRITE_BACK_TARGET, "").partition(":")
    default_kind = "helmvalues" if "helm" in source else "kustomization"
    try:
        kind = TargetKind(kind_text or default_kind)
    except ValueError as err:
        raise ValidationError(
            f"application {name!r}: {WRITE_BACK_TARGET} {kind_text!r} is not one of "
            "kustomization, helmvalues, manifest"
        ) from err
    edits: dict[str, TagEdit] = {}
    for alias, image in images.items():
        edits[alias] = _edit(kind, where, source_path, alias, image, notes, name)
    return UpdaterConfig(
        repo_url=repo_url,
        base_branch=base,
        target_branch=target or base,
        images=images,
        edits=edits,
        warnings=tuple(warnings),
    )


def _edit(
    kind: TargetKind,
    where: str,
    source_path: str,
    alias: str,
    image: str,
    notes: Mapping[str, str],
    app: str,
) -> TagEdit:
    if kind is TargetKind.KUSTOMIZATION:
        base = _resolve(source_path, where or ".") if where or source_path else ""
        path = posixpath.join(base, "kustomization.yaml") if base else "kustomization.yaml"
        name = notes.get(f"{PREFIX}{alias}.kustomize.image-name", image)
        return TagEdit(kind, confined(path), name)
    if kind is TargetKind.HELM_VALUES:
        path = _resolve(source_path, where or "values.yaml")
        spec = notes.get(f"{PREFIX}{alias}.helm.image-spec")
        key = spec or notes.get(f"{PREFIX}{alias}.helm.image-tag", "image.tag")
        return TagEdit(kind, path, image, values_key=key, full_spec=bool(spec))
    if not where:
        raise ValidationError(f"application {app!r}: write-back target `manifest` needs a path")
    return TagEdit(kind, _resolve(source_path, where), image)
