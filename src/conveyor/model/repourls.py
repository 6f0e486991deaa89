"""Repository URLs read one way: which repository does a URL name, in each sense Argo CD uses.

Apps, projects, webhooks and mirrors spell one repository many ways (``https://Host/org/repo``,
``https://host/org/repo.git/``, ``ssh://git@host/org/repo``, ``git@host:org/repo``). This module
parses them once (``parse_repo_url``) and derives the three keys Conveyor compares:

- ``repo_identity``: is a push to this URL a push to that app's repository? Scheme, user and
  port do not matter, nor ``.git``, a trailing ``/`` or case, as in Argo CD's webhook handler
  (``https://github.com/o/r`` and ``git@github.com:o/r.git`` are one repository).
- ``normalize_git_url``: Argo CD's ``NormalizeGitURL``, the form AppProject ``sourceRepos``
  patterns are matched against (lower case, no ``.git``, ssh written ``git@host/org/repo``).
- ``project_repo_form``: what sourceRepos compares, Argo CD's form of the repository after the
  spelling is taken out of it (credentials, ``.``/``..`` segments, doubled or trailing ``/``,
  ``/.git``; local paths and ``file://[localhost]/`` URLs as one absolute ``file://`` form), so
  a denied repository stays denied however it is written.
- ``conveyor.source.urls.repo_key``: the mirror's key, built on ``parse_repo_url``; it keeps the
  scheme and the path's case, since a mirror is fetched over one transport.

Local paths and ``file://`` URLs keep their case: file systems tell ``Repo`` from ``repo``.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

_SCHEME_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
# ``user@host:path``: git's scp-like ssh syntax has a ':' before any '/'.
_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]*)@)?(?P<host>[^/:]+):(?P<path>.*)$")
_ARGO_SCP = re.compile(r"^[\w.-]+@[\w.-]+:")
_SSH_SCHEMES = {"git+ssh": "ssh", "ssh+git": "ssh"}


@dataclass(frozen=True)
class RepoURL:
    """A repository URL in parts; ``scheme`` is ``ssh`` for scp-like, ``file`` for paths."""

    scheme: str  # lower case
    user: str  # user name only (a password or token is never kept)
    host: str  # lower case, without the port
    port: str
    path: str  # no '.'/'..' segments, leading '/', trailing '/' or '.git'; absolute for file


def is_local_path(url: str) -> bool:
    """True when git reads ``url`` as a path on this machine (no scheme, not ``host:path``)."""
    if _SCHEME_URL.match(url):
        return False
    head = url.split(":", 1)[0]
    return ":" not in url or "/" in head


def _trim(path: str) -> str:
    path = path.rstrip("/")
    return path.removesuffix(".git").rstrip("/") if path.endswith(".git") else path


def parse_repo_url(url: str) -> RepoURL:
    """The parts of ``url``; relative local paths are normalized but stay relative."""
    url = url.strip()
    if match := _SCHEME_URL.match(url):
        scheme = match.group("scheme").lower()
        scheme = _SSH_SCHEMES.get(scheme, scheme)
        authority, _, path = match.group("rest").partition("/")
        if scheme == "file":
            return RepoURL("file", "", "", "", _trim(posixpath.normpath("/" + path)))
        userinfo, _, hostport = authority.rpartition("@")
        host, _, port = hostport.lower().partition(":")
        if scheme == "ssh" and port == "22":
            port = ""
        user = userinfo.partition(":")[0]
        return RepoURL(scheme, user, host, port, _trim(_clean_path(path)))
    if not is_local_path(url) and (scp := _SCP_LIKE.match(url)):
        path = _trim(_clean_path(scp.group("path")))
        return RepoURL("ssh", scp.group("user") or "", scp.group("host").lower(), "", path)
    return RepoURL("file", "", "", "", _trim(posixpath.normpath(url)))


def repo_identity(url: str) -> str:
    """Which repository ``url`` names, for "is this push about that app?".

    ``host/path`` in lower case for network URLs, whatever the scheme (https, http, ssh,
    scp-like, git), user, port, ``.git`` or trailing ``/``; ``file://`` + the path for local
    repositories.
    """
    parts = parse_repo_url(url)
    if parts.scheme == "file":
        return "file://" + parts.path
    return f"{parts.host}/{parts.path}".lower()


def _clean_path(path: str) -> str:
    """``a/./b//c/../d`` -> ``a/b/d``: what git and servers make of dot segments."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment not in ("", "."):
            kept.append(segment)
    return "/".join(kept)


def _looks_local(pattern: str) -> bool:
    return pattern.startswith(("/", "./", "../", "file:")) or pattern in (".", "..")


def project_repo_form(url: str, *, pattern: bool = False) -> str:
    """The form AppProject sourceRepos matching compares, for a URL or (``pattern``) a glob.

    Argo CD's ``normalize_git_url`` of the repository with its spelling removed: no
    credentials, no ``.``/``..`` or empty segments, no trailing ``/`` or ``.git``; a local path
    or ``file://`` URL (``file://localhost/`` too) becomes ``file://`` + its absolute path. A
    pattern is read as local only when it is written as a path (``/...``, ``./``, ``file:``),
    so ``*`` and ``git@host:org/*`` keep their meaning.
    """
    text = url.strip()
    local = (
        _looks_local(text) if pattern else is_local_path(text) or text.lower().startswith("file:")
    )
    if local:
        parts = parse_repo_url(text)
        return ("file:///" + _clean_path(posixpath.abspath(parts.path))).lower()
    if match := _SCHEME_URL.match(text):
        authority, _, path = match.group("rest").partition("/")
        user, at, hostport = authority.rpartition("@")
        scheme = match.group("scheme")
        # an ssh user is part of Argo CD's form (git@host/org/repo); an http user is a login
        user = user.partition(":")[0] + at if _SSH_SCHEMES.get(scheme, scheme) == "ssh" else ""
        text = f"{scheme}://{user}{hostport}/{_clean_path(path)}"
    elif scp := _SCP_LIKE.match(text):
        user = scp.group("user")
        text = f"{user + '@' if user is not None else ''}{scp.group('host')}:"
        text += _clean_path(scp.group("path"))
    return normalize_git_url(_trim(text))


def kustomize_remote_repo(entry: str) -> str | None:
    """The repository a kustomize remote reference fetches, or None for a local path.

    kustomize reads ``https://host/org/repo//sub?ref=v1``, ``git::`` + a URL,
    ``ssh://git@host/org/repo//sub``, ``git@host:org/repo.git//sub``,
    ``file:///abs/repo//sub`` and ``host.tld/org/repo/sub`` (a bare host: https) as a repo
    plus a directory in it; ``repo.git/sub`` also ends the repository at ``.git``.
    """
    text = entry.strip().removeprefix("git::").split("?", 1)[0]
    if match := _SCHEME_URL.match(text):
        authority, _, path = match.group("rest").partition("/")
        repo = _repo_part(path if match.group("scheme").lower() != "file" else "/" + path)
        return f"{match.group('scheme')}://{authority}/{repo.lstrip('/')}"
    if not is_local_path(text) and _SCP_LIKE.match(text):
        return _repo_part(text)
    first, _, rest = text.partition("/")
    if (
        "." in first
        and not first.startswith(".")
        and rest
        and not first.endswith((".yaml", ".yml"))
    ):
        org_repo = "/".join(_repo_part(rest).split("/")[:2])
        return f"https://{first}/{org_repo}"
    return None


def _repo_part(path: str) -> str:
    """``org/repo//sub`` or ``org/repo.git/sub`` -> ``org/repo`` (``.git`` kept)."""
    head = path[1:] if path.startswith("/") else path
    if "//" in head:
        return path[: len(path) - len(head)] + head.split("//", 1)[0]
    if ".git/" in path:
        return path.split(".git/", 1)[0] + ".git"
    return path


def normalize_git_url(url: str) -> str:
    """Argo CD's ``NormalizeGitURL``: the form sourceRepos patterns are matched against.

    Lower case, no ``.git``; scp-style ssh (``git@host:org/repo``) and ``ssh://`` URLs are both
    written ``git@host/org/repo``; other schemes are kept (``https://host/org/repo``).
    """
    value = url.strip().lower()
    if "://" not in value and _ARGO_SCP.match(value):
        value = value.replace(":", "/", 1)
    value = value.removeprefix("ssh://")
    return value.removesuffix(".git")
