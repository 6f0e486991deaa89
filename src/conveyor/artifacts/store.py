"""The local artifact store: where built artifacts live and how ``image: NAME:TAG`` finds one.

An artifact is immutable: a source tree at one commit plus the virtualenv built from it. On
disk each is ``<root>/<name>/<tag>/`` holding ``src/``, ``venv/``, ``build.log`` and
``artifact.json``; a tag directory only ever appears complete (builds are staged in a hidden
``.build-*`` directory and renamed into place), so whatever this module can read is finished.
The local runtime resolves container images here; a miss is an ImagePullBackOff, not a crash.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conveyor.clock import Clock, SystemClock
from conveyor.errors import ValidationError
from conveyor.gitrun import DEFAULT_LIMITS, NetworkLimits

METADATA_FILE = "artifact.json"
SOURCE_DIR = "src"
VENV_DIR = "venv"
BUILD_LOG = "build.log"
STAGING_PREFIX = ".build-"
"""Builds in progress (or abandoned by a crash); never listed, never resolved."""
FORMAT_VERSION = 1

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_MAX_NAME = 200
MUTABLE_TAGS = frozenset({"latest"})
"""Tags that conventionally move; refused, because an artifact tag names one build forever."""


def validate_name(name: str) -> None:
    """Refuse names that are not image repository names (``hello-app``, ``acme/api``)."""
    if not name or len(name) > _MAX_NAME or not _NAME.match(name):
        raise ValidationError(
            f"artifact name {name!r} is not a valid image name: use lowercase letters and "
            "digits, separated by '.', '_' or '-' (and '/' between path components), "
            f"at most {_MAX_NAME} characters, e.g. 'hello-app' or 'acme/api'"
        )


def validate_tag(tag: str) -> None:
    """Refuse tags that are not image tags, and tags like ``latest`` that imply moving."""
    if not _TAG.match(tag):
        raise ValidationError(
            f"tag {tag!r} is not a valid image tag: use letters, digits, '_', '.' and '-', "
            "not starting with '.' or '-', at most 128 characters"
        )
    if tag in MUTABLE_TAGS:
        raise ValidationError(
            f"tag {tag!r} is refused: artifact tags are immutable, so a tag that suggests "
            "'the newest' would lie; use the commit SHA (the default) or a version"
        )


def _is_valid(name: str, tag: str) -> bool:
    try:
        validate_name(name)
        validate_tag(tag)
    except ValidationError:
        return False
    return True


def image_candidates(image: str) -> list[tuple[str, str]]:
    """The (name, tag) pairs ``image`` may refer to, most specific first; [] if it cannot.

    ``registry.example/org/app:1`` gives ``registry.example/org/app`` then ``app``. No tag,
    ``latest`` and digests give nothing: tags must be explicit and immutable.
    """
    image = image.strip()
    if "@" in image:
        return []
    repository, colon, tag = image.rpartition(":")
    if not colon or "/" in tag:
        return []
    candidates = [repository, repository.rsplit("/", 1)[-1]]
    unique = list(dict.fromkeys(candidates))
    return [(name, tag) for name in unique if _is_valid(name, tag)]


@dataclass(frozen=True)
class Artifact:
    """One finished, immutable artifact in the store."""

    name: str
    tag: str
    path: Path
    """The artifact's root directory, ``<root>/<name>/<tag>``."""
    source_dir: Path
    """The source tree at ``revision``: the default workingDir of containers."""
    venv_dir: Path
    """Its virtualenv; ``venv_dir / "bin"`` goes first on PATH."""
    source: str
    """Where it was built from (URL or path), credentials stripped."""
    revision: str | None
    """The full commit SHA; None for a plain directory."""
    created: str
    """When it was built, RFC 3339."""
    command: list[str] | None
    """Default command of containers that give none (``--command`` or a Procfile ``web:``)."""

    @property
    def image(self) -> str:
        """``name:tag``, what a container's ``image:`` says to run this artifact."""
        return f"{self.name}:{self.tag}"

    @property
    def build_log(self) -> Path:
        """The output of the build (pip's included)."""
        return self.path / BUILD_LOG

    def metadata(self) -> dict[str, Any]:
        """What ``artifact.json`` records (paths are derived from where the file is)."""
        return {
            "format": FORMAT_VERSION,
            "name": self.name,
            "tag": self.tag,
            "source": self.source,
            "revision": self.revision,
            "created": self.created,
            "command": self.command,
        }

    def to_dict(self) -> dict[str, Any]:
        """The artifact as JSON-ready data, as ``conveyor artifact list -o json`` prints it."""
        return {
            "name": self.name,
            "tag": self.tag,
            "image": self.image,
            "source": self.source,
            "revision": self.revision,
            "created": self.created,
            "command": self.command,
            "path": str(self.path),
            "source_dir": str(self.source_dir),
            "venv_dir": str(self.venv_dir),
        }

    @classmethod
    def at(cls, path: Path, metadata: dict[str, Any]) -> Artifact:
        """The artifact whose directory is ``path``, described by ``metadata``."""
        command = metadata.get("command")
        revision = metadata.get("revision")
        return cls(
            name=str(metadata["name"]),
            tag=str(metadata["tag"]),
            path=path,
            source_dir=path / SOURCE_DIR,
            venv_dir=path / VENV_DIR,
            source=str(metadata.get("source", "")),
            revision=str(revision) if revision else None,
            created=str(metadata.get("created", "")),
            command=[str(part) for part in command] if isinstance(command, list) else None,
        )


def load(path: Path) -> Artifact | None:
    """The artifact in directory ``path``, or None if there is no readable one."""
    try:
        metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
        if not isinstance(metadata, dict):
            return None
        return Artifact.at(path, metadata)
    except (OSError, ValueError, KeyError):
        return None


class ArtifactStore:
    """The artifacts under one root directory (``Settings.artifacts_dir``)."""

    def __init__(
        self,
        root: Path,
        *,
        clock: Clock | None = None,
        git_limits: NetworkLimits = DEFAULT_LIMITS,
    ) -> None:
        self.root = root
        self.clock: Clock = clock or SystemClock()
        self.git_limits = git_limits
        """How long a clone or fetch of a build's source may stall (``conveyor.gitrun``)."""

    def name_dir(self, name: str) -> Path:
        """The directory holding every tag of ``name`` (``/`` in a name becomes ``+``)."""
        return self.root / name.replace("/", "+")

    def artifact_dir(self, name: str, tag: str) -> Path:
        """Where the artifact ``name:tag`` lives (or would live)."""
        return self.name_dir(name) / tag

    def list(self) -> list[Artifact]:
        """Every finished artifact, sorted by name, then creation time, then tag."""
        found: list[Artifact] = []
        if not self.root.is_dir():
            return found
        for name_dir in self.root.iterdir():
            if name_dir.name.startswith(".") or not name_dir.is_dir():
                continue
            for tag_dir in name_dir.iterdir():
                if tag_dir.name.startswith("."):
                    continue
                artifact = load(tag_dir)
                if artifact is not None and self._belongs(artifact, tag_dir):
                    found.append(artifact)
        return sorted(found, key=lambda a: (a.name, a.created, a.tag))

    def get(self, name: str, tag: str) -> Artifact | None:
        """The artifact ``name:tag``, or None if there is none (or the name cannot exist)."""
        if not _is_valid(name, tag):
            return None
        path = self.artifact_dir(name, tag)
        artifact = load(path)
        return artifact if artifact is not None and self._belongs(artifact, path) else None

    def resolve(self, image: str) -> Artifact | None:
        """The artifact a container's ``image:`` names, or None (the Pod waits, ImagePullBackOff).

        ``name:tag`` and ``registry.example/org/name:tag`` (full repository name first, then
        its last path segment) resolve; no tag, ``latest`` and digests do not.
        """
        for name, tag in image_candidates(image):
            artifact = self.get(name, tag)
            if artifact is not None:
                return artifact
        return None

    async def build(
        self,
        name: str,
        *,
        source: str,
        revision: str | None = None,
        tag: str | None = None,
        command: builtins.list[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Artifact:
        """Build ``name`` from ``source`` at ``revision`` (see ``conveyor.artifacts.build``).

        Raises ValidationError / NotFoundError for bad input, ConflictError if the tag exists,
        BuildError if installing the dependencies fails. Nothing is left behind on failure.
        """
        # Imported here because the build module imports this one (Artifact, the layout).
        from conveyor.artifacts.build import build_artifact

        return await build_artifact(
            self,
            name,
            source=source,
            revision=revision,
            tag=tag,
            command=command,
            progress=progress,
        )

    def _belongs(self, artifact: Artifact, path: Path) -> bool:
        """Whether the metadata in ``path`` agrees with where it is (a copied dir would not)."""
        return self.artifact_dir(artifact.name, artifact.tag) == path
