"""Keeping leases: wait for one, renew every held lease in one batch, notice a loss.

A server process in a group sharing one PostgreSQL is a standby until ``acquire`` gets it the
lease (it looks every ``retry_every`` seconds and remembers who holds it meanwhile, so that
its API can forward requests there). Once holding, ``run`` renews all of its leases in one
statement every ``renew_every`` seconds: the cost of a lease is one statement per period,
never a query per reconcile. A lease that was not renewed (another process took it, the row
was changed) or that could not be renewed for over half its TTL (the database is out of
reach, so the lease may expire under us) is reported to ``on_lost``: the caller must stop acting on
it at once. The writes themselves are fenced (``store.leases.Fence``), so even a holder that
is slow to stop cannot write after a takeover.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from conveyor.clock import Clock, SystemClock
from conveyor.logging import get_logger
from conveyor.store.leases import Fence, Lease, LeaseStore

log = get_logger(component="leases")

OnLost = Callable[[str, str], None]
"""Called with (lease name, why) when a held lease is lost."""


def new_holder_id() -> str:
    """This process's holder id: host, pid and a random part (new at every start)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseOptions:
    """Timings of the leases (CONVEYOR_LEASE_TTL sets ``ttl``)."""

    ttl: float = 10.0
    """How long a lease lasts without renewal: a killed holder's apps wait this long at most
    (plus ``retry_every``) before another process takes them over."""

    @property
    def renew_every(self) -> float:
        """A third of the TTL: two renewals may fail before the lease is at risk."""
        return self.ttl / 3

    @property
    def retry_every(self) -> float:
        """How often a standby looks whether the lease is free (a tenth of the TTL)."""
        return self.ttl / 10


class LeaseKeeper:
    """One process's leases: acquired, renewed in batches, lost."""

    def __init__(
        self,
        store: LeaseStore,
        holder: str,
        url: str,
        *,
        on_lost: OnLost,
        options: LeaseOptions | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.holder = holder
        self.url = url
        self.options = options or LeaseOptions()
        self._clock = clock or SystemClock()
        self._on_lost = on_lost
        self.held: dict[str, int] = {}
        """Leases held: name -> fencing token."""
        self.holders: dict[str, Lease] = {}
        """The holder last seen of each lease asked for (this process once it holds it)."""
        self._renewed_at = float("-inf")

    async def try_acquire(self, name: str) -> Fence | None:
        """One attempt at lease ``name``: its fence when taken, None when held elsewhere."""
        lease = await self.store.acquire(name, self.holder, self.url, self.options.ttl)
        if lease is None:
            current = await self.store.get(name)
            if current is not None:
                self.holders[name] = current
            return None
        self.holders[name] = lease
        self.held[name] = lease.token
        self._renewed_at = self._clock.monotonic()
        log.info("lease acquired", lease=name, holder=self.holder, fence=lease.token)
        return Fence(name, self.holder, lease.token)

    async def acquire(self, name: str) -> Fence:
        """Wait until lease ``name`` is taken (a standby meanwhile); its fence."""
        while True:
            try:
                fence = await self.try_acquire(name)
            except Exception as err:  # the database is out of reach: keep looking
                log.warning("lease not acquired", lease=name, error=repr(err))
                fence = None
            if fence is not None:
                return fence
            await asyncio.sleep(self.options.retry_every)

    def leader(self, name: str) -> Lease | None:
        """Who holds lease ``name`` as last seen, if that lease has not expired since."""
        lease = self.holders.get(name)
        if lease is None or not lease.live(self._clock.now()):
            return None
        return lease

    async def renew_once(self) -> None:
        """Renew every held lease in one statement; report those lost to ``on_lost``."""
        if not self.held:
            return
        started = self._clock.monotonic()
        try:
            renewed = await self.store.renew(self.holder, self.held, self.options.ttl)
        except Exception as err:
            late = started - self._renewed_at
            if late <= self.options.ttl / 2:  # a lease renewed late is still safe
                log.warning("lease renewal failed; will retry", error=repr(err))
                return
            self._lose(list(self.held), f"not renewed for {late:.1f}s: {err}")
            return
        self._renewed_at = started
        lost = [name for name in self.held if name not in renewed]
        if lost:
            self._lose(lost, "another process holds it now")

    async def run(self) -> None:
        """Renew until cancelled (start it once a lease is held)."""
        while self.held:
            await asyncio.sleep(self.options.renew_every)
            await self.renew_once()

    async def release(self) -> None:
        """Give up every held lease, so that another process takes over at once."""
        held, self.held = dict(self.held), {}
        if held:
            await self.store.release(self.holder, held)
            log.info("leases released", leases=sorted(held), holder=self.holder)

    def _lose(self, names: list[str], why: str) -> None:
        for name in names:
            self.held.pop(name, None)
            log.error("lease lost", lease=name, holder=self.holder, reason=why)
            self._on_lost(name, why)
