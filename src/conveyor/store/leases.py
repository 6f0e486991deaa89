"""Leases in the database: which server process does a shard of the work, and its fence.

Several ``conveyor server`` processes share one PostgreSQL; exactly one of them must act on
a shard (today the one shard ``local``: the local runtime and every app deployed to it). A
lease row names the holder, where its API listens, when the lease runs out, and a fencing
token raised at every acquisition. A process takes a lease only when it is free or expired,
keeps it by renewing (all of its leases in one statement), and gives it up on a graceful
stop. Every write of the engine and the runtime journal checks the token in its own
transaction (``Fence.check``): on PostgreSQL it holds the lease row ``FOR SHARE``, so a
takeover (which updates the row) waits for the write to commit, and a write that comes after
the takeover finds a new token and is refused. A holder that lost its lease cannot write.

Times come from the injected clock (the holders' clocks must agree, as for Kubernetes
Leases); tests move a ``ManualClock`` by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from conveyor.clock import Clock, SystemClock
from conveyor.errors import ConflictError
from conveyor.store.db import Database
from conveyor.store.tables import LeaseRow

LOCAL_SHARD = "local"
"""The local runtime is one cluster: it and the apps on it are one shard, one holder."""


class LeaseLostError(ConflictError):
    """A write was fenced off: another process holds the lease now (or it was released)."""


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Lease:
    """A lease as stored."""

    name: str
    holder: str
    holder_url: str
    token: int
    acquired_at: datetime
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        """Held (not yet expired) at ``now``."""
        return self.expires_at > now


def _lease(row: LeaseRow) -> Lease:
    return Lease(
        name=row.name,
        holder=row.holder,
        holder_url=row.holder_url,
        token=row.token,
        acquired_at=_utc(row.acquired_at),
        expires_at=_utc(row.expires_at),
    )


@dataclass(frozen=True)
class Fence:
    """The token of a lease this process holds, checked inside a write's transaction."""

    name: str
    holder: str
    token: int

    async def check(self, executor: AsyncSession | AsyncConnection) -> None:
        """Raise LeaseLostError unless the lease still carries this holder and token.

        The row is read ``FOR SHARE`` (PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
        serializes every write): a takeover cannot commit between this check and the
        transaction's commit.
        """
        token = await executor.scalar(
            select(LeaseRow.token)
            .where(LeaseRow.name == self.name, LeaseRow.holder == self.holder)
            .with_for_update(read=True)
        )
        if token != self.token:
            raise LeaseLostError(
                f"this process ({self.holder}) no longer holds lease {self.name!r} "
                f"(token {self.token}); another server took it over",
                obj=self.name,
            )


class LeaseStore:
    """Acquire, renew, release and read leases on an open Database."""

    def __init__(self, database: Database, *, clock: Clock | None = None) -> None:
        self._db = database
        self._clock = clock or SystemClock()

    async def acquire(self, name: str, holder: str, holder_url: str, ttl: float) -> Lease | None:
        """Take lease ``name`` for ``ttl`` seconds when it is free or expired (or already
        ``holder``'s), with a new fencing token; None when another holder has it."""
        now = self._clock.now()
        expires = now + timedelta(seconds=ttl)
        try:
            async with self._db.writing(), self._db.sessions() as session, session.begin():
                row = await session.scalar(
                    select(LeaseRow).where(LeaseRow.name == name).with_for_update()
                )
                if row is None:
                    row = LeaseRow(
                        name=name, holder=holder, holder_url=holder_url, token=1,
                        acquired_at=now, expires_at=expires,
                    )  # fmt: skip
                    session.add(row)
                elif row.holder != holder and _utc(row.expires_at) > now:
                    return None
                else:
                    row.holder, row.holder_url = holder, holder_url
                    row.token += 1
                    row.acquired_at, row.expires_at = now, expires
                await session.flush()
                return _lease(row)
        except IntegrityError:  # another process inserted the first row at the same moment
            return None

    async def renew(self, holder: str, tokens: Mapping[str, int], ttl: float) -> set[str]:
        """Extend every lease in ``tokens`` (name -> token) that ``holder`` still holds
        with that token, in one statement; returns the names renewed."""
        if not tokens:
            return set()
        expires = self._clock.now() + timedelta(seconds=ttl)
        pairs = sorted(tokens.items())
        async with self._db.writing(), self._db.engine.begin() as conn:
            renewed = await conn.scalars(
                update(LeaseRow)
                .where(LeaseRow.holder == holder, tuple_(LeaseRow.name, LeaseRow.token).in_(pairs))
                .values(expires_at=expires)
                .returning(LeaseRow.name)
            )
            return set(renewed)

    async def release(self, holder: str, tokens: Mapping[str, int]) -> None:
        """Give up the leases (expired at once, so that another process takes them now)."""
        if not tokens:
            return
        past = self._clock.now() - timedelta(seconds=1)
        async with self._db.writing(), self._db.engine.begin() as conn:
            await conn.execute(
                update(LeaseRow)
                .where(
                    LeaseRow.holder == holder,
                    tuple_(LeaseRow.name, LeaseRow.token).in_(sorted(tokens.items())),
                )
                .values(expires_at=past)
            )

    async def get(self, name: str) -> Lease | None:
        """Lease ``name`` as stored (expired or not); None when it was never taken."""
        async with self._db.sessions() as session:
            row = await session.get(LeaseRow, name)
            return _lease(row) if row is not None else None
