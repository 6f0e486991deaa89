"""Connections from a Service proxy to its endpoints, for the HTTP mode.

One ``HttpUpstream`` carries one exchange at a time: it writes the request the client side
hands it, reads the response head (status, Content-Length, Transfer-Encoding, Connection),
streams the response to the client as it arrives and finds where it ends, then goes back to
its endpoint's pool of idle keep-alive connections, or closes when it cannot be reused. When
the connection fails before any response byte, it says so to the client side, which retries
the request elsewhere; that is what makes Pod churn invisible to clients. A 101 answer turns
the pair of connections into a raw tunnel.

The message framing helpers used by both sides live here too.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING

from conveyor.targets.local.proxy_tcp import MAX_IDLE_PER_ENDPOINT, Peer, ProxyContext, splice

if TYPE_CHECKING:
    from conveyor.targets.local.proxy_http import HttpFrontend

HEAD_LIMIT = 64 * 1024  # largest request or response head accepted

_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
DIGITS = re.compile(rb"[0-9]{1,18}")
# the response fields that decide framing and reuse, found in one scan of the lower-cased head
_RESPONSE_FIELDS = re.compile(rb"\r\n(connection|transfer-encoding|content-length):([^\r]*)")

# upstream connection states
_U_IDLE, _U_HEAD, _U_LENGTH, _U_CHUNKED, _U_EOF, _U_GONE = 0, 1, 2, 3, 4, 5


class Chunked:
    """Finds the end of a chunked body, fed piece by piece (the bytes are not copied)."""

    __slots__ = ("done", "left", "line", "state")

    def __init__(self) -> None:
        self.state = 0  # 0: size line, 1: chunk data (+CRLF), 2: trailer lines
        self.left = 0
        self.line = b""
        self.done = False

    def feed(self, data: bytes | bytearray, pos: int) -> int:
        """Consume ``data[pos:]`` up to the end of the body; returns the position reached."""
        n = len(data)
        while pos < n:
            if self.state == 1:
                if n - pos < self.left:
                    self.left -= n - pos
                    return n
                pos += self.left
                self.state = 0
                continue
            nl = data.find(b"\n", pos)
            if nl < 0:
                self.line += data[pos:]
                if len(self.line) > 8192:
                    raise ValueError("chunk line too long")
                return n
            line = bytes(data[pos:nl])
            if self.line:
                line, self.line = self.line + line, b""
            pos = nl + 1
            if self.state == 0:
                size_text = line.split(b";", 1)[0].strip()
                if not _HEX.fullmatch(size_text):
                    raise ValueError("bad chunk size")
                size = int(size_text, 16)
                self.state, self.left = (1, size + 2) if size else (2, 0)
            elif not line.strip():
                self.done = True
                return pos
        return pos


_HOP_BY_HOP = (b"connection", b"keep-alive")


def keep_alive_head(head: bytes) -> bytes:
    """A response head (status line to last header) rewritten to keep the client connection.

    The upstream closing its own connection (``Connection: close``, or HTTP/1.0) is a matter
    between the proxy and that endpoint: the client's connection stays open when the body's
    end is known, so it must not see those hop-by-hop headers.
    """
    lines = head.split(b"\r\n")
    kept = [b"HTTP/1.1" + lines[0][8:]]
    kept += [
        line for line in lines[1:] if line.split(b":", 1)[0].strip().lower() not in _HOP_BY_HOP
    ]
    return b"\r\n".join(kept)


class HttpUpstream(asyncio.Protocol):
    """A connection to one endpoint: carries one exchange at a time, then waits in the pool."""

    __slots__ = (
        "chunked",
        "client",
        "close_client",
        "ctx",
        "front",
        "got",
        "hbuf",
        "idle_since",
        "is_head",
        "left",
        "peer",
        "reusable",
        "reused",
        "state",
        "transport",
        "unsent",
        "wrote",
    )

    def __init__(self, ctx: ProxyContext, peer: Peer) -> None:
        self.ctx = ctx
        self.peer = peer
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.front: HttpFrontend | None = None
        self.client: asyncio.Transport = None  # type: ignore[assignment]
        self.state = _U_IDLE
        self.hbuf = b""
        self.left = 0
        self.chunked: Chunked | None = None
        self.got = False
        self.wrote = False
        self.reused = False
        self.unsent = False
        self.idle_since = 0.0
        self.is_head = False
        self.reusable = True
        self.close_client = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ctx.transports.add(transport)

    def begin(self, front: HttpFrontend, *, reused: bool) -> None:
        """Start an exchange for ``front``: write its request."""
        self.front = front
        self.client = front.transport
        self.state = _U_HEAD
        self.got = False
        self.wrote = False
        self.reused = reused
        self.is_head = front.is_head
        self.reusable = not (front.close_after or front.upgrade)
        self.close_client = False
        front.upstream = self
        if front.out_paused:
            self.transport.pause_reading()
        self.transport.write(front.request_bytes())
        # closing right after write() means send() itself failed: not a byte left
        self.unsent = self.transport.is_closing()

    def pause_writing(self) -> None:
        if self.front is not None:
            self.front.up_full = True
            self.front.update_reading()

    def resume_writing(self) -> None:
        if self.front is not None:
            self.front.up_full = False
            self.front.update_reading()

    def release(self, *, reusable: bool) -> None:
        """Back to the endpoint's pool, or closed."""
        self.front = None
        self.client = None  # type: ignore[assignment]
        peer = self.peer
        if self.state == _U_GONE:
            return
        self.state = _U_IDLE
        if (
            reusable
            and not peer.removed
            and not self.ctx.closed
            and len(peer.idle) < MAX_IDLE_PER_ENDPOINT
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

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == _U_LENGTH:
            n, left = len(data), self.left
            if n < left:
                self.left = left - n
                self.client.write(data)
                return
            if n > left:
                self.reusable = False
                data = data[:left]
            self.client.write(data)
            self._done()
        elif state == _U_HEAD:
            self._head(data)
        elif state == _U_CHUNKED:
            self._chunk(data)
        elif state == _U_EOF:
            self.client.write(data)
        else:  # bytes while idle: the server broke the protocol
            self.transport.close()

    def _head(self, data: bytes) -> None:
        self.got = True
        if self.hbuf:
            data, self.hbuf = self.hbuf + data, b""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > HEAD_LIMIT:
                self._bad_gateway()
            else:
                self.hbuf = data
            return
        start = end + 4
        if data[:7] != b"HTTP/1." or not data[9:12].isdigit():
            self._bad_gateway()
            return
        status = int(data[9:12])
        if status < 200:
            if status == 101:
                self._tunnel(data)
                return
            self.wrote = True
            self.client.write(data[:start])  # interim response (100 Continue, 103 hints)
            if len(data) > start:
                self._head(data[start:])
            return
        conn = te = cl = None
        for name, value in _RESPONSE_FIELDS.findall(data[: end + 2].lower()):
            if name == b"content-length":
                if cl is not None and cl != value.strip():
                    self._bad_gateway()
                    return
                cl = value.strip()
            elif name == b"transfer-encoding":
                te = value.strip()
            else:
                conn = value if conn is None else conn + b"," + value
        if (conn is not None and b"close" in conn) or (
            data[5:8] == b"1.0" and (conn is None or b"keep-alive" not in conn)
        ):
            # this upstream connection ends after the response; the client's need not
            self.reusable = False
            head = keep_alive_head(data[:end])
            data = head + data[end:]
            start = len(head) + 4
        if self.is_head or status == 204 or status == 304:
            self._finish(data, start)
            return
        if te is not None:
            if te.endswith(b"chunked"):
                self.state = _U_CHUNKED
                self.chunked = Chunked()
                self.client.write(data[:start])
                if len(data) > start:
                    self._chunk(data[start:])
                return
        elif cl is not None:
            if not DIGITS.fullmatch(cl):
                self._bad_gateway()
                return
            self._finish(data, start + int(cl))
            return
        self.state = _U_EOF  # the body ends when the server closes
        self.reusable = False
        self.close_client = True
        self.client.write(data)

    def _finish(self, data: bytes, end: int) -> None:
        """Write a response whose end is at ``end`` (maybe beyond ``data``)."""
        n = len(data)
        if n < end:
            self.state = _U_LENGTH
            self.left = end - n
            self.client.write(data)
            return
        if n > end:
            self.reusable = False
            data = data[:end]
        self.client.write(data)
        self._done()

    def _chunk(self, data: bytes) -> None:
        chunked = self.chunked
        assert chunked is not None
        try:
            pos = chunked.feed(data, 0)
        except ValueError:
            self._broken()
            return
        if not chunked.done:
            self.client.write(data)
            return
        if pos < len(data):
            self.reusable = False
            data = data[:pos]
        self.client.write(data)
        self.chunked = None
        self._done()

    def _done(self) -> None:
        front = self.front
        self.state = _U_IDLE
        if front is not None:
            front.response_done(self, self.reusable, self.close_client)
        else:
            self.release(reusable=False)

    def _tunnel(self, data: bytes) -> None:
        front = self.front
        assert front is not None
        self.front = None
        self.state = _U_GONE
        self.client.write(data)
        client_eof = front.eof
        splice(self.ctx, self.client, self.transport, sent=front.upgraded(), client_eof=client_eof)

    def _bad_gateway(self) -> None:
        """The endpoint did not speak HTTP/1.x: tell the client, unless it got bytes already."""
        front, self.front = self.front, None
        self.state = _U_GONE
        self.transport.close()
        if front is None:
            return
        if self.wrote:
            front.abort()
        else:
            front.bad_gateway()

    def _broken(self) -> None:
        front, self.front = self.front, None
        self.transport.close()
        if front is not None:
            front.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.ctx.transports.discard(self.transport)
        state, self.state = self.state, _U_GONE
        front, self.front = self.front, None
        if front is None:
            if state == _U_IDLE and self in self.peer.idle:
                self.peer.idle.remove(self)
            return
        if state == _U_EOF:
            front.response_done(self, False, True)
        elif not self.got:
            front.upstream_failed(self)
        else:
            front.abort()
