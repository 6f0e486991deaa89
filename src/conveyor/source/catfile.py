"""Read git objects from a bare mirror through one ``git cat-file --batch`` process.

Reading an app's path means reading many trees and blobs; one long-lived process answers
them all, without a working tree and without a process per object. Only object ids parsed
from git's own objects (or a validated commit SHA) are ever written to it, so no text from a
user reaches git's revision parser here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from conveyor.gitrun import kill
from conveyor.gitsafety import git_argv, git_env
from conveyor.source.errors import GitError, TreeTooLargeError
from conveyor.source.git import DEFAULT_TIMEOUT


@dataclass(frozen=True)
class GitObject:
    """One object as git stores it: ``kind`` is commit, tree, blob or tag."""

    oid: str
    kind: str
    data: bytes


class ObjectReader:
    """An async context manager over ``git cat-file --batch`` for one repository.

    Not safe for concurrent use from several tasks; a lock makes it correct anyway, one
    request at a time.
    """

    def __init__(
        self,
        git_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._git_dir = git_dir
        self._env = env
        self._timeout = timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> ObjectReader:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *git_argv(["cat-file", "--batch"], git_dir=self._git_dir),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
                env=git_env(self._env),
                start_new_session=True,
            )
        except FileNotFoundError as err:
            raise GitError("git is not installed: install git and put it on PATH") from err
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if exc is None and proc.stdin is not None:
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), self._timeout)
                return
            except TimeoutError:
                pass
        await kill(proc)

    async def read(self, oid: str, *, max_size: int | None = None) -> GitObject | None:
        """The object ``oid``, or None if the repository does not have it.

        Raises TreeTooLargeError before loading an object bigger than ``max_size`` bytes.
        """
        async with self._lock:
            try:
                return await asyncio.wait_for(self._read(oid, max_size), self._timeout)
            except TimeoutError as err:
                raise GitError(
                    f"git cat-file did not answer within {self._timeout:g} seconds",
                    obj=str(self._git_dir),
                ) from err
            except (asyncio.IncompleteReadError, BrokenPipeError, ConnectionResetError) as err:
                raise GitError(
                    "git cat-file stopped unexpectedly: check the mirror on disk",
                    obj=str(self._git_dir),
                ) from err

    async def _read(self, oid: str, max_size: int | None) -> GitObject | None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.stdout is None:
            raise RuntimeError("ObjectReader used outside 'async with'")
        proc.stdin.write(oid.encode("ascii") + b"\n")
        await proc.stdin.drain()
        header = (await proc.stdout.readline()).decode("ascii", "replace").split()
        if not header:
            raise asyncio.IncompleteReadError(b"", None)
        if len(header) != 3:  # "<name> missing" or "<name> ambiguous"
            return None
        found, kind, size_text = header
        size = int(size_text)
        if max_size is not None and size > max_size:
            raise TreeTooLargeError(
                f"object {found} is {size} bytes, more than the {max_size} bytes still allowed",
                obj=str(self._git_dir),
            )
        data = await proc.stdout.readexactly(size + 1)  # the object, then a newline
        return GitObject(oid=found, kind=kind, data=data[:-1])
