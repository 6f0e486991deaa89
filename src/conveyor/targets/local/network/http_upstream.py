"""Connections from a Service proxy to its endpoints, for the HTTP mode.

One ``HttpUpstream`` carries one exchange at a time: it writes the request the client side
hands it, parses the response with llhttp (``httptools``, what uvicorn uses), and sends the
client a response it frames itself: status line and end-to-end headers as received, hop-by-hop
headers (``Connection`` and those it names, ``Keep-Alive``, ``Transfer-Encoding``) dropped, the
body re-chunked or passed with its ``Content-Length``. The client never sees the upstream's own
framing, so nothing ambiguous in it can reach the client. Afterwards the connection goes back to
its endpoint's pool of idle keep-alive connections, or closes when it cannot be reused.

When the connection fails before any response byte, it tells the client side, which may retry
the request elsewhere: that is what makes Pod churn invisible to clients. A 101 answer turns
the pair of connections into a raw tunnel. The client side is reached through ``Exchange``, so
this module does not import it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

import httptools

from conveyor.targets.local.network.context import ProxyContext
from conveyor.targets.local.network.endpoints import Peer
from conveyor.targets.local.network.tcp import splice

# response fields that end at this hop (RFC 9110 7.6.1) or that the proxy sets itself
_RESPONSE_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


class Exchange(Protocol):
    """The client side of an exchange, as its upstream connection sees it."""

    transport: asyncio.Transport  # the client's connection
    out_paused: bool  # the client reads slower than the upstream sends
    eof: bool  # the client half-closed

    def request_bytes(self) -> bytes | bytearray:
        """What a new exchange sends first."""

    def sending_paused(self, paused: bool) -> None:
        """The upstream reads slower (or again as fast) as the client sends."""

    def upstream_failed(self, up: HttpUpstream) -> None:
        """The connection closed before any response byte arrived."""

    def response_done(self, up: HttpUpstream, *, reusable: bool, close_client: bool) -> None:
        """The response went to the client whole."""

    def upgraded(self) -> bytes | bytearray:
        """The exchange became a tunnel; client bytes already read past the request."""

    def abort(self) -> None:
        """The response broke off midway: the client must see the connection fail."""

    def bad_gateway(self, up: HttpUpstream) -> None:
        """The endpoint answered something that is not HTTP/1.x, before any byte went out."""


class _HeadDone(Exception):
    """Raised from a callback to stop llhttp after the head of a response to HEAD."""


class HttpUpstream(asyncio.Protocol):
    """A connection to one endpoint: carries one exchange at a time, then waits in the pool."""

    def __init__(self, ctx: ProxyContext, peer: Peer) -> None:
        self.ctx = ctx
        self.peer = peer
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.parser = httptools.HttpResponseParser(self)
        self.front: Exchange | None = None
        self.client: asyncio.Transport = None  # type: ignore[assignment]
        self.status = 0  # the final response's status code
        self.reason = b""
        self.lines: list[bytes] = []  # end-to-end header lines of the message being parsed
        self.trailers: list[bytes] = []
        self.conn = b""  # Connection tokens of the response (lower-cased)
        self.upgrade_line = b""
        self.chunked = False  # the upstream chunks the body
        self.rechunk = False  # the client gets it chunked
        self.in_body = False
        self.final = False  # the final (non-1xx) head arrived
        self.complete = False
        self.extra = False  # bytes after the response: the server broke the protocol
        self.got = False  # a response byte arrived
        self.wrote = False  # response bytes went to the client
        self.out: list[bytes] = []  # response bytes for the client, written once per read
        self.reused = False
        self.unsent = False
        self.idle_since = 0.0
        self.is_head = False
        self.http10 = False  # the client speaks HTTP/1.0: no chunked coding for it
        self.upgrade = False
        self.reusable = True
        self.close_client = False
        self.eof_body = False  # the body ends when the upstream closes
        self.switch_head = b""  # a 101 head, written when the tunnel starts

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ctx.transports.add(transport)

    def begin(
        self, front: Exchange, *, reused: bool, is_head: bool, http10: bool, upgrade: bool
    ) -> None:
        """Start an exchange for ``front``: write its request."""
        self.front = front
        self.client = front.transport
        self.status = 0
        self.final = self.complete = self.extra = False
        self.got = self.wrote = False
        self.reused = reused
        self.is_head = is_head
        self.http10 = http10
        self.upgrade = upgrade
        self.reusable = not upgrade
        self.close_client = False
        self.eof_body = False
        if front.out_paused:
            self.transport.pause_reading()
        self.transport.write(front.request_bytes())
        # closing right after write() means send() itself failed: not a byte left
        self.unsent = self.transport.is_closing()

    def pause_writing(self) -> None:
        if self.front is not None:
            self.front.sending_paused(True)

    def resume_writing(self) -> None:
        if self.front is not None:
            self.front.sending_paused(False)

    def release(self, *, reusable: bool) -> None:
        """Back to the endpoint's pool, or closed."""
        self.front = None
        self.client = None  # type: ignore[assignment]
        peer = self.peer
        if (
            reusable
            and not peer.removed
            and not self.ctx.closed
            and not self.transport.is_closing()
            and len(peer.idle) < self.ctx.options.max_idle_per_endpoint
        ):
            if not self.transport.is_reading():
                self.transport.resume_reading()
            self.idle_since = time.monotonic()
            peer.idle.append(self)
        else:
            self.transport.close()

    def abandon(self) -> None:
        """The client went away mid-exchange: this connection's state is unknown now."""
        self.front = None
        self.transport.close()

    # -- llhttp callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.final or self.front is None:
            self.extra = True  # a second response: nothing was asked for it
            return
        self.reason = b""
        self.lines = []
        self.conn = b""
        self.upgrade_line = b""
        self.chunked = False

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.extra:
            return
        if self.in_body:
            self.trailers.append(name + b": " + value + b"\r\n")
            return
        lname = name.lower()
        if lname in _RESPONSE_HOP:
            if lname == b"connection":
                self.conn += b"," + value.lower()
            elif lname == b"transfer-encoding":
                self.chunked = True  # llhttp refuses a response coding that does not end so
            elif lname == b"upgrade":
                self.upgrade_line = name + b": " + value + b"\r\n"  # passed on with a 101
            return
        self.lines.append(name + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        if self.extra:
            return
        status = self.parser.get_status_code()
        lines = self.lines
        if self.conn.strip(b", ") not in (b"", b"close", b"keep-alive"):
            lines = _without_named(lines, self.conn)
        if status < 200:
            if status == 101:
                extra = self.upgrade_line + b"connection: upgrade\r\n"
                self.switch_head = _head(status, self.reason, lines, extra)
                return
            self.out.append(_head(status, self.reason, lines, b""))
            self.wrote = True  # interim response (100 Continue, 103 Early Hints)
            return
        self.final = True
        self.status = status
        if not self.parser.should_keep_alive():
            self.reusable = False
        extra = b""
        if self.upgrade:
            self.close_client = True  # the client's parser is past the upgrade request
        if self.is_head or status == 204 or status == 304:
            pass
        elif self.chunked:
            if self.http10:
                self.close_client = True  # HTTP/1.0 has no chunked coding: the end is the close
            else:
                self.rechunk = True
                extra = b"transfer-encoding: chunked\r\n"
        elif not self.parser.should_keep_alive() and not _has_length(lines):
            self.eof_body = self.close_client = True  # the body ends when the server closes
        if self.close_client:
            extra += b"connection: close\r\n"
        elif self.http10:
            extra += b"connection: keep-alive\r\n"
        self.out.append(_head(status, self.reason, lines, extra))
        self.wrote = True
        self.in_body = True
        if self.is_head:
            raise _HeadDone  # llhttp cannot be told the request was HEAD: stop it here

    def on_body(self, body: bytes) -> None:
        if self.extra:
            return
        if self.rechunk:
            self.out.append(b"%x\r\n%b\r\n" % (len(body), body))
        else:
            self.out.append(body)

    def on_message_complete(self) -> None:
        if self.extra or not self.final:
            return
        if self.rechunk:
            self.out.append(b"0\r\n" + b"".join(self.trailers) + b"\r\n")
        self.complete = True

    # -- asyncio callbacks ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.front is None:  # bytes while idle: the server broke the protocol
            self.transport.close()
            return
        self.got = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            if self.switch_head and self.upgrade:
                self._flush()
                self._tunnel(data[upgrade.args[0] :])
            else:
                self._bad_response()
            return
        except httptools.HttpParserCallbackError as err:
            if not isinstance(err.__context__, _HeadDone):
                self._bad_response()
                return
            # the head of a HEAD response was the whole of it; nothing may follow
            self.parser = httptools.HttpResponseParser(self)
            self.complete = True
            if not data.endswith(b"\r\n\r\n"):
                self.reusable = False
        except httptools.HttpParserError:
            self._bad_response()
            return
        self._flush()
        if self.complete:
            self._done()

    def _flush(self) -> None:
        """Write what this read produced for the client, in one send (head and body together)."""
        out = self.out
        if out:
            self.client.write(out[0] if len(out) == 1 else b"".join(out))
            self.out = []

    def _done(self) -> None:
        front = self.front
        self.in_body = self.rechunk = False
        self.trailers = []
        if self.extra:
            self.reusable = False
        self.complete = False
        if front is not None:
            front.response_done(self, reusable=self.reusable, close_client=self.close_client)
        else:
            self.release(reusable=False)

    def _tunnel(self, rest: bytes) -> None:
        front = self.front
        assert front is not None
        self.front = None
        self.client.write(self.switch_head)
        if rest:
            self.client.write(rest)
        splice(self.ctx, self.client, self.transport, sent=front.upgraded(), client_eof=front.eof)

    def _bad_response(self) -> None:
        """The endpoint did not speak HTTP/1.x: tell the client, unless it got bytes already."""
        front, self.front = self.front, None
        self.out = []
        self.transport.close()
        if front is None:
            return
        if self.wrote:
            front.abort()
        else:
            front.bad_gateway(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ctx.transports.discard(self.transport)
        front, self.front = self.front, None
        if front is None:
            if self in self.peer.idle:
                self.peer.idle.remove(self)
            return
        if self.eof_body and self.final:
            self.in_body = False
            front.response_done(self, reusable=False, close_client=True)
        elif not self.got:
            front.upstream_failed(self)
        else:
            front.abort()


def _head(status: int, reason: bytes, lines: list[bytes], extra: bytes) -> bytes:
    return b"HTTP/1.1 %d %b\r\n%b%b\r\n" % (status, reason, b"".join(lines), extra)


def _has_length(lines: list[bytes]) -> bool:
    return any(line[:15].lower() == b"content-length:" for line in lines)


def _without_named(lines: list[bytes], connection: bytes) -> list[bytes]:
    """The lines without the fields ``Connection`` names: they end at this hop too."""
    named = {token.strip() for token in connection.split(b",")} - {b""}
    return [line for line in lines if line.split(b":", 1)[0].strip().lower() not in named]
