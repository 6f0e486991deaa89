"""The layer-4 half of a Service proxy: endpoints, weighted balancing, and TCP splicing.

A Service of the local runtime is a listener on 127.0.0.1 that spreads traffic over the Ready
Pods' ports. This module holds what both of its modes share (the endpoint set and its smooth
weighted round-robin, the registry of open connections that ``stop()`` closes, the byte pipe
that joins two sockets) and the TCP mode itself: one endpoint per client connection, the next
endpoint tried when a connect fails, then a bidirectional splice with backpressure and
half-close. The HTTP mode (``proxy_http``) balances per request on top of the same pieces.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.logging import get_logger

CONNECT_TIMEOUT = 3.0  # seconds to open a connection to one endpoint
DOWN_FOR = 1.0  # seconds an endpoint that refused a connection is tried only as a last resort
ENDPOINT_WAIT = 1.5  # seconds a request waits for endpoints to appear before giving up
MAX_IDLE_PER_ENDPOINT = 256  # pooled keep-alive connections kept per endpoint
EARLY_LIMIT = 1 << 20  # bytes held for a side not yet spliced before it stops being read


@dataclass(frozen=True)
class Endpoint:
    """One Pod port traffic may go to; ``weight`` is its relative share (0: none)."""

    host: str
    port: int
    weight: int = 1
    name: str = ""

    def label(self) -> str:
        """How logs name the endpoint: the Pod's name, else its address."""
        return self.name or f"{self.host}:{self.port}"


class Peer:
    """Balancing state of one endpoint, and its idle keep-alive connections (HTTP mode)."""

    __slots__ = ("current", "down_until", "endpoint", "idle", "removed", "weight")

    def __init__(self, endpoint: Endpoint, weight: int) -> None:
        self.endpoint = endpoint
        self.weight = weight
        self.current = 0
        self.down_until = 0.0
        self.removed = False
        self.idle: list[Any] = []  # pooled upstream protocols, most recently used last

    def mark_down(self) -> None:
        """Prefer the other endpoints for a moment: this one refused a connection."""
        self.down_until = time.monotonic() + DOWN_FOR

    def close_idle(self) -> None:
        """Close every pooled connection (the endpoint was removed or the proxy stops)."""
        idle, self.idle = self.idle, []
        for proto in idle:
            proto.transport.close()


class Balancer:
    """Smooth weighted round-robin (as nginx does it) over the endpoints with weight > 0."""

    def __init__(self) -> None:
        self.endpoints: tuple[Endpoint, ...] = ()
        self.peers: list[Peer] = []
        self._by_addr: dict[tuple[str, int], Peer] = {}

    def replace(self, endpoints: Sequence[Endpoint]) -> list[Peer]:
        """Swap in a new endpoint set at once; returns the peers that left it."""
        if tuple(endpoints) == self.endpoints:
            return []  # the runtime repeats unchanged sets: keep the round-robin's place
        weights: dict[tuple[str, int], int] = {}
        first: dict[tuple[str, int], Endpoint] = {}
        for ep in endpoints:
            if ep.weight < 0:
                raise ValueError(f"endpoint {ep.label()}: weight must be >= 0, got {ep.weight}")
            addr = (ep.host, ep.port)
            first.setdefault(addr, ep)
            weights[addr] = weights.get(addr, 0) + ep.weight
        old = self._by_addr
        new: dict[tuple[str, int], Peer] = {}
        for addr, ep in first.items():
            peer = old.get(addr)
            if peer is None:
                peer = Peer(ep, weights[addr])
            else:
                peer.endpoint, peer.weight = ep, weights[addr]
            new[addr] = peer
        gone = [peer for addr, peer in old.items() if addr not in new or new[addr].weight == 0]
        for peer in gone:
            peer.removed = True
        for peer in new.values():
            if peer.weight > 0:
                peer.removed = False
        self._by_addr = new
        self.endpoints = tuple(endpoints)
        self.peers = [peer for peer in new.values() if peer.weight > 0]
        for peer in self.peers:
            peer.current = 0
        return gone

    def pick(self, exclude: set[Peer] | None = None) -> Peer | None:
        """The next peer; skips ``exclude`` and, while others remain, endpoints marked down."""
        best = self._pick(exclude, skip_down=True)
        if best is None:
            best = self._pick(exclude, skip_down=False)
        if best is None and exclude:
            best = self._pick(None, skip_down=False)
        return best

    def _pick(self, exclude: set[Peer] | None, *, skip_down: bool) -> Peer | None:
        best: Peer | None = None
        total = 0
        now = 0.0
        for peer in self.peers:
            if exclude is not None and peer in exclude:
                continue
            if skip_down and peer.down_until:
                now = now or time.monotonic()
                if now < peer.down_until:
                    continue
                peer.down_until = 0.0
            peer.current += peer.weight
            total += peer.weight
            if best is None or peer.current > best.current:
                best = peer
        if best is not None:
            best.current -= total
        return best


class ProxyContext:
    """What every connection of one proxy shares: its name, balancer and open transports."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.balancer = Balancer()
        self.transports: set[asyncio.BaseTransport] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.ready = asyncio.Event()  # set while at least one endpoint has weight > 0
        self.closed = False  # stopped: no new upstream connection may be opened
        self.log = get_logger(service=name)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a connection's background step; ``close_all`` cancels it."""
        if self.closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def wait_for_endpoints(self) -> bool:
        """Wait briefly (a rollout may be swapping endpoints) for one to appear."""
        if self.balancer.peers:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ready.wait(), ENDPOINT_WAIT)
        return bool(self.balancer.peers)

    def close_all(self) -> None:
        """Drop every connection, pooled or active, and cancel pending connects."""
        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        for peer in self.balancer.peers:
            peer.close_idle()
        for transport in list(self.transports):
            transport.abort()  # type: ignore[attr-defined]
        self.transports.clear()


class Pipe(asyncio.Protocol):
    """One side of a splice: bytes read here are written to the peer, with backpressure.

    An upstream connection gets its Pipe before the splice joins it to the client, and a
    server that speaks first (SMTP, MySQL) may send its greeting, or even close, in between:
    that is kept in ``early`` / ``eof`` / ``lost`` for ``splice`` to pass on.
    """

    __slots__ = ("ctx", "early", "eof", "lost", "other", "transport")

    def __init__(self, ctx: ProxyContext, transport: asyncio.Transport | None = None) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.other: Pipe | None = None
        self.early = b""
        self.eof = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ctx.transports.add(transport)

    def data_received(self, data: bytes) -> None:
        other = self.other
        if other is not None:
            other.transport.write(data)
            return
        self.early += data
        if len(self.early) > EARLY_LIMIT:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        return self.pass_eof()

    def pass_eof(self) -> bool:
        """Half-close the other side; False once both directions are finished."""
        other = self.other
        if other is None:
            return True  # not spliced yet: splice() passes it on
        if other.eof or not other.transport.can_write_eof():
            return False
        other.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.ctx.transports.discard(self.transport)
        if self.other is not None:
            self.other.transport.close()

    def pause_writing(self) -> None:
        if self.other is not None:
            self.other.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.other is not None and not self.other.eof:
            self.other.transport.resume_reading()


def splice(
    ctx: ProxyContext,
    client: asyncio.Transport,
    upstream: asyncio.Transport,
    *,
    sent: bytes | bytearray = b"",
    client_eof: bool = False,
) -> None:
    """Turn two open transports into a raw bidirectional tunnel.

    ``sent`` is what the client sent before the splice, ``client_eof`` whether it half-closed.
    """
    a = Pipe(ctx, client)
    b = upstream.get_protocol()
    if not isinstance(b, Pipe):
        b = Pipe(ctx, upstream)
        upstream.set_protocol(b)
    a.other, b.other = b, a
    a.eof = client_eof
    client.set_protocol(a)
    if sent:
        upstream.write(sent)
    if b.early:
        client.write(b.early)
        b.early = b""
    if b.lost:
        client.close()
        return
    for pipe in (a, b):
        transport = pipe.transport
        if pipe.eof and not pipe.pass_eof():
            transport.close()
        elif not transport.is_closing():
            transport.resume_reading()


class TcpFrontend(asyncio.Protocol):
    """A client connection in TCP mode: picks an endpoint, connects, then splices."""

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.pending = bytearray()
        self.eof = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ctx.transports.add(transport)
        self.ctx.spawn(self._connect())

    def data_received(self, data: bytes) -> None:
        self.pending += data
        if len(self.pending) > EARLY_LIMIT and self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        self.eof = True
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.transport is not None:
            self.ctx.transports.discard(self.transport)

    async def _connect(self) -> None:
        client = self.transport
        assert client is not None
        if not await self.ctx.wait_for_endpoints():
            self.ctx.log.info("no endpoints; closing tcp connection")
            client.close()
            return
        loop = asyncio.get_running_loop()
        tried: set[Peer] = set()
        for _ in range(len(self.ctx.balancer.peers) + 1):
            peer = self.ctx.balancer.pick(tried)
            if peer is None or self.closed:
                break
            tried.add(peer)
            ep = peer.endpoint
            try:
                upstream, _ = await asyncio.wait_for(
                    loop.create_connection(lambda: Pipe(self.ctx), ep.host, ep.port),
                    CONNECT_TIMEOUT,
                )
            except (OSError, TimeoutError) as err:
                peer.mark_down()
                self.ctx.log.debug("connect failed", endpoint=ep.label(), error=str(err))
                continue
            if self.closed:
                upstream.close()
                return
            splice(self.ctx, client, upstream, sent=self.pending, client_eof=self.eof)
            return
        self.ctx.log.info("no endpoint accepted the connection; closing it")
        client.close()
