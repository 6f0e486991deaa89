"""The HTTP/1.1 mode of a Service proxy: balancing per request, so rollouts lose nothing.

Balancing per connection would pin a keep-alive client to one Pod for its whole life: a
canary weight would mean nothing, and a Pod leaving would break its clients. So this mode
parses just enough of each request to find where it ends (request line, Content-Length,
Transfer-Encoding, Connection, Upgrade, Expect) and sends each one to the next endpoint of the
weighted round-robin, over a pooled keep-alive connection (``proxy_upstream``).

A request whose upstream connection fails before any response byte arrived is sent again, to
another endpoint when there is one, on a fresh connection, when that is safe: always when the
connect failed or the request could not be written; otherwise (reset, or a pooled connection
the server had closed between requests) only for idempotent methods or requests carrying an
``Idempotency-Key``. Other requests reuse only connections that were busy a moment ago
(``UNSAFE_REUSE_IDLE``), as servers close idle ones after seconds, not milliseconds. Request
bodies up to ``BODY_BUFFER_LIMIT`` are buffered whole, so they can be sent again; larger
bodies (and ``Expect: 100-continue``) are streamed on a fresh connection and are retried only
when the connect fails. ``Upgrade`` requests become a raw tunnel after 101.

Everything is asyncio Protocols on the transports, to keep per-request work small; headers and
bodies are never logged (they may carry credentials).
"""

from __future__ import annotations

import asyncio
import re
import time

from conveyor.targets.local.proxy_tcp import CONNECT_TIMEOUT, Peer, ProxyContext
from conveyor.targets.local.proxy_upstream import (
    DIGITS,
    HEAD_LIMIT,
    Chunked,
    HttpUpstream,
)

BODY_BUFFER_LIMIT = 256 * 1024  # request bodies up to this are buffered, so they can be retried
INPUT_LIMIT = 1024 * 1024  # unprocessed client input (pipelining) before reading pauses
MAX_ATTEMPTS = 16  # bound on tries of one request, whatever the endpoints do meanwhile
UNSAFE_REUSE_IDLE = 1.0  # seconds: older pooled connections are not used for unsafe methods

# methods whose request may be sent twice without changing the outcome (RFC 9110, 9.2.2)
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})
# the request fields the proxy acts on, found in one scan of the lower-cased head
_REQUEST_FIELDS = re.compile(
    rb"\r\n(connection|transfer-encoding|content-length|upgrade|expect|idempotency-key)"
    rb"([ \t]*):([^\r]*)"
)

# body framing
_NONE, _LENGTH, _CHUNKED = 0, 1, 2
# client connection states
_IDLE, _BUFFERING, _STREAMING, _WAITING, _CLOSED = 0, 1, 2, 3, 4


class HttpFrontend(asyncio.Protocol):
    """A client connection in HTTP mode: one request at a time, each balanced on its own."""

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buf: bytes | bytearray = b""  # client input not yet handled
        self.scan = 0  # where to resume looking for the end of the head
        self.state = _IDLE
        self.req: bytes | bytearray | None = None  # the whole request, while it may be retried
        self.pending: bytearray | None = None  # streamed request bytes not yet sent
        self.chunked: Chunked | None = None
        self.need = 0  # buffering: total request size; streaming: Content-Length bytes left
        self.is_head = False
        self.replayable = False  # may be sent again after it reached an endpoint
        self.close_after = False
        self.upgrade = False
        self.fresh = False  # the next attempt must open a new connection
        self.attempts = 0
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
        if self.state == _STREAMING:
            self._stream(data)
            return
        buf = self.buf
        if not buf:
            self.buf = data
        else:
            if type(buf) is bytes:
                buf = bytearray(buf)
            buf += data
            self.buf = buf
        if self.state == _IDLE:
            self._process()
        elif self.state == _BUFFERING:
            self._buffering()
        elif len(self.buf) > INPUT_LIMIT and not self.in_full:
            self.in_full = True
            self.update_reading()

    def eof_received(self) -> bool:
        self.eof = True
        # a whole request is out: answer it (and those pipelined behind it), then close;
        # a partial one can never complete
        return self.state == _WAITING

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _CLOSED
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

    def update_reading(self) -> None:
        if self.state == _CLOSED or self.eof:
            return
        if self.in_full or self.up_full:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    def _process(self) -> None:
        """Parse the next request head in ``buf`` and start it on its way."""
        buf = self.buf
        while buf[:2] == b"\r\n":  # stray line breaks between requests are allowed
            buf = self.buf = buf[2:]
        end = buf.find(b"\r\n\r\n", self.scan)
        if end < 0:
            if len(buf) > HEAD_LIMIT:
                self._reply(431, "Request Header Fields Too Large", "request head too large")
            else:
                self.scan = max(0, len(buf) - 3)
            return
        self.scan = 0
        try:
            kind, length, expect = self._parse_head(bytes(buf[: end + 2]))
        except ValueError as err:
            self._reply(400, "Bad Request", str(err))
            return
        start = end + 4
        if kind == _NONE:
            self._take(start)
        elif kind == _LENGTH:
            total = start + length
            if len(buf) >= total:
                self._take(total)
            elif length <= BODY_BUFFER_LIMIT and not expect:
                self.state, self.need = _BUFFERING, total
            else:
                self._start_stream(total - len(buf))
        else:
            chunked = self.chunked = Chunked()
            try:
                pos = chunked.feed(buf, start)
            except ValueError as err:
                self._reply(400, "Bad Request", str(err))
                return
            if chunked.done:
                self._take(pos)
            elif len(buf) <= BODY_BUFFER_LIMIT and not expect:
                self.state, self.need = _BUFFERING, len(buf)
            else:
                self._start_stream(0)

    def _parse_head(self, head: bytes) -> tuple[int, int, bool]:
        """Request facts from the head (ending with its last CRLF): framing, length, Expect."""
        eol = head.find(b"\r\n")
        sp = head.find(b" ", 0, eol)
        if sp <= 0 or head[eol - 9 : eol - 1] != b" HTTP/1." or head[eol - 1] not in b"01":
            raise ValueError("malformed request line")
        method = head[:sp]
        self.is_head = method == b"HEAD"
        conn = te = cl = None
        upgrade = expect = False
        replayable = method in _IDEMPOTENT
        for name, space, value in _REQUEST_FIELDS.findall(head.lower()):
            if space:  # "Content-Length :" would be read differently by different servers
                raise ValueError(f"whitespace before the colon of {name.decode()}")
            if name == b"content-length":
                if cl is not None:
                    raise ValueError("more than one Content-Length")
                cl = value.strip()
            elif name == b"transfer-encoding":
                te = value.strip() if te is None else te + b"," + value.strip()
            elif name == b"connection":
                conn = value if conn is None else conn + b"," + value
            elif name == b"upgrade":
                upgrade = True
            elif name == b"expect":
                expect = True
            else:
                replayable = True  # an Idempotency-Key says the server can tell a repeat
        self.replayable = replayable
        if head[eol - 1] == 0x30:  # HTTP/1.0: close unless asked to keep alive
            self.close_after = conn is None or b"keep-alive" not in conn
        else:
            self.close_after = conn is not None and b"close" in conn
        self.upgrade = upgrade and conn is not None and b"upgrade" in conn
        if te is not None:
            if cl is not None or not te.endswith(b"chunked"):
                raise ValueError("unsupported Transfer-Encoding / Content-Length combination")
            return _CHUNKED, 0, expect
        if cl is None:
            return _NONE, 0, expect
        if not DIGITS.fullmatch(cl):
            raise ValueError("bad Content-Length")
        length = int(cl)
        return (_LENGTH if length else _NONE), length, expect

    def _buffering(self) -> None:
        buf = self.buf
        chunked = self.chunked
        if chunked is None:
            if len(buf) >= self.need:
                self._take(self.need)
            return
        try:
            pos = chunked.feed(buf, self.need)
        except ValueError as err:
            self._reply(400, "Bad Request", str(err))
            return
        if chunked.done:
            self._take(pos)
        elif len(buf) > BODY_BUFFER_LIMIT:
            self._start_stream(0)  # too big to keep for retries: stream the rest
        else:
            self.need = len(buf)

    def _take(self, size: int) -> None:
        """The request is ``buf[:size]``, complete: send it (it may be retried)."""
        buf = self.buf
        if size == len(buf):
            self.req, self.buf = buf, b""
        else:
            self.req, self.buf = buf[:size], buf[size:]
        self.chunked = None
        self.state = _WAITING
        self.attempts = 0
        self.tried = None
        self.fresh = self.upgrade
        if len(self.buf) > INPUT_LIMIT:
            self.in_full = True
            self.update_reading()
        self._dispatch()

    def _start_stream(self, left: int) -> None:
        """Forward the body as it arrives, on a fresh connection (retried on connect failure)."""
        self.pending = bytearray(self.buf)
        self.buf = b""
        self.need = left
        self.req = None
        self.state = _STREAMING
        self.attempts = 0
        self.tried = None
        self.fresh = True
        self._dispatch()

    def _stream(self, data: bytes) -> None:
        chunked = self.chunked
        if chunked is not None:
            try:
                pos = chunked.feed(data, 0)
            except ValueError:
                self.transport.abort()
                return
            done = chunked.done
        else:
            pos = min(self.need, len(data))
            self.need -= pos
            done = self.need == 0
        body = data if pos == len(data) else data[:pos]
        if self.pending is not None:
            self.pending += body
            if len(self.pending) > INPUT_LIMIT and not self.in_full:
                self.in_full = True  # still connecting: hold the client back
                self.update_reading()
        elif self.upstream is not None:
            self.upstream.transport.write(body)
        if done:
            self.chunked = None
            self.state = _WAITING
            self.buf = data[pos:]

    # -- sending ----------------------------------------------------------------------------

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
            if not self.replayable and time.monotonic() - idle[-1].idle_since > UNSAFE_REUSE_IDLE:
                idle = []  # the most recent one is too old already
            while idle:
                up = idle.pop()
                if not up.transport.is_closing():
                    up.begin(self, reused=True)
                    return
        ctx.spawn(self._connect(peer))

    async def _await_endpoints(self) -> None:
        found = await self.ctx.wait_for_endpoints()
        if self.state == _CLOSED:
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
            async with asyncio.timeout(CONNECT_TIMEOUT):
                _, up = await loop.create_connection(
                    lambda: HttpUpstream(self.ctx, peer), ep.host, ep.port
                )
        except (OSError, TimeoutError) as err:
            peer.mark_down()
            self.ctx.log.debug("connect failed", endpoint=ep.label(), error=str(err))
            self._retry(peer)
            return
        if self.state == _CLOSED or self.upstream is not None:
            up.release(reusable=True)
        else:
            up.begin(self, reused=False)

    def _retry(self, peer: Peer) -> None:
        """Try again after a failure that happened before any response byte arrived."""
        if self.state == _CLOSED:
            return
        self.attempts += 1
        if self.tried is None:
            self.tried = set()
        self.tried.add(peer)
        self.fresh = True
        peers = len(self.ctx.balancer.peers)
        if (peers and self.attempts > peers) or self.attempts > MAX_ATTEMPTS:
            self.ctx.log.info("no endpoint answered; answered 502", attempts=self.attempts)
            self._reply(502, "Bad Gateway", f"service {self.ctx.name}: no endpoint answered")
        else:
            self._dispatch()

    def request_bytes(self) -> bytes | bytearray:
        """What a new upstream exchange sends first (and, when streaming, stops buffering)."""
        if self.req is not None:
            return self.req
        pending, self.pending = self.pending, None
        if self.in_full:
            self.in_full = False
            self.update_reading()
        return pending or b""

    # -- outcomes (called by the upstream connection) ---------------------------------------

    def upstream_failed(self, up: HttpUpstream) -> None:
        """The upstream connection closed before any response byte: retry when safe."""
        self.upstream = None
        if self.state == _CLOSED:
            return
        if self.req is not None and (self.replayable or up.unsent):
            if not up.reused:
                up.peer.mark_down()
            self._retry(up.peer)
            return
        self.ctx.log.info(
            "endpoint closed the connection; answered 502", endpoint=up.peer.endpoint.label()
        )
        self._reply(502, "Bad Gateway", f"service {self.ctx.name}: endpoint closed the connection")

    def response_done(self, up: HttpUpstream, reusable: bool, close_client: bool) -> None:
        """The response was forwarded whole: on to the next request, if the client has one."""
        self.upstream = None
        up.release(reusable=reusable and self.state == _WAITING)
        if close_client or self.close_after or self.state != _WAITING:
            self.state = _CLOSED
            self.transport.close()
            return
        self._next()

    def _next(self) -> None:
        """The current request is answered; take the next one (pipelined, or yet to come)."""
        self.state = _IDLE
        self.req = None
        if self.in_full or self.up_full:
            self.in_full = self.up_full = False
            self.update_reading()
        if self.buf:
            self._process()
        if self.eof and self.state != _WAITING and self.state != _CLOSED:
            self.state = _CLOSED  # the client is done sending: nothing more can come
            self.transport.close()

    def upgraded(self) -> bytes | bytearray:
        """The connection became a tunnel; returns client bytes already read past the request."""
        self.state = _CLOSED
        self.upstream = None
        rest, self.buf = self.buf, b""
        return rest

    def abort(self) -> None:
        """The response broke off midway: the client must see the connection fail."""
        self.upstream = None
        if self.state != _CLOSED:
            self.state = _CLOSED
            self.transport.abort()

    def bad_gateway(self) -> None:
        """The endpoint answered something that is not HTTP/1.x."""
        self._reply(502, "Bad Gateway", f"service {self.ctx.name}: endpoint sent a bad response")

    def _reply(self, status: int, reason: str, text: str) -> None:
        """Answer from the proxy itself; keeps the connection if the request was read whole."""
        keep = self.state == _WAITING and self.req is not None and not self.close_after
        body = (text + "\n").encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\n" + ("" if keep else "connection: close\r\n") + "\r\n"
        ).encode()
        self.transport.write(head if self.is_head else head + body)
        self.upstream = None
        if keep:
            self._next()
        else:
            self.state = _CLOSED
            self.transport.close()
