"""The log of one build: progress lines for the caller and the whole output in ``build.log``.

A build reports its steps before the staged directory (and so ``build.log``) exists, and pip's
output must both land in the log and be kept short for the error message of a failed build;
``BuildLog`` does all three, for ``build`` and ``venv`` alike.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import BinaryIO

LOG_TAIL_LINES = 25
"""How much of pip's output a failed build shows."""

Progress = Callable[[str], None]


class BuildLog:
    """Progress for the caller and lines for ``build.log`` (buffered until the log exists)."""

    def __init__(self, progress: Progress | None) -> None:
        self._progress = progress
        self._pending: list[bytes] = []
        self._file: BinaryIO | None = None
        self.tail: deque[str] = deque(maxlen=LOG_TAIL_LINES)

    def __call__(self, message: str) -> None:
        if self._progress is not None:
            self._progress(message)
        self.write(f"==> {message}\n".encode())

    def write(self, data: bytes) -> None:
        if self._file is None:
            self._pending.append(data)
        else:
            self._file.write(data)

    def open(self, file: BinaryIO) -> None:
        self._file = file
        for data in self._pending:
            file.write(data)
        self._pending.clear()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
