"""The repository cache: one bare mirror per repository, fetched once for all its apps.

Apps that share a repository share its mirror and its fetches: concurrent ``fetch`` calls for
one repository join the fetch already running (a single flight per repository), while
different repositories fetch in parallel up to a bound. Revisions resolve to commit SHAs in
the mirror, and an app's path is read at a SHA straight from git objects, so readers never
share or lock a working tree and a branch that moves on does not change what was read.

Credentials in a URL are used for the network call only: the mirror's config keeps the URL
without them, and errors and metrics show it masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.clock import Clock, SystemClock
from conveyor.gitrun import DEFAULT_LIMITS, HttpCredentials, NetworkLimits
from conveyor.logging import get_logger
from conveyor.model import trailers
from conveyor.model.revisions import may_be_short_sha
from conveyor.source.catfile import ObjectReader
from conveyor.source.errors import GitError, InvalidSourceError, RevisionNotFoundError
from conveyor.source.export import write_files
from conveyor.source.git import run_git
from conveyor.source.metrics import GitRequest, GitRequestObserver, RequestKind
from conveyor.source.tree import SourceFile, TreeLimits, read_path
from conveyor.source.urls import git_url, mirror_name, repo_key, strip_credentials
from conveyor.source.validate import (
    is_full_sha,
    validate_path,
    validate_repo_url,
    validate_revision,
    validate_sha,
)

DEFAULT_GIT_TIMEOUT = 90.0
"""Seconds a clone, fetch or ls-remote may take (Argo CD's exec timeout is 90s too)."""

DEFAULT_MAX_PARALLEL_FETCHES = 4
"""Repositories fetched at the same time; more would compete for the network and disk."""

TRAILER_CACHE_SIZE = 4096
"""Commits whose trailers are kept (a few hundred bytes each)."""

# A mirror holds branches and tags only: pull-request and other refs can be numerous.
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def revision_candidates(revision: str) -> list[tuple[str, str]]:
    """The names ``revision`` may stand for, in the order they are tried, as (what, name).

    A branch wins over a tag of the same name, and both over a commit SHA prefix, as in
    Argo CD; ``HEAD`` and full ref names (``refs/…``) stand only for themselves.
    """
    if revision == "HEAD" or revision.startswith("refs/"):
        return [("ref", revision)]
    found = [("branch", f"refs/heads/{revision}"), ("tag", f"refs/tags/{revision}")]
    if may_be_short_sha(revision):
        found.append(("commit", revision))
    return found


@dataclass
class _Mirror:
    path: Path
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held by every git command that writes to the mirror."""
    inflight: asyncio.Task[None] | None = None
    """The branch-and-tag fetch running now, which new callers join."""


CredentialLookup = Callable[[str], HttpCredentials | None]
"""The stored credentials of a repository URL (``conveyor repo add``), or None."""


class RepoCache:
    """Bare mirrors of git repositories under ``root``, keyed by ``urls.repo_key``.

    ``env`` is added to every git process (an ssh command with a key, a proxy); ``on_request``
    observes each network call (see ``metrics``); ``clock`` times them; ``limits`` bound what
    one ``read_tree`` may load; ``network`` says how long a stalled transfer may hang before
    git gives up (``conveyor.gitrun``), well within ``git_timeout``.
    """

    def __init__(
        self,
        root: Path,
        *,
        git_timeout: float = DEFAULT_GIT_TIMEOUT,
        max_parallel_fetches: int = DEFAULT_MAX_PARALLEL_FETCHES,
        env: Mapping[str, str] | None = None,
        on_request: GitRequestObserver | None = None,
        clock: Clock | None = None,
        limits: TreeLimits | None = None,
        network: NetworkLimits | None = None,
        credentials: CredentialLookup | None = None,
    ) -> None:
        self.root = root
        self._credentials = credentials
        self._git_timeout = git_timeout
        self._network = network or DEFAULT_LIMITS
        self._fetch_slots = asyncio.Semaphore(max_parallel_fetches)
        self._env = dict(env or {})
        self._on_request = on_request
        self._clock = clock or SystemClock()
        self._limits = limits or TreeLimits()
        self._mirrors: dict[str, _Mirror] = {}
        # A commit never changes: its trailers are read once (every app synced to one config
        # commit asks for them at the end of its operation), concurrent asks sharing one read.
        self._trailers: OrderedDict[tuple[str, str], asyncio.Future[dict[str, str]]] = OrderedDict()

    def mirror_path(self, url: str) -> Path:
        """Where ``url``'s mirror lives (whether or not it has been fetched yet)."""
        return self.root / mirror_name(validate_repo_url(url))

    def _mirror(self, url: str) -> _Mirror:
        key = repo_key(url)
        if key not in self._mirrors:
            self._mirrors[key] = _Mirror(self.root / mirror_name(url))
        return self._mirrors[key]

    @staticmethod
    def _fetched(mirror: _Mirror) -> bool:
        return (mirror.path / "HEAD").is_file()

    # -- fetch -----------------------------------------------------------------------------

    async def fetch(self, url: str) -> None:
        """Bring the mirror of ``url`` up to date with the remote's branches and tags.

        The first call clones; later calls fetch incrementally and prune deleted refs. A call
        made while a fetch of the same repository runs waits for that one instead of
        starting another (with the URL, and credentials, of the call that started it).
        """
        url = validate_repo_url(url)
        mirror = self._mirror(url)
        task = mirror.inflight
        if task is None:
            task = asyncio.create_task(self._fetch(mirror, url), name=f"git fetch {mirror.path}")
            mirror.inflight = task
            task.add_done_callback(functools.partial(_fetch_done, mirror))
        await asyncio.shield(task)

    async def _fetch(self, mirror: _Mirror, url: str) -> None:
        async with self._fetch_slots, mirror.lock:
            with self._request(RequestKind.FETCH, url):
                try:
                    if self._fetched(mirror):
                        await self._git_network(
                            ["fetch", "--prune", "--force", "--quiet", "--no-write-fetch-head",
                             "--", git_url(url), *_REFSPECS],
                            url, git_dir=mirror.path,
                        )  # fmt: skip
                    else:
                        await self._clone(mirror, url)
                except GitError as err:
                    raise _network_error("could not fetch", url, err) from err

    async def _clone(self, mirror: _Mirror, url: str) -> None:
        """Clone into a temporary directory and rename it: a mirror on disk is complete."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{mirror.path.name}.", dir=self.root))
        try:
            await self._git_network(
                ["clone", "--bare", "--no-local", "--quiet", "--", git_url(url), str(tmp)], url
            )
            await run_git(
                ["config", "remote.origin.url", strip_credentials(git_url(url))], git_dir=tmp
            )
            if not self._fetched(mirror):  # another process may have won the race
                os.rename(tmp, mirror.path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    async def _git_network(self, args: list[str], url: str, *, git_dir: Path | None = None) -> str:
        credentials = self._credentials(url) if self._credentials is not None else None
        return await run_git(
            args,
            git_dir=git_dir,
            env=self._env,
            timeout=self._git_timeout,
            url=url,
            limits=self._network,
            credentials=credentials,
        )

    @contextlib.contextmanager
    def _request(self, kind: RequestKind, url: str) -> Iterator[None]:
        """Time one network call and report it to ``on_request``, failed or not."""
        repo = strip_credentials(git_url(url))
        started = self._clock.monotonic()
        ok = False
        try:
            yield
            ok = True
        finally:
            self._observe(GitRequest(kind, repo, self._clock.monotonic() - started, ok))

    def _observe(self, request: GitRequest) -> None:
        get_logger(repo=request.repo).debug(
            "git request", kind=str(request.kind), duration=request.duration, ok=request.ok
        )
        if self._on_request is not None:
            self._on_request(request)

    # -- resolve ---------------------------------------------------------------------------

    async def resolve(self, url: str, revision: str) -> str:
        """The full commit SHA that ``revision`` names in the mirror of ``url``.

        ``revision`` is a branch, a tag (annotated tags are peeled to their commit), a full or
        short commit SHA, ``HEAD`` (the remote's default branch when first cloned) or a full
        ref name. The mirror is as of the last ``fetch`` (fetched first if it never was); a
        full SHA missing from it is fetched from the remote by SHA, for commits no branch
        holds any more.
        """
        url = validate_repo_url(url)
        revision = validate_revision(revision)
        mirror = self._mirror(url)
        if not self._fetched(mirror):
            await self.fetch(url)
        candidates = revision_candidates(revision)
        sha = await self._lookup(mirror, url, revision, candidates)
        asked_remote = ""
        if sha is None and is_full_sha(revision):
            try:
                await self._fetch_commit(mirror, url, revision)
            except GitError as err:
                asked_remote = f"; the remote does not have it either ({err.stderr or err.message})"
            else:
                sha = await self._lookup(mirror, url, revision, candidates)
        if sha is not None:
            return sha
        tried = ", ".join(f"{what} {name}" for what, name in candidates)
        raise RevisionNotFoundError(
            f"revision {revision!r} was not found: tried {tried}{asked_remote}. Push it, fix "
            "spec.source.targetRevision, or fetch again if it is new",
            obj=strip_credentials(git_url(url)),
            tried=tuple(name for _, name in candidates),
        )

    async def _lookup(
        self, mirror: _Mirror, url: str, revision: str, candidates: list[tuple[str, str]]
    ) -> str | None:
        """One ``cat-file --batch-check`` answers every candidate; the first commit wins."""
        query = "".join(f"{name}^{{commit}}\n" for _, name in candidates)
        out = await run_git(
            ["cat-file", "--batch-check"], git_dir=mirror.path, stdin=query.encode(), url=url
        )
        for line in out.splitlines():
            words = line.split()
            if len(words) == 3 and words[1] == "commit":
                return words[0]
            if words[-1:] == ["ambiguous"]:
                raise InvalidSourceError(
                    f"the short SHA {revision!r} matches several objects: use more hex digits "
                    "or the full SHA",
                    obj="targetRevision",
                )
        return None

    async def _fetch_commit(self, mirror: _Mirror, url: str, sha: str) -> None:
        """Fetch one commit by SHA and keep it under ``refs/conveyor/commits/``."""
        async with self._fetch_slots, mirror.lock:
            with self._request(RequestKind.FETCH, url):
                await self._git_network(
                    ["fetch", "--quiet", "--no-write-fetch-head", "--", git_url(url),
                     f"+{sha}:refs/conveyor/commits/{sha}"],
                    url, git_dir=mirror.path,
                )  # fmt: skip

    # -- read ------------------------------------------------------------------------------

    async def _read_files(self, url: str, sha: str, path: str) -> dict[str, SourceFile]:
        url = validate_repo_url(url)
        sha = validate_sha(sha)
        rel = validate_path(path)
        mirror = self._mirror(url)
        shown = strip_credentials(git_url(url))
        if not self._fetched(mirror):
            raise RevisionNotFoundError(
                f"the repository has not been fetched, so commit {sha} is unknown: fetch it "
                "and resolve the revision first",
                obj=shown,
                tried=(sha,),
            )
        async with ObjectReader(mirror.path, env=self._env) as objects:
            return await read_path(objects, sha, rel, self._limits, where=shown)

    async def read_tree(self, url: str, sha: str, path: str) -> dict[str, bytes]:
        """The files under ``path`` at commit ``sha``, keyed by POSIX path relative to it.

        Symlinks that stay inside the repository are replaced by their target's content;
        one that leaves it raises UnsafeTreeError (see ``tree``).
        """
        files = await self._read_files(url, sha, path)
        return {rel: file.data for rel, file in files.items()}

    async def export(self, url: str, sha: str, path: str, dest: Path) -> Path:
        """Write the files under ``path`` at ``sha`` into ``dest`` (new or empty); return it."""
        files = await self._read_files(url, sha, path)
        return await asyncio.to_thread(write_files, files, dest)

    async def commit_trailers(self, url: str, sha: str) -> dict[str, str]:
        """The ``Conveyor-*`` trailers of commit ``sha`` (git parses them), {} when it has
        none; the mirror must hold the commit (``resolve`` fetched it)."""
        url = validate_repo_url(url)
        sha = validate_sha(sha)
        key = (repo_key(url), sha)
        known = self._trailers.get(key)
        if known is None:
            known = asyncio.ensure_future(self._read_trailers(url, sha))
            self._trailers[key] = known
            while len(self._trailers) > TRAILER_CACHE_SIZE:
                self._trailers.popitem(last=False)
        else:
            self._trailers.move_to_end(key)
        try:
            return dict(await asyncio.shield(known))
        except Exception:
            if self._trailers.get(key) is known:
                del self._trailers[key]  # a failed read is not remembered
            raise

    async def _read_trailers(self, url: str, sha: str) -> dict[str, str]:
        out = await run_git(
            ["show", "-s", "--format=%(trailers:only,unfold)", sha, "--"],
            git_dir=self._mirror(url).path, env=self._env, url=url,
        )  # fmt: skip
        return trailers.parse(out)

    # -- ls-remote -------------------------------------------------------------------------

    async def ls_remote(self, url: str) -> dict[str, str]:
        """The remote's refs and their SHAs (``HEAD``, ``refs/heads/…``, ``refs/tags/…``).

        Annotated tags also appear peeled, as ``refs/tags/v1^{}``, as git prints them.
        """
        url = validate_repo_url(url)
        with self._request(RequestKind.LS_REMOTE, url):
            try:
                out = await self._git_network(["ls-remote", "--", git_url(url)], url)
            except GitError as err:
                raise _network_error("could not list the refs", url, err) from err
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if ref:
                refs[ref] = sha
        return refs


def _fetch_done(mirror: _Mirror, task: asyncio.Task[None]) -> None:
    """Let the next fetch start, and mark the result read if every waiter went away."""
    if mirror.inflight is task:
        mirror.inflight = None
    if not task.cancelled():
        task.exception()


def _network_error(what: str, url: str, err: GitError) -> GitError:
    return GitError(
        f"{what}: {err.stderr or err.message}. Check the URL, the network and the credentials",
        obj=strip_credentials(git_url(url)),
        returncode=err.returncode,
        stderr=err.stderr,
        delay=err.delay,
    )
