"""Check repo URLs, revisions and paths before any of them reaches git or the filesystem.

They come from Applications, webhooks and API bodies, i.e. from outside, and git reads some
strings as options (a leading ``-``) or as commands to run (``ext::sh -c …``). Every check here
is pure, so that a refused input changes nothing: no mirror is created, no process runs.
Each error names the field (``obj``) and says what to write instead.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from conveyor.model.revisions import is_commit_sha, revision_problem
from conveyor.source.errors import InvalidSourceError

_MAX_URL = 2048
_MAX_PATH = 4096

# git's ``<transport>::<address>`` syntax runs a remote helper (``ext::`` runs a shell command).
_TRANSPORT_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9+.\-]*::")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
# ``user@host:path``, git's scp-like ssh syntax: a ':' before any '/'.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]*)@)?(?P<host>[^/:]+):(?P<path>.*)$")

ALLOWED_SCHEMES = frozenset({"file", "http", "https", "ssh", "git", "git+ssh", "ssh+git"})
"""URL schemes git may be asked to fetch from; any other scheme would run a remote helper."""


URL_FIELD = "repoURL"
REVISION_FIELD = "targetRevision"
PATH_FIELD = "path"


def _control_chars(value: str) -> list[str]:
    return [repr(ch) for ch in value if ord(ch) < 0x20 or ord(ch) == 0x7F]


def validate_repo_url(url: str) -> str:
    """Return ``url`` unchanged if git may safely fetch it; raise InvalidSourceError if not.

    Accepted: local paths, ``file://``, ``http(s)://``, ``ssh://``, ``git://`` and scp-like
    ``user@host:path``. Refused: empty, leading ``-``, ``<transport>::`` forms (``ext::``,
    ``fd::`` …), other schemes, whitespace or control characters, and a user or host that
    starts with ``-``.
    """
    if not url:
        raise InvalidSourceError(
            "the repository URL is empty: set spec.source.repoURL", obj=URL_FIELD
        )
    if len(url) > _MAX_URL:
        raise InvalidSourceError(
            f"the repository URL is longer than {_MAX_URL} characters", obj=URL_FIELD
        )
    if url.startswith("-"):
        raise InvalidSourceError(
            "the repository URL starts with '-', which git would read as an option: "
            "use an absolute path or a URL such as https://host/repo.git",
            obj=URL_FIELD,
        )
    if match := _TRANSPORT_PREFIX.match(url):
        raise InvalidSourceError(
            f"the '{match.group(0)}' transport form runs a helper command and is refused: "
            "use an https://, ssh://, git:// or file:// URL",
            obj=URL_FIELD,
        )
    if bad := _control_chars(url):
        raise InvalidSourceError(
            f"the repository URL contains control characters ({', '.join(bad)}): remove them",
            obj=URL_FIELD,
        )
    if any(ch.isspace() for ch in url):
        raise InvalidSourceError(
            "the repository URL contains whitespace: percent-encode spaces (%20) or remove them",
            obj=URL_FIELD,
        )
    if match := _SCHEME.match(url):
        scheme = match.group(1).lower()
        if scheme not in ALLOWED_SCHEMES:
            raise InvalidSourceError(
                f"the URL scheme {scheme!r} is not supported: use one of "
                f"{', '.join(sorted(ALLOWED_SCHEMES))}",
                obj=URL_FIELD,
            )
        authority = url[match.end() :].split("/", 1)[0]
        _check_authority(authority.rsplit("@", 1))
        return url
    if "://" in url:  # git reads what precedes '://' as a protocol, wherever it starts
        raise InvalidSourceError(
            "the repository URL contains '://' but does not start with a scheme: write "
            "scheme://host/path, or a local path without '://'",
            obj=URL_FIELD,
        )
    if "/" not in url.split(":", 1)[0] and (scp := _SCP_LIKE.match(url)):
        _check_authority([scp.group("user") or "", scp.group("host")])
    return url


def _check_authority(parts: list[str]) -> None:
    """A user or host that starts with '-' reaches ssh as an option (CVE-2017-1000117)."""
    for part in parts:
        if part.startswith("-"):
            raise InvalidSourceError(
                f"the user or host {part!r} in the repository URL starts with '-', which ssh "
                "would read as an option: fix the URL",
                obj=URL_FIELD,
            )


def validate_revision(revision: str) -> str:
    """Return the revision to resolve (``''`` becomes ``'HEAD'``); raise if it is unsafe.

    A revision is a branch, a tag, a full or abbreviated commit SHA, ``HEAD`` or a full ref name
    (``refs/heads/main``), as Argo CD resolves ``targetRevision`` (``conveyor.model.revisions``).
    Range and navigation syntax (``a..b``, ``main~1``, ``HEAD^``, ``@{upstream}``,
    ``rev:path``) is refused: pin a branch, a tag or a SHA instead.
    """
    if revision == "":
        return "HEAD"
    problem = revision_problem(revision)
    if problem is not None:
        raise InvalidSourceError(problem, obj=REVISION_FIELD)
    return revision


def is_full_sha(value: str) -> bool:
    """True for a full lowercase commit SHA (40 hex, or 64 in SHA-256 repositories)."""
    return is_commit_sha(value)


def validate_sha(sha: str) -> str:
    """Return ``sha`` if it is a full commit SHA, the form ``resolve`` returns."""
    if not is_full_sha(sha):
        raise InvalidSourceError(
            f"{sha!r} is not a full commit SHA (40 or 64 lowercase hex digits): resolve the "
            "revision first",
            obj="revision",
        )
    return sha


def validate_path(path: str) -> PurePosixPath:
    """Return ``path`` normalized, relative to the repo root (``PurePosixPath('.')`` for it).

    Refused: absolute paths, any ``..`` segment (write the path from the repository root
    instead; with symlinks a lexical ``..`` would not mean what it says), control characters
    and leading or trailing whitespace. ``''``, ``.`` and ``./`` mean the root.
    """
    if len(path) > _MAX_PATH:
        raise InvalidSourceError(f"the path is longer than {_MAX_PATH} characters", obj=PATH_FIELD)
    if bad := _control_chars(path):
        raise InvalidSourceError(
            f"the path contains control characters ({', '.join(bad)}): remove them",
            obj=PATH_FIELD,
        )
    if path != path.strip():
        raise InvalidSourceError(
            f"the path {path!r} starts or ends with whitespace: remove it", obj=PATH_FIELD
        )
    if path.startswith("/"):
        raise InvalidSourceError(
            f"the path {path!r} is absolute: paths are relative to the repository root "
            "(use '.' for the root)",
            obj=PATH_FIELD,
        )
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidSourceError(
            f"the path {path!r} contains '..', which could leave the repository: write the "
            "path from the repository root",
            obj=PATH_FIELD,
        )
    return PurePosixPath(*parts) if parts else PurePosixPath(".")
