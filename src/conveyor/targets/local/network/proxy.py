"""A Kubernetes Service of the local runtime: a listener on 127.0.0.1 balancing over Pods.

The runtime creates one ``ServiceProxy`` per Service port and calls ``set_endpoints`` with the
Ready Pods' ports (and their ReplicaSets) whenever they change, and ``set_weights`` when a
canary step shifts traffic between ReplicaSets. Both take effect for the next request: idle
connections to removed Pods close, requests already on their way to them finish. Clients
should not notice a rollout.

Protocol ``http`` balances each request (``http_frontend``); ``tcp`` balances each connection
(``tcp``); ``auto`` looks at the first bytes a client sends: an HTTP/1.x request line means
HTTP, anything else, or silence for ``sniff_timeout`` (protocols where the server speaks
first), means TCP.
"""

from __future__ import annotations

import asyncio
import errno
import re
from collections.abc import Sequence
from typing import Literal

from conveyor.errors import ConflictError, PermanentError
from conveyor.targets.local.network.balancer import Weights
from conveyor.targets.local.network.context import ProxyContext, ProxyOptions
from conveyor.targets.local.network.endpoints import Endpoint
from conveyor.targets.local.network.http_frontend import HttpFrontend
from conveyor.targets.local.network.stats import ServiceStats
from conveyor.targets.local.network.tcp import TcpFrontend

ProxyProtocol = Literal["auto", "http", "tcp"]  # what the listener expects its clients to speak

_SNIFF_LIMIT = 8192  # a request line longer than this is not worth waiting for
_REQUEST_LINE = re.compile(rb"[A-Z][A-Z_-]{0,19} [^\s]+ HTTP/1\.[01]\r?\n")
_METHOD_PREFIX = re.compile(rb"[A-Z][A-Z_-]{0,19}( [^\s]*( H?T?T?P?/?1?\.?)?)?")


def looks_like_http(data: bytes) -> bool | None:
    """True for an HTTP/1.x request line, False for anything else, None while unsure."""
    nl = data.find(b"\n")
    if nl >= 0:
        return _REQUEST_LINE.fullmatch(data[: nl + 1]) is not None
    if len(data) > _SNIFF_LIMIT:
        return False
    return None if _METHOD_PREFIX.fullmatch(data) else False


class _Sniffer(asyncio.Protocol):
    """First protocol of an ``auto`` connection: decides HTTP or TCP, then hands over."""

    def __init__(self, ctx: ProxyContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.timer: asyncio.TimerHandle | None = None
        self.successor: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.ctx.transports.add(transport)
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.ctx.options.sniff_timeout, self._decide, False)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        verdict = looks_like_http(self.buf)
        if verdict is not None:
            self._decide(verdict)

    def eof_received(self) -> bool:
        if self.successor is None:
            self._decide(bool(looks_like_http(self.buf)))
        assert self.successor is not None
        return bool(self.successor.eof_received())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.transport is not None:
            self.ctx.transports.discard(self.transport)

    def _decide(self, http: bool) -> None:
        if self.successor is not None or self.transport is None:
            return
        if self.timer is not None:
            self.timer.cancel()
        proto: asyncio.Protocol = HttpFrontend(self.ctx) if http else TcpFrontend(self.ctx)
        self.successor = proto
        self.transport.set_protocol(proto)
        proto.connection_made(self.transport)
        if self.buf:
            buf, self.buf = self.buf, b""
            proto.data_received(buf)


class ServiceProxy:
    """One Service port: a listener balancing over the endpoints given to ``set_endpoints``."""

    def __init__(
        self,
        *,
        name: str,
        port: int,
        host: str = "127.0.0.1",
        protocol: ProxyProtocol = "auto",
        options: ProxyOptions | None = None,
        stats: ServiceStats | None = None,
    ) -> None:
        """``stats``: where HTTP requests are recorded per ReplicaSet (None: not recorded)."""
        if protocol not in ("auto", "http", "tcp"):
            raise ValueError(f"protocol must be auto, http or tcp, not {protocol!r}")
        self._name = name
        self._host = host
        self._port = port
        self._protocol = protocol
        self._ctx = ProxyContext(name, options or ProxyOptions(), stats)
        self._server: asyncio.Server | None = None

    @property
    def name(self) -> str:
        """The Service (and port) this proxy serves, as logs name it."""
        return self._name

    @property
    def port(self) -> int:
        """The port listened on (the one the kernel chose, when created with port 0)."""
        return self._port

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        """The current endpoint set, as last given to ``set_endpoints``."""
        return self._ctx.balancer.endpoints

    @property
    def weights(self) -> dict[str, int] | None:
        """The ReplicaSet weights in force, as last given to ``set_weights``."""
        return self._ctx.balancer.weights

    async def start(self) -> None:
        """Listen; ``ConflictError`` names the port and the Service when the port is taken."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        ctx = self._ctx
        ctx.closed = False
        factory = {"auto": _Sniffer, "http": HttpFrontend, "tcp": TcpFrontend}[self._protocol]
        try:
            self._server = await loop.create_server(
                lambda: factory(ctx), self._host, self._port, backlog=1024
            )
        except OSError as err:
            where = f"{self._host}:{self._port}"
            if err.errno == errno.EADDRINUSE:
                raise ConflictError(
                    f"port {self._port} on {self._host} is already in use by another process; "
                    "free it or give the Service another nodePort",
                    obj=f"service {self._name}",
                ) from err
            raise PermanentError(
                f"cannot listen on {where}: {err.strerror or err}", obj=f"service {self._name}"
            ) from err
        self._port = self._server.sockets[0].getsockname()[1]
        ctx.log.debug("listening", port=self._port, protocol=self._protocol)

    async def stop(self) -> None:
        """Stop listening and close every connection, client or upstream."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self._ctx.close_all()
        if server is not None:
            await server.wait_closed()

    def set_endpoints(self, endpoints: Sequence[Endpoint]) -> None:
        """Swap the endpoint set at once; idle connections to removed endpoints are closed."""
        ctx = self._ctx
        for peer in ctx.balancer.replace(endpoints):
            peer.close_idle()
        if ctx.balancer.peers:
            ctx.ready.set()
        else:
            ctx.ready.clear()

    def set_weights(self, weights: Weights | None) -> None:
        """Share traffic between ReplicaSets by weight, from the next request (or connection).

        ``weights`` maps pod-template-hash to a relative weight; a ReplicaSet it leaves out
        gets none while a weighted one has a Ready endpoint. None: every endpoint alike.
        """
        self._ctx.balancer.set_weights(weights)

    def set_stats(self, stats: ServiceStats | None) -> None:
        """Record HTTP requests in ``stats`` from now on (None: stop recording)."""
        self._ctx.stats = stats
