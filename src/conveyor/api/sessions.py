"""Browser sessions: a token typed once at ``/ui/login`` becomes an opaque session cookie.

An EventSource cannot send an Authorization header, so the web UI authenticates with a
cookie. The cookie holds a random session id, never the token: the server keeps, per id
(looked up by its SHA-256, as tokens are), the token it stands for and when it expires, and
checks the token again on every request, so a revoked token ends its sessions at once.
Sessions live in the server's memory: a restart signs everyone out.

The cookie is HttpOnly and SameSite=Strict (Secure over https). A request authenticated by
it that may change something (any method but GET, HEAD, OPTIONS) must also carry an
``Origin`` equal to the server's own and htmx's ``HX-Request`` header, else 403: a page of
another site can make a browser send neither. Bearer-token clients are not concerned.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlsplit

from starlette.types import Scope

from conveyor.store import TokenInfo, TokenStore

COOKIE = "conveyor_session"
SESSION_SECONDS = 24 * 3600
"""How long a session lasts (Argo CD's default ``users.session.duration``)."""
MAX_SESSIONS = 10_000
"""Beyond this many live sessions, the oldest is dropped to make room."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Session:
    token: str
    expires: float


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Live sessions by the hash of their id; ``clock`` is a monotonic time in seconds."""

    def __init__(
        self, *, seconds: float = SESSION_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    @property
    def seconds(self) -> float:
        return self._seconds

    def create(self, token: str) -> str:
        """A new session for ``token`` (already verified); returns the id for the cookie."""
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[key]
        while len(self._sessions) >= MAX_SESSIONS:
            del self._sessions[next(iter(self._sessions))]
        session_id = secrets.token_urlsafe(32)
        self._sessions[_key(session_id)] = Session(token, now + self._seconds)
        return session_id

    def token(self, session_id: str) -> str | None:
        """The token behind a live session, or None."""
        if len(session_id) > 128:
            return None
        session = self._sessions.get(_key(session_id))
        if session is None:
            return None
        if session.expires <= self._clock():
            del self._sessions[_key(session_id)]
            return None
        return session.token

    def end(self, session_id: str) -> None:
        self._sessions.pop(_key(session_id), None)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers") or []}


def session_id(scope: Scope) -> str | None:
    """The session id the request's cookie carries, if any."""
    raw = _headers(scope).get(b"cookie")
    if not raw:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(raw.decode("latin-1"))
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = cookies.get(COOKIE)
    return morsel.value if morsel is not None and morsel.value else None


async def cookie_caller(
    scope: Scope, sessions: SessionStore, tokens: TokenStore
) -> TokenInfo | None:
    """The caller of a request authenticated by a live session cookie, else None."""
    found = session_id(scope)
    token = sessions.token(found) if found else None
    if token is None:
        return None
    info = await tokens.verify(token)
    if info is None and found:
        sessions.end(found)  # the token was revoked
    return info


def own_origin(scope: Scope) -> str:
    """``scheme://host[:port]`` of this server as the request names it (its Host header)."""
    scheme = str(scope.get("scheme") or "http")
    host = _headers(scope).get(b"host", b"").decode("latin-1").strip().lower()
    return _normal(f"{scheme}://{host}") or ""


def _normal(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    port = port or DEFAULT_PORTS[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def origin_refusal(scope: Scope) -> str | None:
    """Why the request's ``Origin`` is not this server's, or None when it is."""
    origin = _headers(scope).get(b"origin")
    if origin is None:
        return "a browser request that changes something needs an Origin header"
    normal = _normal(origin.decode("latin-1").strip().lower())
    if normal is None or normal != own_origin(scope):
        return f"the request's Origin ({origin.decode('latin-1')[:100]}) is not this server's"
    return None


def browser_refusal(scope: Scope) -> str | None:
    """Why a cookie-authenticated request may not go on, or None when it may."""
    if str(scope.get("method", "GET")).upper() in SAFE_METHODS:
        return None
    refusal = origin_refusal(scope)
    if refusal is not None:
        return refusal
    if _headers(scope).get(b"hx-request") != b"true":
        return "a browser request that changes something must come from the UI (HX-Request)"
    return None


def is_https(scope: Scope) -> bool:
    return scope.get("scheme") == "https"
