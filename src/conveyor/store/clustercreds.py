"""Registered clusters (``conveyor cluster add``), their credentials encrypted at rest.

Kept as ``repocreds`` keeps repository credentials (``sealedfile``): CONVEYOR_HOME/clusters.enc
is one Fernet token holding the JSON list, the key CONVEYOR_HOME/clusters.key (0600), made on
first use. A copy of the home or the database without the key reveals nothing. Views
(``ClusterCredentials.public``) name how a cluster authenticates, never with what.
"""

from __future__ import annotations

from pathlib import Path

from conveyor.errors import NotFoundError, ValidationError
from conveyor.store.sealedfile import SealedList
from conveyor.targets.kubernetes.credentials import ClusterCredentials, check_server

DATA_FILE = "clusters.enc"
KEY_FILE = "clusters.key"


class ClusterStore:
    """The encrypted cluster list under ``home``; safe to use from several threads."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._file = SealedList(
            home, DATA_FILE, KEY_FILE,
            decode=ClusterCredentials.from_dict, encode=ClusterCredentials.to_dict,
        )  # fmt: skip
        self._lock = self._file.lock

    def list(self) -> list[ClusterCredentials]:
        with self._lock:
            return list(self._file.load())

    def add(self, cluster: ClusterCredentials, *, upsert: bool = False) -> str:
        """Store ``cluster``; ``created`` or ``configured``. A name or server already used by
        another cluster is refused unless ``upsert``."""
        check_server(cluster.server)
        if not cluster.name:
            raise ValidationError("a cluster needs a name")
        with self._lock:
            clusters = list(self._file.load())
            same = [c for c in clusters if c.name == cluster.name or c.server == cluster.server]
            if same and not upsert and same != [cluster]:
                raise ValidationError(
                    f"a cluster named {same[0].name!r} at {same[0].server} is already added: "
                    "use --upsert to replace it"
                )
            kept = [c for c in clusters if c not in same]
            self._file.save([*kept, cluster])
        return "configured" if same else "created"

    def remove(self, name_or_server: str) -> ClusterCredentials:
        """Forget the cluster with that name or server URL; NotFoundError if none."""
        with self._lock:
            clusters = self._file.load()
            gone = [c for c in clusters if name_or_server in (c.name, c.server)]
            if not gone:
                raise NotFoundError(f"no cluster {name_or_server!r} is added")
            self._file.save([c for c in clusters if c not in gone])
        return gone[0]
