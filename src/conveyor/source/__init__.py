"""The source stage: git repositories in, the app's files at one commit out.

``validate_*`` check input from outside before git sees it; ``RepoCache`` keeps one bare
mirror per repository, fetches it, resolves revisions to commit SHAs and reads an app's path
at a SHA without a working tree. Everything else in the package is private.
"""

from conveyor.source.cache import RepoCache, revision_candidates
from conveyor.source.commits import CommitInfo, commit_log
from conveyor.source.errors import (
    GitError,
    InvalidSourceError,
    PathNotFoundError,
    RevisionNotFoundError,
    SourceError,
    TreeTooLargeError,
    UnsafeTreeError,
)
from conveyor.source.metrics import GitRequest, GitRequestLog, GitRequestObserver, RequestKind
from conveyor.source.tree import SourceFile, TreeLimits
from conveyor.source.urls import (
    mask_credentials,
    mirror_name,
    repo_identity,
    repo_key,
    strip_credentials,
)
from conveyor.source.validate import (
    is_full_sha,
    validate_path,
    validate_repo_url,
    validate_revision,
    validate_sha,
)

__all__ = [
    "CommitInfo",
    "GitError",
    "GitRequest",
    "GitRequestLog",
    "GitRequestObserver",
    "InvalidSourceError",
    "PathNotFoundError",
    "RepoCache",
    "RequestKind",
    "RevisionNotFoundError",
    "SourceError",
    "SourceFile",
    "TreeLimits",
    "TreeTooLargeError",
    "UnsafeTreeError",
    "commit_log",
    "is_full_sha",
    "mask_credentials",
    "mirror_name",
    "repo_identity",
    "repo_key",
    "revision_candidates",
    "strip_credentials",
    "validate_path",
    "validate_repo_url",
    "validate_revision",
    "validate_sha",
]
