"""Requests read off one client connection, in order, by llhttp (``httptools``).

llhttp parses strictly: no bare LF, no whitespace before a colon, no Content-Length beside
Transfer-Encoding, no duplicate lengths, a request coding must end with ``chunked``. Each
request becomes a ``Request`` holding the head as it will go upstream (request line and
end-to-end headers as received, hop-by-hop headers dropped, the proxy's own framing added) and
its body: kept whole when small, so it can be sent again, else streamed. Requests pipelined
behind one in flight wait in the queue; a request that cannot be parsed is queued as an error
the client is answered in its turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import httptools

from conveyor.targets.local.network.context import ProxyOptions

# methods whose request may be sent twice without changing the outcome (RFC 9110, 9.2.2)
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})
# request fields the proxy acts on, or that end at this hop (RFC 9110 7.6.1)
_WATCHED = frozenset(
    {
        b"connection",
        b"content-length",
        b"expect",
        b"idempotency-key",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"transfer-encoding",
        b"upgrade",
    }
)


class Request:
    """One client request, from its first byte until its response went out."""

    __slots__ = (
        "body",
        "chunked",
        "close_after",
        "complete",
        "conn",
        "error",
        "expect",
        "head",
        "http10",
        "is_head",
        "length",
        "lines",
        "pending",
        "replayable",
        "seen",
        "size",
        "streaming",
        "trailers",
        "upgrade",
        "upgrade_line",
        "url",
    )

    def __init__(self) -> None:
        self.url = b""
        self.lines: list[bytes] = []  # end-to-end header lines, as they go upstream
        self.trailers: list[bytes] = []
        self.conn = b""  # Connection tokens (lower-cased)
        self.upgrade_line = b""
        self.size = 0  # bytes of the head so far
        self.seen = 0  # bytes read while the head was incomplete
        self.length = 0
        self.chunked = False
        self.expect = False
        self.replayable = False  # may be sent again after it reached an endpoint
        self.head: bytes | None = None  # the head as sent upstream, once complete
        self.body: bytearray | None = None  # a body kept whole (framed as sent upstream)
        self.pending: bytearray | None = None  # streamed bytes not yet sent
        self.streaming = False
        self.complete = False
        self.is_head = False
        self.http10 = False
        self.close_after = False
        self.upgrade = False
        self.error: tuple[int, str, str] | None = None  # answered by the proxy: a bad request

    def wire(self) -> bytes | bytearray:
        """The whole request as sent upstream (a request kept for retries)."""
        assert self.head is not None
        return self.head if not self.body else self.head + self.body


class RequestReader:
    """Parses one client connection's bytes into a queue of ``Request``, the first in flight."""

    def __init__(self, options: ProxyOptions, stream: Callable[[Request, bytes], None]) -> None:
        self.options = options
        self.stream = stream  # where body pieces of a streamed request go
        self.parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self.queue: deque[Request] = deque()
        self.parsing: Request | None = None  # the request llhttp is in the middle of
        self.tunnel: bytearray | None = None  # client bytes after an Upgrade request

    def feed(self, data: bytes) -> Request | None:
        """Parse ``data``; returns the request refused because of it, if one was."""
        parser = self.parser
        assert parser is not None
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.parser = None
            self.tunnel = bytearray(data[upgrade.args[0] :])
        except httptools.HttpParserError as err:
            return self.refuse(400, "Bad Request", str(err) or "malformed request")
        else:
            req = self.parsing
            if req is not None and req.head is None:
                req.seen += len(data)
                if req.seen > self.options.head_limit:
                    return self.refuse(
                        431, "Request Header Fields Too Large", "request head too large"
                    )
        return None

    def refuse(self, status: int, reason: str, text: str) -> Request:
        """The client sent something that is not a valid request: answer it in turn, close."""
        self.parser = None
        req = self.parsing
        if req is None:
            req = Request()
            self.queue.append(req)
        self.parsing = None
        req.error = (status, reason, text)
        req.close_after = True
        return req

    # -- llhttp callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        req = self.parsing = Request()
        self.queue.append(req)

    def on_url(self, url: bytes) -> None:
        req = self.parsing
        assert req is not None
        req.url += url
        req.size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        req = self.parsing
        assert req is not None
        line = name + b": " + value + b"\r\n"
        if req.head is not None:
            req.trailers.append(line)
            return
        req.size += len(line)
        lname = name.lower()
        if lname not in _WATCHED:
            req.lines.append(line)
        elif lname == b"content-length":
            req.length = int(value)  # llhttp checked it: digits, only one
            req.lines.append(line)
        elif lname == b"transfer-encoding":
            req.chunked = True  # llhttp checked that chunked comes last
        elif lname == b"connection":
            req.conn += b"," + value.lower()
        elif lname == b"expect":
            req.expect = b"100-continue" in value.lower()
            req.lines.append(line)
        elif lname == b"idempotency-key":
            req.replayable = True  # the server can tell a repeat
            req.lines.append(line)
        elif lname == b"upgrade":
            req.upgrade_line = line

    def on_headers_complete(self) -> None:
        req = self.parsing
        parser = self.parser
        assert req is not None and parser is not None
        if req.size > self.options.head_limit:
            req.error = (431, "Request Header Fields Too Large", "request head too large")
        method = parser.get_method()
        req.is_head = method == b"HEAD"
        req.replayable = req.replayable or method in _IDEMPOTENT
        req.close_after = not parser.should_keep_alive()
        req.http10 = parser.get_http_version() == "1.0"
        req.upgrade = parser.should_upgrade()
        lines = req.lines
        if req.conn.strip(b", ") not in (b"", b"close", b"keep-alive", b"upgrade"):
            named = {token.strip() for token in req.conn.split(b",")}
            lines = [ln for ln in lines if ln.split(b":", 1)[0].lower() not in named]
        extra = b"transfer-encoding: chunked\r\n" if req.chunked else b""
        if req.upgrade:
            extra += req.upgrade_line + b"connection: upgrade\r\n"
        req.head = b"%b %b HTTP/1.1\r\n%b%b\r\n" % (method, req.url, b"".join(lines), extra)
        if not (req.chunked or req.length) or req.upgrade:
            return
        if not req.expect and (req.chunked or req.length <= self.options.body_buffer_limit):
            req.body = bytearray()
        else:
            req.streaming = True
            req.pending = bytearray(req.head)

    def on_body(self, body: bytes) -> None:
        req = self.parsing
        assert req is not None
        piece = b"%x\r\n%b\r\n" % (len(body), body) if req.chunked else body
        if req.streaming:
            self.stream(req, piece)
            return
        assert req.body is not None
        req.body += piece
        if len(req.body) > self.options.body_buffer_limit:  # too big to keep: stream the rest
            assert req.head is not None
            req.streaming = True
            req.pending = bytearray(req.head) + req.body
            req.body = None

    def on_message_complete(self) -> None:
        req = self.parsing
        assert req is not None
        self.parsing = None
        if req.chunked:
            last = b"0\r\n" + b"".join(req.trailers) + b"\r\n"
            if req.streaming:
                self.stream(req, last)
            else:
                assert req.body is not None
                req.body += last
        req.complete = True
