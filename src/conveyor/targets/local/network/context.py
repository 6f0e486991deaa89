"""What every connection of one Service proxy shares, and the proxy's tunable limits.

``ProxyOptions`` gathers the timeouts and buffer limits of both modes in one frozen value, so
tests and benchmarks choose them instead of patching module constants. ``ProxyContext`` is
the state one proxy's connections share: its balancer, the open transports and background
tasks that ``stop()`` ends, and where request outcomes are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from conveyor.logging import get_logger
from conveyor.targets.local.network.balancer import Balancer
from conveyor.targets.local.network.stats import ServiceStats


@dataclass(frozen=True)
class ProxyOptions:
    """Timeouts and limits of a Service proxy; each default is what the runtime uses."""

    connect_timeout: float = 3.0  # seconds to open a connection to one endpoint
    down_for: float = 1.0  # seconds an endpoint that refused a connection is a last resort
    endpoint_wait: float = 1.5  # seconds a request waits for endpoints to appear (rollouts)
    sniff_timeout: float = 0.2  # ``auto``: client silence after which it is taken as TCP
    max_idle_per_endpoint: int = 256  # pooled keep-alive connections kept per endpoint
    early_limit: int = 1 << 20  # TCP: bytes held for a side not yet spliced, then reading stops
    head_limit: int = 64 * 1024  # largest request or response head accepted
    body_buffer_limit: int = 256 * 1024  # request bodies up to this are kept, so they can retry
    input_limit: int = 1 << 20  # unprocessed client input (pipelining) before reading pauses
    max_attempts: int = 16  # bound on tries of one request, whatever the endpoints do
    unsafe_reuse_idle: float = 1.0  # pooled connections idle longer are not used for POST & co


class ProxyContext:
    """What every connection of one proxy shares: its name, balancer and open transports."""

    def __init__(self, name: str, options: ProxyOptions, stats: ServiceStats | None = None) -> None:
        self.name = name
        self.options = options
        self.stats = stats  # per-ReplicaSet outcomes of HTTP requests; None: not recorded
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
            await asyncio.wait_for(self.ready.wait(), self.options.endpoint_wait)
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
