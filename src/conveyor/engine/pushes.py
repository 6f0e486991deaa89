"""Which apps a push concerns: repository identity and ref matching for webhooks.

A webhook names the repository in its own spelling (``https://github.com/Org/Repo``) and the
app in another (``git@github.com:org/repo.git``); both must mean the same repository. A push
to a branch concerns the apps tracking that branch, ``HEAD``, or a pinned commit (a commit may
be on any branch, so those are looked at too).

Minimal and inside the engine until ``conveyor.source.urls`` has the shared identity function.
"""

from __future__ import annotations

from conveyor.source import is_full_sha, repo_key


def repository_identity(url: str) -> str:
    """One key per repository however it is spelled (https or ssh, ``git@host:path`` or
    ``ssh://``, with or without ``.git`` or a trailing ``/``), without case."""
    return repo_key(url.strip()).lower()


def revision_matches(target_revision: str, ref: str) -> bool:
    """Does a push to ``ref`` (refs/heads/main, refs/tags/v1) concern ``target_revision``?
    A pinned commit (40 hex digits, or 64 in SHA-256 repositories) is always looked at."""
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return target_revision in ("HEAD", "", short, ref) or is_full_sha(target_revision)
