"""Read an app's path at one commit from git objects, confined to the repository.

There is no working tree: trees and blobs come straight from the mirror's object store, so
nothing outside the repository can be read by construction. What remains is to follow
symlinks the way a checkout would, and to refuse the ones that would lead out of the
repository (an absolute target, or ``..`` above the root) or loop. Symlinks whose target stays
inside the repository are replaced by the target's content (a file, or a directory's files),
so a renderer reading the result never meets a symlink. Dangling symlinks are left out, as a
checkout would leave them unreadable; submodules are not followed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from conveyor.source.catfile import GitObject
from conveyor.source.errors import (
    InvalidSourceError,
    PathNotFoundError,
    RevisionNotFoundError,
    TreeTooLargeError,
    UnsafeTreeError,
)

_TREE, _BLOB, _SYMLINK, _SUBMODULE = "tree", "blob", "symlink", "submodule"
_MAX_LINK_TARGET = 4096

Parts = tuple[str, ...]


@dataclass(frozen=True)
class TreeLimits:
    """How much one read may load; a repository is input from outside like any other."""

    max_files: int = 100_000
    """Files in the path, counting those reached through symlinks (a whole monorepo fits)."""
    max_bytes: int = 512 * 1024 * 1024
    """Total size of those files; the whole result is held in memory."""
    max_symlink_hops: int = 40
    """Symlinks followed to resolve one path, as the kernel's ELOOP limit."""


@dataclass(frozen=True)
class SourceFile:
    """One file of the app's path: its bytes and whether git marks it executable."""

    data: bytes
    executable: bool = False


class ObjectSource(Protocol):
    """Where git objects come from: ``catfile.ObjectReader``, or a fake in tests."""

    async def read(self, oid: str, *, max_size: int | None = None) -> GitObject | None: ...


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a git tree object."""

    name: str
    mode: str
    oid: str

    @property
    def kind(self) -> str:
        """tree, blob, symlink or submodule, from git's file mode."""
        if self.mode == "40000":
            return _TREE
        if self.mode == "120000":
            return _SYMLINK
        if self.mode == "160000":
            return _SUBMODULE
        return _BLOB

    @property
    def executable(self) -> bool:
        return self.kind == _BLOB and int(self.mode, 8) & 0o111 != 0


def _unsafe_name(name: str) -> bool:
    return name in ("", ".", "..") or "/" in name or name.lower() == ".git"


def parse_tree(data: bytes, oid_len: int, *, oid: str = "") -> list[TreeEntry]:
    """Parse a raw tree object (``<mode> <name>\\0<binary id>`` repeated).

    Names git itself would refuse to check out (``..``, ``.git``, with a ``/``) raise
    UnsafeTreeError: they only appear in crafted repositories.
    """
    entries: list[TreeEntry] = []
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        nul = data.index(b"\0", space)
        mode = data[pos:space].decode("ascii")
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        if _unsafe_name(name) or not mode.isdigit():
            raise UnsafeTreeError(
                f"tree {oid} holds an entry {name!r} (mode {mode!r}) that git itself refuses to "
                "check out: the repository is corrupt or crafted"
            )
        entries.append(TreeEntry(name, mode, data[nul + 1 : nul + 1 + oid_len].hex()))
        pos = nul + 1 + oid_len
    return entries


def commit_tree(data: bytes) -> str:
    """The root tree id of a raw commit object (its first header line)."""
    first = data.split(b"\n", 1)[0].decode("ascii", "replace")
    kind, _, oid = first.partition(" ")
    if kind != "tree" or not oid:
        raise UnsafeTreeError("a commit object has no tree header: the repository is corrupt")
    return oid


def _lexical_escape(base: Parts, target: str) -> bool:
    """True if ``target``, read from directory ``base``, climbs above the root as written."""
    depth = len(base)
    for segment in target.split("/"):
        if segment == "..":
            depth -= 1
            if depth < 0:
                return True
        elif segment not in ("", "."):
            depth += 1
    return False


def _is_within(inner: Parts, outer: Parts) -> bool:
    return inner[: len(outer)] == outer


class _Tree:
    """Lookups in one commit's tree, with caches and the read budget of one call."""

    def __init__(self, objects: ObjectSource, root: str, limits: TreeLimits, *, where: str) -> None:
        self._objects = objects
        self._root = TreeEntry("", "40000", root)
        self._oid_len = len(root) // 2
        self._limits = limits
        self._where = where
        self._trees: dict[str, dict[str, TreeEntry]] = {}
        self._files = 0
        self._bytes = 0

    async def _object(self, entry: TreeEntry, kind: str, max_size: int | None) -> bytes:
        obj = await self._objects.read(entry.oid, max_size=max_size)
        if obj is None or obj.kind != kind:
            raise UnsafeTreeError(
                f"object {entry.oid} ({entry.name!r}) is missing or not a {kind}: the mirror is "
                "incomplete or the repository is corrupt",
                obj=self._where,
            )
        return obj.data

    async def entries(self, tree: TreeEntry) -> dict[str, TreeEntry]:
        if tree.oid not in self._trees:
            data = await self._object(tree, "tree", None)
            parsed = parse_tree(data, self._oid_len, oid=tree.oid)
            self._trees[tree.oid] = {e.name: e for e in parsed}
        return self._trees[tree.oid]

    async def link_target(self, link: TreeEntry, where: Parts) -> str:
        target = (await self._object(link, "blob", _MAX_LINK_TARGET)).decode(
            "utf-8", "surrogateescape"
        )
        shown = "/".join(where)
        if not target or "\0" in target:
            raise UnsafeTreeError(f"symlink {shown!r} has an empty target", obj=self._where)
        if target.startswith("/"):
            raise UnsafeTreeError(
                f"symlink {shown!r} points to the absolute path {target!r}, outside the "
                "repository: make it relative to a file inside the repository",
                obj=self._where,
            )
        if _lexical_escape(where[:-1], target):
            raise self._escape(shown, target)
        return target

    def _escape(self, link: str, target: str) -> UnsafeTreeError:
        return UnsafeTreeError(
            f"symlink {link!r} points to {target!r}, outside the repository: symlinks may only "
            "point to files inside the repository",
            obj=self._where,
        )

    async def lookup(self, segments: list[str]) -> tuple[Parts, TreeEntry] | None:
        """Resolve a path from the root as the kernel would, following every symlink.

        Returns the real path (no symlinks in it) and its entry, or None if it does not exist.
        """
        todo = deque(segments)
        done: list[str] = []
        stack = [self._root]
        hops = 0
        last_link = ("", "")
        while todo:
            segment = todo.popleft()
            if segment in ("", "."):
                continue
            if segment == "..":
                if not done:
                    raise self._escape(*last_link)
                done.pop()
                stack.pop()
                continue
            current = stack[-1]
            if current.kind != _TREE:
                return None
            entry = (await self.entries(current)).get(segment)
            if entry is None:
                return None
            if entry.kind == _SYMLINK:
                hops += 1
                if hops > self._limits.max_symlink_hops:
                    raise UnsafeTreeError(
                        f"more than {self._limits.max_symlink_hops} symlinks on the way to "
                        f"{'/'.join(segments)!r}: there is a symlink loop",
                        obj=self._where,
                    )
                target = await self.link_target(entry, (*done, segment))
                last_link = ("/".join((*done, segment)), target)
                todo.extendleft(reversed(target.split("/")))
                continue
            done.append(segment)
            stack.append(entry)
        return tuple(done), stack[-1]

    async def walk(
        self,
        tree: TreeEntry,
        real: Parts,
        out: Parts,
        roots: tuple[Parts, ...],
        files: dict[str, SourceFile],
    ) -> None:
        """Add every file under ``tree`` (real path ``real``) to ``files`` under ``out``."""
        for name, entry in sorted((await self.entries(tree)).items()):
            rel, location = (*out, name), (*real, name)
            if entry.kind == _SYMLINK:
                target = await self.link_target(entry, location)
                found = await self.lookup([*real, *target.split("/")])
                if found is None:
                    continue  # dangling, as in a checkout
                real_target, entry = found
                if entry.kind == _TREE:
                    if any(_is_within(r, real_target) for r in (*roots, location)):
                        raise UnsafeTreeError(
                            f"symlink {'/'.join(location)!r} points to {target!r}, a directory "
                            "that contains it: the symlink loops",
                            obj=self._where,
                        )
                    await self.walk(entry, real_target, rel, (*roots, real_target), files)
                    continue
                location = real_target
            if entry.kind == _TREE:
                await self.walk(entry, location, rel, roots, files)
            elif entry.kind == _BLOB:
                files["/".join(rel)] = SourceFile(await self._blob(entry), entry.executable)

    async def _blob(self, entry: TreeEntry) -> bytes:
        self._files += 1
        if self._files > self._limits.max_files:
            raise TreeTooLargeError(
                f"the path holds more than {self._limits.max_files} files: point the "
                "application at a smaller directory",
                obj=self._where,
            )
        data = await self._object(entry, "blob", self._limits.max_bytes - self._bytes)
        self._bytes += len(data)
        return data


async def read_path(
    objects: ObjectSource,
    commit: str,
    path: PurePosixPath,
    limits: TreeLimits | None = None,
    *,
    where: str = "",
) -> dict[str, SourceFile]:
    """The files under ``path`` at ``commit``, keyed by POSIX path relative to ``path``.

    ``where`` names the repository in errors. Raises RevisionNotFoundError if the commit is not
    in the mirror, PathNotFoundError if ``path`` is missing or not a directory there, and
    UnsafeTreeError for symlinks that leave the repository or loop.
    """
    obj = await objects.read(commit)
    if obj is None:
        raise RevisionNotFoundError(
            f"commit {commit} is not in the mirror: fetch the repository, then resolve the "
            "revision again",
            obj=where,
            tried=(commit,),
        )
    if obj.kind != "commit":
        raise InvalidSourceError(f"{commit} is a {obj.kind}, not a commit", obj=where)
    tree = _Tree(objects, commit_tree(obj.data), limits or TreeLimits(), where=where)
    found = await tree.lookup(list(path.parts))
    if found is None:
        raise PathNotFoundError(
            f"path {str(path)!r} does not exist at commit {commit[:12]}: check spec.source.path "
            "and the revision",
            obj=where,
        )
    real, entry = found
    if entry.kind != _TREE:
        raise PathNotFoundError(
            f"path {str(path)!r} is a file at commit {commit[:12]}, not a directory: set "
            "spec.source.path to the directory that holds the manifests",
            obj=where,
        )
    files: dict[str, SourceFile] = {}
    await tree.walk(entry, real, (), (real,), files)
    return dict(sorted(files.items()))
