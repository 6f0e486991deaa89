"""Repository URLs as identities: one key per repository, and never a password in the open.

Apps name the same repository in different spellings (``https://Host/org/repo.git``,
``https://host/org/repo/``, with or without credentials); they must share one mirror and one
fetch, so the key drops what does not change the repository. Any text that may carry a URL
(git's stderr, a command line) goes through ``mask_credentials`` before anyone sees it.
"""

from __future__ import annotations

import hashlib
import os
import re

from conveyor.model.repourls import is_local_path, parse_repo_url, repo_identity
from conveyor.redaction import mask_credentials, strip_credentials

_SLUG_CHARS = re.compile(r"[^a-z0-9._-]+")

__all__ = [
    "git_url",
    "is_local_path",
    "mask_credentials",
    "mirror_name",
    "repo_identity",
    "repo_key",
    "strip_credentials",
]


def git_url(url: str) -> str:
    """The URL handed to git: local paths made absolute, so the cwd never changes the repo."""
    return os.path.abspath(url) if is_local_path(url) else url


def repo_key(url: str) -> str:
    """The identity of the repository ``url`` names: the key of its mirror and its fetch.

    Scheme and host are lowercased, credentials and user names dropped, a trailing ``/`` or
    ``.git`` removed; scp-like ``user@host:path`` is the same as ``ssh://host/path``; local paths
    and ``file://`` URLs become one absolute ``file://`` form. The path keeps its case: servers
    and file systems may tell ``Repo`` from ``repo``. (Webhooks compare the looser
    ``repo_identity``, which ignores the scheme.)
    """
    parts = parse_repo_url(url)
    if parts.scheme == "file":
        return "file://" + os.path.abspath(parts.path)
    host = f"{parts.host}:{parts.port}" if parts.port else parts.host
    return f"{parts.scheme}://{host}/{parts.path}"


def mirror_name(url: str) -> str:
    """A directory name for ``url``'s mirror: readable slug plus a hash of the repo key.

    The hash keeps distinct repositories apart whatever their names; the slug (the last two
    path segments, lowercased, unsafe characters replaced) lets a person find a mirror on disk.
    """
    key = repo_key(url)
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    segments = [s for s in key.split("://", 1)[-1].split("/") if s][-2:]
    slug = _SLUG_CHARS.sub("-", "-".join(segments).lower()).strip("-.")[:48] or "repo"
    return f"{slug}-{digest}"
