"""The HTTP/1.1 mode of a Service proxy: balancing per request, so rollouts lose nothing.

Balancing per connection would pin a keep-alive client to one Pod for its whole life: a
canary weight would mean nothing, and a Pod leaving would break its clients. So this mode
reads each request with llhttp (``http_request``, strict) and sends the next endpoint of the
balancer a request the proxy framed itself. Requests pipelined behind one in flight wait their
turn, answered in order.

A request whose upstream connection fails before any response byte arrived is sent again, to
another endpoint when there is one, on a fresh connection, when that is safe: always when the
connect failed or the request could not be written; otherwise (reset, or a pooled connection
the server had closed between requests) only for idempotent methods or requests carrying an
``Idempotency-Key``. Other requests reuse only connections that were busy a moment ago
(``unsafe_reuse_idle``), as servers close idle ones after seconds, not milliseconds. Request
bodies up to ``body_buffer_limit`` are kept whole, so they can be sent again; larger bodies
(and ``Expect: 100-continue``) are streamed on a fresh connection and are retried only when
the connect fails. ``Upgrade`` requests become a raw tunnel after 101.

Headers and bodies are never logged (they may carry credentials).
"""

from __future__ import annotations

import asyncio
import time

from conveyor.targets.local.network.context import ProxyContext
from conveyor.targets.local.network.endpoints import Peer
from conveyor.targets.local.network.http_request import Request, RequestReader
from conveyor.targets.local.network.http_upstream import HttpUpstream


class HttpFrontend(asyncio.Protocol):
    """A client connection in HTTP mode: requests in order, each balanced on its own."""

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.options = ctx.options
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.reader = RequestReader(self.options, self._stream)
        self.queue = self.reader.queue  # requests read, the first one in flight
        self.active: Request | None = None  # the request being sent or answered
        self.backlog = 0  # bytes read behind a request in flight (pipelining)
        self.closed = False
        self.fresh = False  # the next attempt must open a new connection
        self.attempts = 0
        self.started = 0.0
        self.tried: set[Peer] | None = None
        self.upstream: HttpUpstream | None = None
        self.out_paused = False  # the client reads slower than the upstream sends
        self.in_full = False  # too much unprocessed input
        self.up_full = False  # the upstream reads slower than the client sends
        self.eof = False

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ctx.transports.add(transport)

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        if reader.tunnel is not None:
            reader.tunnel += data
            if len(reader.tunnel) > self.options.input_limit:
                self._hold(True)
            return
        if reader.parser is None:
            return  # a bad request ended parsing; its answer closes the connection
        active = self.active
        if active is not None and active.complete:
            self.backlog += len(data)
            if self.backlog > self.options.input_limit:
                self._hold(True)
        refused = reader.feed(data)
        if refused is not None and refused is self.active:
            self.abort()  # a streamed body went bad midway
        if self.active is None:
            self._advance()

    def eof_received(self) -> bool:
        self.eof = True
        if self.reader.parsing is not None:
            return False  # a partial request can never complete
        if self.active is None and not self.queue:
            self._close()
            return False
        return True  # answer what was asked, then close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.ctx.transports.discard(self.transport)
        up, self.upstream = self.upstream, None
        if up is not None:
            up.abandon()

    def pause_writing(self) -> None:
        self.out_paused = True
        if self.upstream is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        self.out_paused = False
        if self.upstream is not None:
            self.upstream.transport.resume_reading()

    # -- requests ---------------------------------------------------------------------------

    def _stream(self, req: Request, piece: bytes) -> None:
        if req.pending is None:  # sent already: the rest follows on the same connection
            if req is self.active and self.upstream is not None:
                self.upstream.transport.write(piece)
            return  # (or its exchange failed, and the client was answered)
        req.pending += piece
        if len(req.pending) > self.options.input_limit:
            self._hold(True)  # not connected yet: hold the client back

    def _hold(self, full: bool) -> None:
        self.in_full = full
        self._update_reading()

    def sending_paused(self, paused: bool) -> None:
        self.up_full = paused
        self._update_reading()

    def _update_reading(self) -> None:
        if self.closed or self.eof:
            return
        if self.in_full or self.up_full:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _advance(self) -> None:
        """Start the next request when it is ready (whole, or streaming) and none is in flight."""
        if self.active is not None or self.closed:
            return
        if not self.queue:
            if self.eof:
                self._close()
            return
        req = self.queue[0]
        if req.error is not None:
            self.active = req
            req.close_after = True
            self._reply(*req.error)
            return
        if not (req.complete or req.streaming):
            return
        self.active = req
        self.backlog = 0
        self.attempts = 0
        self.tried = None
        self.fresh = req.upgrade or req.streaming
        self.started = time.monotonic()
        self._dispatch()

    def _dispatch(self) -> None:
        """Send the current request to the next endpoint."""
        ctx = self.ctx
        if ctx.closed:
            self.abort()
            return
        balancer = ctx.balancer
        if not balancer.peers:
            ctx.spawn(self._await_endpoints())
            return
        peer = balancer.pick(self.tried)
        assert peer is not None
        idle = peer.idle
        if idle and not self.fresh:
            req = self.active
            assert req is not None
            if (
                not req.replayable
                and time.monotonic() - idle[-1].idle_since > self.options.unsafe_reuse_idle
            ):
                idle = []  # the most recent one is too old already
            while idle:
                up = idle.pop()
                if not up.transport.is_closing():
                    self._begin(up, reused=True)
                    return
        ctx.spawn(self._connect(peer))

    def _begin(self, up: HttpUpstream, *, reused: bool) -> None:
        req = self.active
        assert req is not None
        self.upstream = up
        up.begin(self, reused=reused, is_head=req.is_head, http10=req.http10, upgrade=req.upgrade)

    async def _await_endpoints(self) -> None:
        found = await self.ctx.wait_for_endpoints()
        if self.closed:
            return
        if found:
            self._dispatch()
        else:
            self.ctx.log.info("no endpoints; answered 503")
            self._reply(
                503, "Service Unavailable", f"service {self.ctx.name} has no ready endpoints"
            )

    async def _connect(self, peer: Peer) -> None:
        ep = peer.endpoint
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.options.connect_timeout):
                _, up = await loop.create_connection(
                    lambda: HttpUpstream(self.ctx, peer), ep.host, ep.port
                )
        except (OSError, TimeoutError) as err:
            peer.mark_down(self.options.down_for)
            self.ctx.log.debug("connect failed", endpoint=ep.label(), error=str(err))
            self._retry(peer)
            return
        if self.closed or self.upstream is not None or self.active is None:
            up.release(reusable=True)
        else:
            self._begin(up, reused=False)

    def _retry(self, peer: Peer) -> None:
        """Try again after a failure that happened before any response byte arrived."""
        if self.closed:
            return
        self.attempts += 1
        if self.tried is None:
            self.tried = set()
        self.tried.add(peer)
        self.fresh = True
        peers = len(self.ctx.balancer.peers)
        if (peers and self.attempts > peers) or self.attempts > self.options.max_attempts:
            self.ctx.log.info("no endpoint answered; answered 502", attempts=self.attempts)
            self._record(peer, 502)
            self._reply(502, "Bad Gateway", f"service {self.ctx.name}: no endpoint answered")
        else:
            self._dispatch()

    def request_bytes(self) -> bytes | bytearray:
        """What a new upstream exchange sends first (and, when streaming, stops buffering)."""
        req = self.active
        assert req is not None
        if not req.streaming:
            return req.wire()
        pending, req.pending = req.pending, None
        if self.in_full:
            self._hold(False)
        return pending or b""

    # -- outcomes (called by the upstream connection) ---------------------------------------

    def upstream_failed(self, up: HttpUpstream) -> None:
        """The upstream connection closed before any response byte: retry when safe."""
        self.upstream = None
        req = self.active
        if self.closed or req is None:
            return
        if not req.streaming and (req.replayable or up.unsent):
            if not up.reused:
                up.peer.mark_down(self.options.down_for)
            self._retry(up.peer)
            return
        self.ctx.log.info(
            "endpoint closed the connection; answered 502", endpoint=up.peer.endpoint.label()
        )
        self._record(up.peer, 502)
        self._reply(502, "Bad Gateway", f"service {self.ctx.name}: endpoint closed the connection")

    def response_done(self, up: HttpUpstream, *, reusable: bool, close_client: bool) -> None:
        """The response was forwarded whole: on to the next request, if the client has one."""
        self.upstream = None
        req = self.active
        up.release(reusable=reusable and req is not None and req.complete)
        self._record(up.peer, up.status)
        if req is None or self.closed:
            return
        if close_client or req.close_after or not req.complete:
            self._close()
            return
        self._next()

    def _record(self, peer: Peer, status: int) -> None:
        stats = self.ctx.stats
        if stats is not None:
            now = time.monotonic()
            stats.record(peer.endpoint.replicaset, status, now - self.started, now)

    def _next(self) -> None:
        """The current request is answered; take the next one (pipelined, or yet to come)."""
        self.queue.popleft()
        self.active = None
        if self.in_full or self.up_full:
            self.in_full = self.up_full = False
            self._update_reading()
        self._advance()

    def upgraded(self) -> bytes | bytearray:
        """The connection became a tunnel; returns client bytes already read past the request."""
        self.closed = True
        self.upstream = None
        rest, self.reader.tunnel = self.reader.tunnel or b"", None
        return rest

    def abort(self) -> None:
        """The response broke off midway: the client must see the connection fail."""
        self.upstream = None
        if not self.closed:
            self.closed = True
            self.transport.abort()

    def bad_gateway(self, up: HttpUpstream) -> None:
        """The endpoint answered something that is not HTTP/1.x."""
        self.upstream = None
        self._record(up.peer, 502)
        self._reply(502, "Bad Gateway", f"service {self.ctx.name}: endpoint sent a bad response")

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()

    def _reply(self, status: int, reason: str, text: str) -> None:
        """Answer from the proxy itself; keeps the connection if the request was read whole."""
        req = self.active
        assert req is not None
        keep = req.complete and not req.close_after and not req.upgrade
        body = (text + "\n").encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n" + ("" if keep else "connection: close\r\n") + "\r\n"
        ).encode()
        self.upstream = None
        if self.closed:
            return
        self.transport.write(head if req.is_head else head + body)
        if keep:
            self._next()
        else:
            self._close()
