"""Several servers on one database: the lease holder runs the engine, the others forward.

The local runtime is one cluster (its Pods are processes of the server that runs it, its
Services listen on that machine), so it and every app on it form one shard with one lease
(``store.leases.LOCAL_SHARD``). Each server starts as a standby: it serves the API at once,
forwarding every request (``Forwarder``) to the process that holds the lease, whose engine
has the current state in memory and runs every operation; nothing is done twice because
nothing else acts. A standby takes the lease when it is free or expired (its holder stopped,
or was killed and stopped renewing), then starts the runtime and the controller, which
resume the operations that were Running, writing under the lease's fence.

A server that loses its lease (another took it after its renewals failed) stops at once,
as a Kubernetes controller does on losing leader election; its writes were fenced off
already. A supervisor (systemd, Kubernetes) starts it again, as a standby. See docs/ha.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.api.bodyguard import MAX_WEBHOOK_BODY
from conveyor.api.errors import error_response
from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.settings import Settings
from conveyor.store import Database
from conveyor.store.leadership import LeaseKeeper, LeaseOptions, new_holder_id
from conveyor.store.leases import LOCAL_SHARD, Fence, LeaseStore

log = get_logger(component="ha")

FORWARDED_BY = "x-conveyor-forwarded-by"
"""Response header a standby adds: the holder id of the standby that forwarded it."""

NOT_FORWARDED = frozenset({"/healthz"})
"""Answered by every process itself: is this process alive."""

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
     "trailer", "host"}
)  # fmt: skip


class Leadership:
    """This server's place in the group: leading (engine running here) or standby."""

    def __init__(
        self,
        keeper: LeaseKeeper,
        shard: str = LOCAL_SHARD,
        *,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.keeper = keeper
        self.shard = shard
        self.leading = False
        """The engine runs here: requests are answered here."""
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0))
        """Sends forwarded requests (streams stay open as long as the holder's do)."""

    def leader_url(self) -> str | None:
        """The lease holder's API, when another process holds the lease."""
        lease = self.keeper.leader(self.shard)
        if lease is None or lease.holder == self.keeper.holder:
            return None
        return lease.holder_url

    @property
    def starting(self) -> bool:
        """This process holds the lease and is starting the engine."""
        return self.shard in self.keeper.held and not self.leading


def stop_process(reason: str) -> None:
    """End this server as SIGTERM does (gracefully), because it must not act any more."""
    log.error("stopping this server", reason=reason)
    os.kill(os.getpid(), signal.SIGTERM)


@asynccontextmanager
async def elected(
    app: Any,
    settings: Settings,
    database: Database,
    url: str,
    start: Callable[[Fence], AbstractAsyncContextManager[Any]],
    *,
    on_lost: Callable[[str], None] = stop_process,
) -> AsyncIterator[Leadership]:
    """Serve as a standby until the lease is had, then run ``start(fence)`` (the engine)
    until the server stops; the lease is released once the engine has stopped.

    When the lease is free at once, the engine is started before this returns (the server
    is ready when its engine is, as without leases); else this returns as a standby.
    """
    advertised = settings.advertise_url or url
    if not advertised:
        raise ValidationError(
            "several servers share the database (CONVEYOR_HA) but this server's URL is "
            "unknown: set CONVEYOR_ADVERTISE_URL to where the others reach its API"
        )
    keeper = LeaseKeeper(
        LeaseStore(database),
        new_holder_id(),
        advertised,
        on_lost=lambda name, why: on_lost(f"lost lease {name!r}: {why}"),
        options=LeaseOptions(ttl=settings.lease_ttl),
    )
    leadership = Leadership(keeper)
    app.state.leadership = leadership
    stop = asyncio.Event()
    settled = asyncio.Event()
    """Set once this server leads, or once its first look found the lease held elsewhere."""

    async def lead() -> None:
        fence = await _first_look(keeper, leadership.shard)
        if fence is None:
            log.info("standby: waiting for the lease", lease=leadership.shard, holder=keeper.holder)
            settled.set()
            fence = await keeper.acquire(leadership.shard)
        renewing = asyncio.create_task(keeper.run(), name="lease-renewal")
        try:
            async with start(fence):
                leadership.leading = True
                settled.set()
                log.info("leading", lease=leadership.shard, fence=fence.token)
                await stop.wait()
        finally:
            leadership.leading = False
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewing

    serving = False

    def ended(task: asyncio.Task[None]) -> None:
        failed = not task.cancelled() and task.exception() is not None
        if failed and serving and not stop.is_set():
            on_lost(f"the engine failed: {task.exception()!r}")

    task = asyncio.create_task(lead(), name="leadership")
    task.add_done_callback(ended)
    # A lone server (or the first of a group) is ready when its engine is, as without leases.
    waiting = asyncio.create_task(settled.wait())
    await asyncio.wait({waiting, task}, return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    if task.done() and not task.cancelled() and task.exception() is not None:
        with contextlib.suppress(Exception):
            await keeper.release()
        await leadership.client.aclose()
        await task  # the engine could not start: the server fails to start, as without leases
    serving = True
    try:
        yield leadership
    finally:
        stop.set()
        if not leadership.leading:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await keeper.release()  # after the engine stopped: the next holder starts now
        await leadership.client.aclose()
        app.state.leadership = None


async def _first_look(keeper: LeaseKeeper, shard: str) -> Fence | None:
    try:
        return await keeper.try_acquire(shard)
    except Exception as err:  # the database is out of reach: wait as a standby
        log.warning("lease not acquired", lease=shard, error=repr(err))
        return None


class Forwarder:
    """While this server is a standby, every API request goes to the lease holder."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        leadership: Leadership | None = None
        if scope["type"] == "http" and scope["path"] not in NOT_FORWARDED:
            leadership = getattr(scope["app"].state, "leadership", None)
        if leadership is None or leadership.leading:
            await self.app(scope, receive, send)
            return
        target = leadership.leader_url()
        if target is None:
            why = (
                "this server took the lease over and is starting"
                if leadership.starting
                else "no server holds the lease yet"
            )
            await _unavailable(scope, receive, send, why)
            return
        await _forward(leadership, target, scope, receive, send)


async def _unavailable(scope: Scope, receive: Receive, send: Send, why: str) -> None:
    response = error_response(
        503,
        f"{why}: the API is answered again within the lease TTL; retry shortly",
        headers={"Retry-After": "2"},
    )
    await response(scope, receive, send)


async def _forward(
    leadership: Leadership, target: str, scope: Scope, receive: Receive, send: Send
) -> None:
    body = bytearray()
    while True:
        message: Message = await receive()
        body += message.get("body", b"")
        if len(body) > MAX_WEBHOOK_BODY:  # the holder applies the finer bounds
            await error_response(413, "the request body is too large")(scope, receive, send)
            return
        if not message.get("more_body"):
            break
    query = scope.get("query_string", b"").decode("latin-1")
    url = target + scope.get("root_path", "") + scope["path"] + (f"?{query}" if query else "")
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in scope["headers"]
        if k.decode("latin-1").lower() not in _HOP_BY_HOP
    ]
    request = leadership.client.build_request(
        scope["method"], url, headers=headers, content=bytes(body)
    )
    try:
        upstream = await leadership.client.send(request, stream=True)
    except httpx.HTTPError as err:
        log.warning("forwarding failed", url=target, error=repr(err))
        await _unavailable(scope, receive, send, f"the lease holder at {target} is unreachable")
        return
    try:
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP
        ]
        out.append((FORWARDED_BY.encode(), leadership.keeper.holder.encode("latin-1")))
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": out})
        with contextlib.suppress(httpx.HTTPError):  # the holder died mid-stream: end it
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        await upstream.aclose()
