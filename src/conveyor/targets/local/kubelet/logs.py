"""Container logs on disk: written bounded and rotated, read with tail, previous and follow.

Layout under ``runtime_dir/pods/<namespace>/<pod>/``: ``<container>.log`` is the running
instance (stdout and stderr together, in order), ``<container>.log.1``... its rotated parts,
and ``<container>.previous.log`` (+ ``.1``...) the instance before it, for ``previous=True``.
A file is rotated when it reaches ``max_bytes``, so one instance takes at most
``max_bytes * (backups + 1)`` on disk. Reading yields lines without their newline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

FOLLOW_POLL = 0.1


class ContainerLog:
    """The log files of one container of one Pod, across its instances."""

    def __init__(self, directory: Path, container: str, *, max_bytes: int, backups: int) -> None:
        self.directory = directory
        self.container = container
        self._max = max(1, max_bytes)
        self._backups = max(0, backups)
        self._file: BinaryIO | None = None
        self._size = 0

    @property
    def current(self) -> Path:
        """The file the running instance writes."""
        return self.directory / f"{self.container}.log"

    def _stem_files(self, stem: str) -> list[Path]:
        base = self.directory / stem
        rotated = [Path(f"{base}.{i}") for i in range(self._backups, 0, -1)]
        return [p for p in [*rotated, base] if p.exists()]

    def current_files(self) -> list[Path]:
        """The running (or last) instance's files, oldest first."""
        return self._stem_files(f"{self.container}.log")

    def previous_files(self) -> list[Path]:
        """The previous instance's files, oldest first."""
        return self._stem_files(f"{self.container}.previous.log")

    def new_instance(self) -> None:
        """Keep the last instance's log as the previous one and start an empty file."""
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        old = self.current_files()
        if old:
            for stale in self.previous_files():
                stale.unlink(missing_ok=True)
            for path in old:
                suffix = path.name[len(f"{self.container}.log") :]
                path.replace(self.directory / f"{self.container}.previous.log{suffix}")
        self._file = _open_private(self.current)
        self._size = 0

    def write(self, data: bytes) -> None:
        """Append output, rotating whenever the file reaches the size bound.

        A file is cut after the last whole line that fits, so that lines stay whole across
        files; only a line longer than a whole file is split.
        """
        if self._file is None:
            self._file = _open_private(self.current)
            self._size = self.current.stat().st_size
        while data:
            room = self._max - self._size
            if len(data) < room:
                self._file.write(data)
                self._size += len(data)
                break
            cut = data.rfind(b"\n", 0, room) + 1
            if cut == 0 and self._size == 0:
                cut = room
            self._file.write(data[:cut])
            data = data[cut:]
            self._rotate()
        self._file.flush()

    def close(self) -> None:
        """Close the file of the instance (it stays on disk)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        base = self.current
        if self._backups == 0:
            base.unlink(missing_ok=True)
        else:
            Path(f"{base}.{self._backups}").unlink(missing_ok=True)
            for i in range(self._backups - 1, 0, -1):
                older = Path(f"{base}.{i}")
                if older.exists():
                    older.replace(Path(f"{base}.{i + 1}"))
            base.replace(Path(f"{base}.1"))
        self._file = _open_private(base)
        self._size = 0


def read_lines(files: list[Path], tail: int | None = None) -> list[str]:
    """The lines of ``files`` (oldest first, read as one stream), or only the last ``tail``."""
    if tail is not None and tail <= 0:
        return []
    lines = _split(_read_all(files))
    return lines[-tail:] if tail is not None else lines


def _read_all(files: list[Path]) -> bytes:
    chunks = []
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            chunks.append(path.read_bytes())
    return b"".join(chunks)


def _split(data: bytes) -> list[str]:
    text = data.decode("utf-8", "replace")
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return parts


async def stream_lines(
    log: ContainerLog,
    *,
    previous: bool,
    tail: int | None,
    follow: bool,
    alive: Callable[[], bool],
) -> AsyncIterator[str]:
    """Lines of the current or previous instance.

    With ``follow``, new lines keep coming until ``alive()`` turns False; what the instance
    wrote before it ended is all read first.
    """
    if previous or not follow:
        files = log.previous_files() if previous else log.current_files()
        for line in await asyncio.to_thread(read_lines, files, tail):
            yield line
        return
    older = log.current_files()[:-1]
    try:
        handle: BinaryIO | None = log.current.open("rb")
    except FileNotFoundError:
        handle = None
    try:
        first, pending = await asyncio.to_thread(_read_start, older, handle, tail)
        for line in first:
            yield line
        while True:
            ended = not alive()  # asked before reading: its last output is on disk by then
            data = handle.read() if handle is not None else b""
            replaced = None if data else _reopen_if_rotated(log.current, handle)
            if replaced is not None:
                if handle is not None:
                    data = handle.read()  # written just before the rotation
                    handle.close()
                handle = replaced
            if data:
                pending += data
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    yield raw.decode("utf-8", "replace")
            if data or replaced is not None:
                continue
            if ended:
                break
            await asyncio.sleep(FOLLOW_POLL)
        if pending:
            yield pending.decode("utf-8", "replace")
    finally:
        if handle is not None:
            handle.close()


def _read_start(
    older: list[Path], handle: BinaryIO | None, tail: int | None
) -> tuple[list[str], bytes]:
    data = _read_all(older) + (handle.read() if handle is not None else b"")
    complete, newline, pending = data.rpartition(b"\n")
    lines = _split(complete + newline) if newline else []
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []
    return lines, pending


def _reopen_if_rotated(path: Path, handle: BinaryIO | None) -> BinaryIO | None:
    try:
        current = path.stat()
    except FileNotFoundError:
        return None
    if handle is not None and os.fstat(handle.fileno()).st_ino == current.st_ino:
        return None
    try:
        return path.open("rb")
    except FileNotFoundError:
        return None


def _open_private(path: Path) -> BinaryIO:
    """Append to ``path``, created 0600: a Pod's output may print its Secret values."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
