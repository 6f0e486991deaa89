"""The kubelet's contract with the rest of the local runtime: what it needs, how it is tuned.

The kubelet does not own images or ConfigMaps: the artifact store resolves an ``image:`` to a
directory and a venv (``ImageResolver``), and the runtime's object store answers lookups of
ConfigMaps and Secrets (``ObjectLookup``). Both are small protocols so that tests can hand in
plain in-memory stand-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from conveyor.model.objects import Object, ObjectKey


@dataclass(frozen=True)
class ResolvedImage:
    """What an ``image:`` resolves to in the local artifact store."""

    working_dir: Path
    """The default workingDir of containers using this image."""
    path_prepend: tuple[str, ...]
    """Directories put first on PATH (the artifact's venv/bin)."""
    command: tuple[str, ...] | None
    """The image's default command, used when the container gives none."""


class ImageResolver(Protocol):
    """Finds images; ``None`` means the image is not there (ErrImagePull / ImagePullBackOff)."""

    def resolve(self, image: str) -> ResolvedImage | None: ...


class ObjectLookup(Protocol):
    """Synchronous, in-memory reads of ConfigMaps and Secrets."""

    def get(self, key: ObjectKey) -> Object | None: ...


@dataclass(frozen=True)
class KubeletOptions:
    """Timings and bounds; the defaults are the kubelet's, tests shorten them."""

    backoff_base: float = 10.0
    """First restart delay after the immediate one; doubles on each crash (10 s, 20 s, ...)."""
    backoff_cap: float = 300.0
    """Longest restart delay (5 min), also the cap of the image retry delay."""
    backoff_reset_after: float = 600.0
    """A container that ran this long before exiting starts its backoff from zero again."""
    log_max_bytes: int = 10 * 1024 * 1024
    """Size of one container log file before it is rotated."""
    log_backups: int = 1
    """Rotated log files kept per container instance."""
    image_retry_base: float = 10.0
    """First ImagePullBackOff retry delay (doubling, capped at ``backoff_cap``)."""
    config_retry_period: float = 2.0
    """How often a container waiting for a missing ConfigMap, Secret or key looks again."""
    shutdown_grace: float = 2.0
    """Grace between SIGTERM and SIGKILL when Conveyor itself shuts down."""
