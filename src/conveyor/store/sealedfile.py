"""A small list kept encrypted at rest in CONVEYOR_HOME: one Fernet token over its JSON.

Repository credentials (``repocreds``) and cluster credentials (``clustercreds``) are both kept
this way: the data file is one Fernet token (AES-128-CBC with an HMAC-SHA256, from the
``cryptography`` package), the key a file beside it (0600), made on first use, so a copy of
the home or the database without the key reveals nothing. The file is decrypted again only
when its modification time or size changed. Callers hold ``lock`` around a read-modify-write.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

from cryptography.fernet import Fernet, InvalidToken

from conveyor.errors import ConveyorError

T = TypeVar("T")


class SealedList(Generic[T]):
    """The items of ``home/data_file``, sealed with the key in ``home/key_file``."""

    def __init__(
        self,
        home: Path,
        data_file: str,
        key_file: str,
        *,
        decode: Callable[[dict[str, Any]], T],
        encode: Callable[[T], dict[str, Any]],
    ) -> None:
        self.home = home
        self.data_file = data_file
        self.key_file = key_file
        self._decode = decode
        self._encode = encode
        self.lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._cached: list[T] = []

    def load(self) -> list[T]:
        """The items (the cached list: copy before changing it)."""
        path = self.home / self.data_file
        try:
            info = path.stat()
        except FileNotFoundError:
            return []
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._seen:
            return self._cached
        fernet = self._fernet(create=False)
        if fernet is None:
            raise ConveyorError(f"{path} exists but its key {self.key_file} is missing")
        try:
            items = json.loads(fernet.decrypt(path.read_bytes()))
        except InvalidToken as err:
            raise ConveyorError(f"{path} cannot be decrypted with {self.key_file}") from err
        self._cached = [self._decode(item) for item in items]
        self._seen = stamp
        return self._cached

    def save(self, items: list[T]) -> None:
        fernet = self._fernet(create=True)
        assert fernet is not None
        data = json.dumps([self._encode(item) for item in items]).encode()
        _write_private(self.home / self.data_file, fernet.encrypt(data))
        self._seen = None

    def _fernet(self, *, create: bool) -> Fernet | None:
        path = self.home / self.key_file
        if not path.exists():
            if not create:
                return None
            self.home.mkdir(parents=True, exist_ok=True)
            _write_private(path, Fernet.generate_key())
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return Fernet(path.read_bytes().strip())


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by this user only, replacing ``path`` atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
