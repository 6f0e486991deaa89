"""Immutable artifacts: a source tree at one commit plus its virtualenv, addressed as NAME:TAG.

``conveyor artifact build`` fills the store; the local runtime resolves a container's
``image: NAME:TAG`` through it. This is the package's public front; its modules are
``store`` (layout, list, get, resolve), ``build`` (the build), ``venv`` (its virtualenv),
``buildlog`` (its log) and ``gitsource`` (safe git).
"""

from conveyor.artifacts.build import StagedArtifact, parse_command, stage_artifact
from conveyor.artifacts.store import (
    Artifact,
    ArtifactStore,
    image_candidates,
    validate_name,
    validate_tag,
)
from conveyor.artifacts.venv import BuildError

__all__ = [
    "Artifact",
    "ArtifactStore",
    "BuildError",
    "StagedArtifact",
    "image_candidates",
    "parse_command",
    "stage_artifact",
    "validate_name",
    "validate_tag",
]
