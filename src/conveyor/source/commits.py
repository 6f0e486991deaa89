"""The commits a deployment brought, with their times: what DORA's lead time is measured from.

``commit_log(cache, url, old, new)`` lists the commits reachable from ``new`` but not from
``old`` in the repository's mirror (``new`` alone when ``old`` is empty or unknown there), each
with its committer time and the write-back trailers that name the application commit behind a
config change (``Conveyor-App-Commit``, ``Conveyor-App-Commit-Date``). Only SHAs reach git, so
no argument can be read as an option. Commits are immutable, so callers may cache the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from conveyor.source.cache import RepoCache
from conveyor.source.errors import GitError
from conveyor.source.git import run_git
from conveyor.source.validate import validate_repo_url, validate_sha

APP_COMMIT = "Conveyor-App-Commit"
APP_COMMIT_DATE = "Conveyor-App-Commit-Date"
MAX_COMMITS = 1000
_FORMAT = (
    f"--format=%H%x1f%cI%x1f%(trailers:key={APP_COMMIT},key={APP_COMMIT_DATE},"
    "separator=%x1d,unfold)%x1e"
)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    committed_at: datetime
    trailers: dict[str, str] = field(default_factory=dict)

    def change(self) -> tuple[str, datetime]:
        """The change this commit stands for: the app commit its trailers name (with its
        time), else the commit itself."""
        text = self.trailers.get(APP_COMMIT_DATE, "")
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
        except ValueError:
            moment = None
        if moment is None:
            return self.sha, self.committed_at
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return self.trailers.get(APP_COMMIT) or self.sha, moment


async def commit_log(
    cache: RepoCache, url: str, old: str, new: str, *, limit: int = MAX_COMMITS
) -> list[CommitInfo]:
    """Commits in ``old..new``, newest first (at most ``limit``); [] when ``new`` is not in
    the mirror."""
    git_dir = cache.mirror_path(validate_repo_url(url))
    if not (git_dir / "HEAD").is_file():
        return []
    new = validate_sha(new)
    args = ["log", "--no-decorate", f"--max-count={limit}", _FORMAT, new]
    if old:
        try:
            return _parse(await run_git([*args, f"^{validate_sha(old)}"], git_dir=git_dir))
        except GitError:
            pass  # the old revision is gone from the mirror: the new commit alone
    try:
        return _parse(await run_git([*args[:2], "--max-count=1", *args[3:]], git_dir=git_dir))
    except GitError:
        return []


def _parse(out: str) -> list[CommitInfo]:
    found = []
    for record in out.split("\x1e"):
        parts = record.strip("\n").split("\x1f")
        if len(parts) != 3 or not parts[0]:
            continue
        trailers = {}
        for line in parts[2].strip().split("\x1d"):
            key, sep, value = line.partition(":")
            if sep:
                trailers[key.strip()] = value.strip()
        committed = datetime.fromisoformat(parts[1])
        found.append(CommitInfo(parts[0], committed.astimezone(UTC), trailers))
    return found
