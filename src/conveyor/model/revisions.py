"""Git revisions: which strings may name a commit, what a full SHA looks like, which push matters.

One grammar for everyone who hands a revision to git. A ``targetRevision`` is what Argo CD
resolves: a branch, a tag, ``HEAD``, a full ref name (``refs/heads/main``) or a full or
abbreviated commit SHA. Argo CD looks names up among the remote's refs, so ``main~1`` or
``HEAD^`` resolve to nothing there and are refused here, with the reason. A build of an
artifact reads the user's own clone with ``git rev-parse``, so it also takes git's ancestry
suffixes on such a name (``HEAD~1``, ``v1^2``); ranges (``a..b``), reflogs (``@{1}``) and
``rev:path`` are refused everywhere.

Commit SHAs are 40 hex digits, or 64 in SHA-256 repositories (``git init
--object-format=sha256``); nothing may assume 40.
"""

from __future__ import annotations

import re

MAX_REVISION = 255
"""Longest revision accepted (git's ref names are limited by the file system's names)."""

_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SHORT_SHA = re.compile(r"^[0-9a-f]{4,64}$")
# Ancestry suffixes a build may add to a name: ``~``, ``~3``, ``^``, ``^2``.
_ANCESTRY = re.compile(r"(?:[~^][0-9]{0,4})+$")
# Characters git refuses in ref names, or that rev-parse reads as operators (``a..b``, ``x^``).
_FORBIDDEN = ("..", "@{", "~", "^", ":", "?", "*", "[", "\\", "//")


def is_commit_sha(value: str) -> bool:
    """True for a full lowercase commit SHA: 40 hex digits, or 64 (SHA-256 repositories)."""
    return _FULL_SHA.match(value) is not None


def may_be_short_sha(value: str) -> bool:
    """True when ``value`` could abbreviate a commit SHA (4 to 64 lowercase hex digits)."""
    return _SHORT_SHA.match(value) is not None


def revision_problem(revision: str, *, ancestry: bool = False) -> str | None:
    """Why git must not be given ``revision`` (a sentence), or None when it may.

    ``''`` is fine (it means ``HEAD``). With ``ancestry``, git's ``~n`` and ``^n`` suffixes are
    allowed after a name, as a build of a local clone takes them.
    """
    if len(revision) > MAX_REVISION:
        return f"the revision is longer than {MAX_REVISION} characters"
    if revision.startswith("-"):
        return (
            f"the revision {revision!r} starts with '-', which git would read as an option: "
            "use a branch, a tag or a commit SHA"
        )
    if bad := [repr(ch) for ch in revision if ord(ch) < 0x20 or ord(ch) == 0x7F]:
        return f"the revision contains control characters ({', '.join(bad)}): remove them"
    if any(ch.isspace() for ch in revision):
        return f"the revision {revision!r} contains whitespace, which git ref names cannot"
    name = revision
    if ancestry and (suffix := _ANCESTRY.search(revision)) and suffix.start() > 0:
        name = revision[: suffix.start()]
    for token in _FORBIDDEN:
        if token in name:
            return (
                f"the revision {revision!r} contains {token!r}: revision expressions are not "
                "supported; use a branch, a tag or a commit SHA"
            )
    if name.startswith("/") or name.endswith(("/", ".", ".lock")):
        return (
            f"the revision {revision!r} is not a valid git ref name: it may not start with '/' "
            "nor end with '/', '.' or '.lock'"
        )
    return None


def push_concerns(target_revision: str, ref: str) -> bool:
    """Does a push to ``ref`` (``refs/heads/main``, ``refs/tags/v1``) concern an app that
    tracks ``target_revision``?

    ``HEAD`` and ``''`` follow the default branch, which any push may have moved; a pinned
    commit SHA (40 or 64 hex) is looked at again too, since the push may be what makes it
    fetchable. Otherwise the branch or tag must be the one pushed, by short or full name.
    """
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return target_revision in ("HEAD", "", short, ref) or is_commit_sha(target_revision)
