"""The one place credentials are taken out of repository URLs and of text that may hold them.

A ``repoURL`` may carry ``user:password@`` or a token; it reaches metrics labels, API bodies,
events, history, error messages and logs. Every such path calls ``strip_credentials`` (a URL
shown or written) or ``mask_credentials`` (free text: git's stderr, a command line, a log line).
This module imports no layer, so the model, the stages, the API and the logger all share it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "******"

_SCHEME_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<rest>.*)$", re.DOTALL)
# The userinfo of a URL inside free text; a password may itself hold an unencoded '@'.
_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<userinfo>[^/\s]+)@")


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


def has_credentials(url: str) -> bool:
    """True when ``url`` carries a password or an http token."""
    return strip_credentials(url) != url
