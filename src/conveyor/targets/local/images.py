"""Resolves a container's ``image: NAME:TAG`` to an artifact from ``conveyor artifact build``."""

from __future__ import annotations

from conveyor.artifacts import ArtifactStore
from conveyor.targets.local.kubelet import ResolvedImage


class ArtifactImages:
    """The kubelet's ImageResolver backed by the local artifact store."""

    def __init__(self, store: ArtifactStore) -> None:
        self._store = store

    def resolve(self, image: str) -> ResolvedImage | None:
        artifact = self._store.resolve(image)
        if artifact is None:
            return None
        return ResolvedImage(
            working_dir=artifact.source_dir,
            path_prepend=(str(artifact.venv_dir / "bin"),),
            command=tuple(artifact.command) if artifact.command else None,
        )
