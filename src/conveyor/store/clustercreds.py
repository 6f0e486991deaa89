"""Registered clusters (``conveyor cluster add``), their credentials encrypted at rest.

Kept as ``repocreds`` keeps repository credentials: CONVEYOR_HOME/clusters.enc is one Fernet
token (AES-128-CBC with an HMAC-SHA256) holding the JSON list, readable by Conveyor's user
only; the key is CONVEYOR_HOME/clusters.key (0600), made on first use. A copy of the home
or the database without the key reveals nothing. Views (``ClusterCredentials.public``) name
how a cluster authenticates, never with what. The file is read again only when it changed.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from conveyor.errors import ConveyorError, NotFoundError, ValidationError
from conveyor.targets.kubernetes.credentials import ClusterCredentials, check_server

DATA_FILE = "clusters.enc"
KEY_FILE = "clusters.key"


class ClusterStore:
    """The encrypted cluster list under ``home``; safe to use from several threads."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._cached: list[ClusterCredentials] = []

    def _write_private(self, path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)

    def _fernet(self, *, create: bool) -> Fernet | None:
        path = self.home / KEY_FILE
        if not path.exists():
            if not create:
                return None
            self.home.mkdir(parents=True, exist_ok=True)
            self._write_private(path, Fernet.generate_key())
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return Fernet(path.read_bytes().strip())

    def _load(self) -> list[ClusterCredentials]:
        path = self.home / DATA_FILE
        try:
            info = path.stat()
        except FileNotFoundError:
            return []
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._seen:
            return self._cached
        fernet = self._fernet(create=False)
        if fernet is None:
            raise ConveyorError(f"{path} exists but its key {KEY_FILE} is missing")
        try:
            items = json.loads(fernet.decrypt(path.read_bytes()))
        except InvalidToken as err:
            raise ConveyorError(f"{path} cannot be decrypted with {KEY_FILE}") from err
        self._cached = [ClusterCredentials.from_dict(item) for item in items]
        self._seen = stamp
        return self._cached

    def _save(self, clusters: list[ClusterCredentials]) -> None:
        fernet = self._fernet(create=True)
        assert fernet is not None
        data = json.dumps([c.to_dict() for c in clusters]).encode()
        self._write_private(self.home / DATA_FILE, fernet.encrypt(data))
        self._seen = None

    def list(self) -> list[ClusterCredentials]:
        with self._lock:
            return list(self._load())

    def add(self, cluster: ClusterCredentials, *, upsert: bool = False) -> str:
        """Store ``cluster``; ``created`` or ``configured``. A name or server already used by
        another cluster is refused unless ``upsert``."""
        check_server(cluster.server)
        if not cluster.name:
            raise ValidationError("a cluster needs a name")
        with self._lock:
            clusters = list(self._load())
            same = [c for c in clusters if c.name == cluster.name or c.server == cluster.server]
            if same and not upsert and same != [cluster]:
                raise ValidationError(
                    f"a cluster named {same[0].name!r} at {same[0].server} is already added: "
                    "use --upsert to replace it"
                )
            kept = [c for c in clusters if c not in same]
            self._save([*kept, cluster])
        return "configured" if same else "created"

    def remove(self, name_or_server: str) -> ClusterCredentials:
        """Forget the cluster with that name or server URL; NotFoundError if none."""
        with self._lock:
            clusters = self._load()
            gone = [c for c in clusters if name_or_server in (c.name, c.server)]
            if not gone:
                raise NotFoundError(f"no cluster {name_or_server!r} is added")
            self._save([c for c in clusters if c not in gone])
        return gone[0]
