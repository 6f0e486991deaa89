"""The TCP mode of a Service proxy, and the byte pipe both modes use to join two sockets.

One endpoint per client connection (so weights split connections, not requests), the next
endpoint tried when a connect fails, then a bidirectional splice with backpressure and
half-close. A server that speaks first (SMTP, MySQL) may send its greeting before the splice
is in place: ``Pipe`` keeps it. The HTTP mode uses ``splice`` after a 101 Switching Protocols.
"""

from __future__ import annotations

import asyncio

from conveyor.targets.local.network.context import ProxyContext
from conveyor.targets.local.network.endpoints import Peer


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
        if len(self.early) > self.ctx.options.early_limit:
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
        if len(self.pending) > self.ctx.options.early_limit and self.transport is not None:
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
                    self.ctx.options.connect_timeout,
                )
            except (OSError, TimeoutError) as err:
                peer.mark_down(self.ctx.options.down_for)
                self.ctx.log.debug("connect failed", endpoint=ep.label(), error=str(err))
                continue
            if self.closed:
                upstream.close()
                return
            splice(self.ctx, client, upstream, sent=self.pending, client_eof=self.eof)
            return
        self.ctx.log.info("no endpoint accepted the connection; closing it")
        client.close()
