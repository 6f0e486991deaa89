"""What every stage is handed: the exported tree, a scratch directory, the pipeline file,
and, once the build is staged, the staged artifact (later the published one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conveyor.artifacts import Artifact, ArtifactStore, StagedArtifact
from conveyor.ci.config import PipelineConfig


@dataclass
class StageContext:
    name: str
    """The artifact name."""
    commit: str
    """The full SHA the tree was exported at: the artifact's tag."""
    repo: Path
    tree: Path
    """The tree at ``commit``, exported (never the working tree)."""
    work: Path
    """Scratch space of this run, outside the tree; removed afterwards."""
    config: PipelineConfig
    run_id: str = ""
    store: ArtifactStore | None = None
    """Where ``stage`` builds and ``publish`` tags."""
    staged: StagedArtifact | None = None
    """The build, staged and not yet tagged (set by the ``stage`` stage)."""
    artifact: Artifact | None = None
    """The published artifact (set by ``publish``): what write-back hooks receive."""
    image: str | None = None
    """The OCI image reference, when one was built."""

    @property
    def timeout(self) -> float:
        return float(self.config.timeout)
