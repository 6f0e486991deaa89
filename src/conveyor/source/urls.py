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
from urllib.parse import unquote

from conveyor.logging import MASK
from conveyor.model.repourls import is_local_path, parse_repo_url, repo_identity

_SCHEME_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
# The userinfo of a URL inside free text; a password may itself hold an unencoded '@'.
_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<userinfo>[^/\s]+)@")
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


def _is_http(scheme: str) -> bool:
    return scheme.lower() in ("http", "https")


def _masked_userinfo(scheme: str, userinfo: str) -> str:
    """``user:pass`` -> ``user:***``; a lone http user is usually a token and goes whole."""
    user, sep, _ = userinfo.partition(":")
    if sep:
        return f"{user}:{MASK}"
    return MASK if _is_http(scheme) else user


def _secrets_of(url: str) -> list[str]:
    match = _SCHEME_URL.match(url)
    if not match:
        return []
    authority = match.group("rest").split("/", 1)[0]
    if "@" not in authority:
        return []
    user, sep, password = authority.rsplit("@", 1)[0].partition(":")
    found = [password] if sep else ([user] if _is_http(match.group("scheme")) else [])
    found += [unquote(secret) for secret in found]
    return [secret for secret in found if len(secret) >= 3]


def mask_credentials(text: str, url: str | None = None) -> str:
    """Mask passwords and tokens of every URL in ``text``, and ``url``'s secret wherever it is.

    ``https://user:pass@host`` becomes ``https://user:******@host``; ``https://TOKEN@host``
    becomes ``https://******@host``. ssh and git user names (``ssh://git@host``) are kept:
    they are not secrets. Passing ``url`` also catches its password when git prints it alone
    or percent-decoded.
    """
    masked = _USERINFO_IN_TEXT.sub(
        lambda m: (
            f"{m.group('scheme')}://{_masked_userinfo(m.group('scheme'), m.group('userinfo'))}@"
        ),
        text,
    )
    for secret in _secrets_of(url or ""):
        masked = masked.replace(secret, MASK)
    return masked


def strip_credentials(url: str) -> str:
    """``url`` without password or http token, for what is written to disk or shown."""
    match = _SCHEME_URL.match(url)
    if not match:
        return url
    authority, slash, path = match.group("rest").partition("/")
    if "@" not in authority:
        return url
    userinfo, _, host = authority.rpartition("@")
    user, sep, _ = userinfo.partition(":")
    keep = user if sep or not _is_http(match.group("scheme")) else ""
    prefix = f"{keep}@" if keep else ""
    return f"{match.group('scheme')}://{prefix}{host}{slash}{path}"


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
