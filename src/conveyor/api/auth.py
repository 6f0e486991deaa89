"""Bearer-token authentication, and the admin token a fresh installation starts with.

Every route but ``/healthz``, ``/metrics``, the OpenAPI spec and the webhook (which has its
own HMAC check) depends on ``require_token``: a missing or unknown token is a 401 before the
handler runs, so nothing changes. Tokens are looked up by their SHA-256 (see
``conveyor.store.tokens`` for why a fast hash is right for random tokens). Without a bearer
token, the web UI's session cookie is accepted, under the rules of ``conveyor.api.sessions``
(a matching Origin and HX-Request for anything that changes state, else 403).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from conveyor.api.bodyguard import CALLER_STATE
from conveyor.api.discovery import ADMIN_TOKEN_FILE, read_admin_token, write_admin_token
from conveyor.api.sessions import browser_refusal, cookie_caller
from conveyor.errors import ConflictError
from conveyor.logging import get_logger
from conveyor.store import TokenInfo, TokenStore
from conveyor.store.tokens import ADMIN_ID

log = get_logger(component="auth")

_bearer = HTTPBearer(
    auto_error=False,
    description="A Conveyor API token: CONVEYOR_HOME/admin.token, or one made by "
    "`conveyor account generate-token`.",
)


async def ensure_admin_token(tokens: TokenStore, home: Path, *, shared: bool = False) -> bool:
    """Make sure ``home/admin.token`` holds a valid admin token; create it if not.

    First start: a new token is stored (hashed) and written with mode 0600. Later starts keep
    it. A deleted or edited file gets a new admin token, replacing the old one: the file is
    the credential of whoever owns CONVEYOR_HOME. Unless the database is ``shared`` by several
    servers (docs/ha.md) and holds an admin token already: it is another server's, and
    replacing it would lock that server's operators out, so it is kept and a warning says what
    to do (``missing_admin_token_message``). Returns whether ``home/admin.token`` is valid.
    """
    current = read_admin_token(home)
    if current is not None:
        info = await tokens.verify(current)
        if info is not None and info.id == ADMIN_ID:
            return True
    if shared:
        if await tokens.get(ADMIN_ID) is None:
            try:  # two servers starting at once: the first one's token stays
                token, _ = await tokens.create("admin", token_id=ADMIN_ID, replace=False)
            except ConflictError:
                pass
            else:
                write_admin_token(home, token)
                log.info("admin token written", path=str(home / ADMIN_TOKEN_FILE))
                return True
        log.warning(missing_admin_token_message(home, stale=current is not None))
        return False
    await new_admin_token(tokens, home)
    return True


def missing_admin_token_message(home: Path, *, stale: bool) -> str:
    """What an operator reads when a server of a shared database has no valid admin.token."""
    path = home / ADMIN_TOKEN_FILE
    what = "does not hold the current admin token" if stale else "does not exist"
    return (
        f"{path} {what}, and the shared database already holds the admin token another server "
        f"made: it is kept. Copy admin.token from the first server's CONVEYOR_HOME to {path} "
        "(mode 0600) to use the CLI here, or replace the admin token everywhere with "
        "`conveyor account reset-admin-token` (then copy the new file to the other homes)"
    )


async def new_admin_token(tokens: TokenStore, home: Path) -> None:
    """Replace the admin token by a new one, written to ``home/admin.token``."""
    token, _ = await tokens.create("admin", token_id=ADMIN_ID)
    write_admin_token(home, token)
    log.info("admin token written", path=str(home / ADMIN_TOKEN_FILE))


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenInfo:
    """The caller's token, or a 401 (already verified by ``BodyGuard`` for a body)."""
    verified = getattr(request.state, CALLER_STATE, None)
    if isinstance(verified, TokenInfo):
        return verified
    tokens: TokenStore = request.app.state.context.tokens
    if credentials is None or credentials.scheme.lower() != "bearer":
        info = await cookie_caller(request.scope, request.app.state.context.sessions, tokens)
        if info is None:
            raise _unauthorized("a bearer token is required (Authorization: Bearer TOKEN)")
        refusal = browser_refusal(request.scope)
        if refusal is not None:
            raise HTTPException(403, refusal)
        setattr(request.state, CALLER_STATE, info)  # the audit trail's actor (api.audit)
        return info
    info = await tokens.verify(credentials.credentials)
    if info is None:
        raise _unauthorized("invalid or revoked token")
    setattr(request.state, CALLER_STATE, info)  # the audit trail's actor (api.audit)
    return info


Caller = Annotated[TokenInfo, Depends(require_token)]
"""The authenticated caller, for handlers that record who did something."""
