"""Errors of the source stage, so callers can catch "the source failed" as one thing.

Each class also sits under Conveyor's permanent/temporary split (``conveyor.errors``), which
decides whether the reconciler retries::

    SourceError                         any failure to fetch, resolve or read a repository
    ├── InvalidSourceError              refused URL, revision or path   (ValidationError)
    ├── UnsafeTreeError                 symlink leaving the repo, symlink loop,
    │                                   tree entry named '..' or '.git'  (ValidationError)
    ├── RevisionNotFoundError           no branch, tag or commit by that name (NotFoundError)
    ├── PathNotFoundError               the app's path is not in that commit  (NotFoundError)
    ├── TreeTooLargeError               the app's path exceeds the read limits (PermanentError)
    └── GitError                        git failed or timed out; retry later (TemporaryError)

``obj`` names the field (``repoURL``, ``targetRevision``, ``path``) or the repository, with
credentials masked; the message says what to change.
"""

from __future__ import annotations

from conveyor.errors import (
    ConveyorError,
    NotFoundError,
    PermanentError,
    TemporaryError,
    ValidationError,
)


class SourceError(ConveyorError):
    """Base of every error the source stage raises."""


class InvalidSourceError(SourceError, ValidationError):
    """A repo URL, revision or path from outside was refused before git ran."""


class UnsafeTreeError(SourceError, ValidationError):
    """The repository's content would lead a reader outside the repository."""


class RevisionNotFoundError(SourceError, NotFoundError):
    """No branch, tag or commit matches the revision; ``tried`` lists what was looked up."""

    def __init__(self, message: str, *, obj: str | None = None, tried: tuple[str, ...] = ()):
        super().__init__(message, obj=obj)
        self.tried = tried


class PathNotFoundError(SourceError, NotFoundError):
    """The app's path does not exist (or is not a directory) at the commit."""


class TreeTooLargeError(SourceError, PermanentError):
    """The app's path holds more files or bytes than the reader is allowed to load."""


class GitError(SourceError, TemporaryError):
    """A git command failed; ``stderr`` is git's own explanation with credentials masked."""

    def __init__(
        self,
        message: str,
        *,
        obj: str | None = None,
        returncode: int | None = None,
        stderr: str = "",
        delay: float = 30.0,
    ) -> None:
        super().__init__(message, obj=obj, delay=delay)
        self.returncode = returncode
        self.stderr = stderr
