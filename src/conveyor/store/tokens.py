"""API tokens: made here, shown once, kept only as their SHA-256.

A token is 32 random bytes (``secrets.token_urlsafe``), so SHA-256 is the right hash: slow,
salted hashes (bcrypt, argon2) exist to make guessing low-entropy passwords expensive, and
nobody can guess 256 random bits however fast the hash is. A plain digest also lets the
server find a token by its hash with one indexed lookup, so the token itself is never
compared character by character. What the database leaks cannot be used to authenticate.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from conveyor.clock import Clock, SystemClock
from conveyor.errors import ConflictError
from conveyor.store.db import Database
from conveyor.store.tables import ApiToken

ADMIN_ID = "admin"
ADMIN_ROLE = "role:admin"
TOKEN_PREFIX = "cvy_"  # noqa: S105 (a prefix, not a secret)
"""Marks Conveyor tokens, so that secret scanners and people can tell what leaked."""


def hash_token(token: str) -> str:
    """The hex SHA-256 of ``token``, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh token: the prefix and 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenInfo:
    """What is known about a token apart from the token itself."""

    id: str
    name: str
    created_at: datetime
    role: str = ADMIN_ROLE
    """The role the token acts as (``conveyor.api.rbac``)."""
    policy: str = ""
    """The RBAC policy CSV of its own role; empty for built-in roles."""

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "createdAt": self.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "role": self.role,
            "policy": self.policy,
        }


def _info(row: ApiToken) -> TokenInfo:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return TokenInfo(row.id, row.name, created, row.role, row.policy)


class TokenStore:
    """Issue, check, list and revoke API tokens."""

    def __init__(self, database: Database, *, clock: Clock | None = None) -> None:
        self._db = database
        self._clock = clock or SystemClock()

    async def create(
        self,
        name: str,
        *,
        token_id: str | None = None,
        role: str = ADMIN_ROLE,
        policy: str = "",
        replace: bool = True,
    ) -> tuple[str, TokenInfo]:
        """A new token named ``name`` acting as ``role``; returns (token, info), token not kept.

        With ``token_id`` an existing token of that id is replaced (the admin token's
        rotation), or with ``replace=False`` kept: ConflictError then; otherwise the id is
        random.
        """
        token = new_token()
        row = ApiToken(
            id=token_id or secrets.token_hex(6),
            name=name,
            token_hash=hash_token(token),
            created_at=self._clock.now(),
            role=role,
            policy=policy,
        )
        try:
            async with self._db.sessions() as session, session.begin():
                if token_id is not None and replace:
                    await session.execute(delete(ApiToken).where(ApiToken.id == token_id))
                session.add(row)
        except IntegrityError as err:
            raise ConflictError(f"token {token_id!r} exists already") from err
        return token, _info(row)

    async def get(self, token_id: str) -> TokenInfo | None:
        """The info of the token ``token_id`` (None when there is none)."""
        async with self._db.sessions() as session:
            row = await session.get(ApiToken, token_id)
            return _info(row) if row is not None else None

    async def verify(self, token: str) -> TokenInfo | None:
        """The token's info when it is valid, else None."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 256:
            return None
        async with self._db.sessions() as session:
            row = await session.scalar(
                select(ApiToken).where(ApiToken.token_hash == hash_token(token))
            )
            return _info(row) if row is not None else None

    async def list(self) -> list[TokenInfo]:
        async with self._db.sessions() as session:
            rows = await session.scalars(select(ApiToken).order_by(ApiToken.created_at))
            return [_info(r) for r in rows]

    async def revoke(self, token_id: str) -> bool:
        """Delete a token; False when there is none with that id."""
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(delete(ApiToken).where(ApiToken.id == token_id))
            return bool(getattr(result, "rowcount", 0))
