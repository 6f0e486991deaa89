"""Stand-ins for the Service proxy's tests: a Pod-like HTTP/1.1 server and a raw client.

The upstream's misbehaviours are switches (close a keep-alive connection when its next request
arrives, reset it, answer slowly, stream a large body, switch protocols and echo raw bytes),
and the client speaks HTTP/1.1 byte by byte, so tests can pipeline, half-close and split
requests the way real clients do.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import pytest

from conveyor.targets.local.network.context import ProxyOptions
from conveyor.targets.local.network.endpoints import Endpoint
from conveyor.targets.local.network.proxy import ProxyProtocol, ServiceProxy
from conveyor.targets.local.network.stats import ServiceStats

TIMEOUT = 5.0  # seconds any single read may take before the test fails instead of hanging
BIG = bytes(range(256)) * 4096 * 32  # 32 MiB: more than every socket buffer on the way


# -- upstreams ------------------------------------------------------------------------------


@dataclass
class Upstream:
    """An HTTP/1.1 server standing in for a Pod; its body for ``/`` is its name."""

    name: str
    answer_per_connection: int | None = None  # then close when the next request arrives
    reset: bool = False  # ... with a TCP reset instead of a FIN
    port: int = 0
    connections: int = 0  # connections accepted
    requests: int = 0  # requests answered
    open: set[asyncio.StreamWriter] = field(default_factory=set)
    busy: set[asyncio.StreamWriter] = field(default_factory=set)
    stopping: bool = False
    big_sent: bool = False  # the whole of BIG was handed to the kernel
    server: asyncio.Server | None = None

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.port, name=self.name)

    def weighted(self, weight: int) -> Endpoint:
        return Endpoint("127.0.0.1", self.port, weight, self.name)

    def of(self, replicaset: str) -> Endpoint:
        """This Pod as an endpoint of ``replicaset``."""
        return Endpoint("127.0.0.1", self.port, 1, self.name, replicaset)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Graceful, as a Pod on SIGTERM: stop accepting, close idle, finish in-flight."""
        self.stopping = True
        if self.server is not None:
            self.server.close()
        for writer in list(self.open - self.busy):
            writer.close()
        async with asyncio.timeout(TIMEOUT):
            while self.busy:
                await asyncio.sleep(0.01)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open.add(writer)
        served = 0
        try:
            while not self.stopping:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if self.answer_per_connection is not None and served >= self.answer_per_connection:
                    # the keep-alive race: the server closes this connection as a request arrives
                    if self.reset:
                        sock = writer.get_extra_info("socket")
                        sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        writer.transport.abort()
                    return
                self.busy.add(writer)
                try:
                    if not await self._answer(head, reader, writer):
                        return
                finally:
                    self.busy.discard(writer)
                served += 1
        finally:
            self.open.discard(writer)
            writer.close()

    async def _answer(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; False when the connection must end."""
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ")
        headers = {
            k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if x)
        }
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await read_body(reader, headers)
        self.requests += 1
        if "upgrade" in headers.get("connection", "").lower():
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
            )
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            return False
        if path.startswith("/slow/"):
            await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
        if path == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in (b"a", b"bb", b"ccc"):
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(0.005)
            writer.write(b"0\r\n\r\n")
            return True
        if path == "/big":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG))
            for i in range(0, len(BIG), 1 << 18):
                writer.write(BIG[i : i + (1 << 18)])
                await writer.drain()
            self.big_sent = True
            return True
        if path == "/http10":
            payload = self.name.encode()
            writer.write(
                b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload)
            )
            return False
        payload = body if path == "/echo" else self.name.encode()
        if path == "/headers":  # the header names that reached the Pod, one per line
            payload = "\n".join(sorted(headers)).encode()
        status = int(path[8:]) if path.startswith("/status/") else 200
        close = path == "/close"
        writer.write(
            b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nX-Method: %s\r\n%s\r\n"
            % (
                status,
                HTTPStatus(status).phrase.encode(),
                len(payload),
                method.encode(),
                b"Connection: close\r\n" if close else b"",
            )
        )
        if method != "HEAD":
            writer.write(payload)
        await writer.drain()
        return not close


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """A message body framed by Content-Length or chunked coding (none otherwise)."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return bytes(out)
            out += await reader.readexactly(size)
            await reader.readexactly(2)
    return await reader.readexactly(int(headers.get("content-length", "0")))


async def echo_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echoes bytes as they come; after the client's EOF says ``bye`` and closes."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.write(b"bye")
    await writer.drain()
    writer.close()


async def banner_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that speaks first (as SMTP or Redis replicas do)."""
    writer.write(b"220 ready\r\n")
    await echo_tcp(reader, writer)


# -- fixtures (tests/targets/local/conftest.py makes them visible) -------------------------

MakeUpstream = Callable[..., Awaitable[Upstream]]
MakeProxy = Callable[..., Awaitable[ServiceProxy]]
MakeTcpServer = Callable[..., Awaitable[Endpoint]]


@pytest.fixture
async def make_upstream() -> AsyncIterator[MakeUpstream]:
    made: list[Upstream] = []

    async def make(name: str, **options: object) -> Upstream:
        upstream = Upstream(name, **options)  # type: ignore[arg-type]
        await upstream.start()
        made.append(upstream)
        return upstream

    yield make
    for upstream in made:
        await upstream.stop()


@pytest.fixture
async def make_proxy() -> AsyncIterator[MakeProxy]:
    made: list[ServiceProxy] = []

    async def make(
        *endpoints: Endpoint,
        protocol: ProxyProtocol = "http",
        options: ProxyOptions | None = None,
        stats: ServiceStats | None = None,
    ) -> ServiceProxy:
        proxy = ServiceProxy(
            name="default/web/http", port=0, protocol=protocol, options=options, stats=stats
        )
        await proxy.start()
        proxy.set_endpoints(endpoints)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        await proxy.stop()


@pytest.fixture
async def make_tcp_server() -> AsyncIterator[MakeTcpServer]:
    servers: list[asyncio.Server] = []

    async def make(handler: Callable[..., Awaitable[None]]) -> Endpoint:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])

    yield make
    for server in servers:
        server.close()


# -- client side ----------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class Client:
    """One keep-alive client connection, speaking raw HTTP/1.1."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    def send(
        self,
        method: str = "GET",
        path: str = "/",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: test"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None:
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))

    async def read(self, *, head: bool = False) -> Response:
        async with asyncio.timeout(TIMEOUT):
            raw = await self.reader.readuntil(b"\r\n\r\n")
            lines = raw.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ")[1])
            headers = {
                k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if x)
            }
            if head or status < 200 or status in (204, 304):
                body = b""
            elif "transfer-encoding" in headers or "content-length" in headers:
                body = await read_body(self.reader, headers)
            else:
                body = await self.reader.read()
            return Response(status, headers, body)

    async def request(
        self,
        method: str = "GET",
        path: str = "/",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        self.send(method, path, body, headers)
        return await self.read(head=method == "HEAD")

    async def closed(self) -> bool:
        """True once the proxy closed this connection (EOF or reset)."""
        try:
            async with asyncio.timeout(TIMEOUT):
                return await self.reader.read(1) == b""
        except ConnectionError:
            return True

    def close(self) -> None:
        self.writer.close()


def free_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
