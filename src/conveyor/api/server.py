"""Running the API server: one uvicorn process with the controller and runtime inside.

The socket is bound before anything starts, so a port in use is one clear error; once the
app is up, ``server.json`` under CONVEYOR_HOME tells local CLIs where it listens. SIGINT and
SIGTERM stop it gracefully: streams (SSE, followed logs) end at once, requests in flight get
a few seconds, then the lifespan stops the controller and the runtime, whose Pods (host
processes) are terminated. ``server.json`` is removed on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI

from conveyor.api.app import ControllerFactory, EngineHooks, create_app, local_engine
from conveyor.api.discovery import DEFAULT_HOST, DEFAULT_PORT, remove_server_info, write_server_info
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.settings import Settings
from conveyor.targets.local.monitoring.supervisor import write_self_target

log = get_logger(component="server")

GRACEFUL_SECONDS = 5


@dataclass(frozen=True)
class ServerOptions:
    """Where to listen and how the controller runs."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    """0 picks a free port (written to server.json)."""
    controller: ControllerOptions = field(default_factory=ControllerOptions)


class _Server(uvicorn.Server):
    """uvicorn, plus: end streams on a signal, publish the address once up."""

    def __init__(self, config: uvicorn.Config, app: FastAPI, settings: Settings, url: str) -> None:
        super().__init__(config)
        self._app = app
        self._settings = settings
        self._url = url

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            write_server_info(self._settings.home, self._url)
            write_self_target(self._settings.prometheus_targets_dir, self._url)
            log.info("listening", url=self._url, home=str(self._settings.home))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            # Here, not after run(): uvicorn re-raises SIGTERM once it returns, which ends
            # the process before any code after run() could remove the file.
            remove_server_info(self._settings.home)
            log.info("stopped")

    def handle_exit(self, sig: int, frame: Any) -> None:
        context = getattr(self._app.state, "context", None)
        if context is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            if loop is not None:
                loop.call_soon_threadsafe(context.stopping.set)
                loop.call_soon_threadsafe(context.events.close)
        super().handle_exit(sig, frame)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; a clear error if it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise ValidationError(f"cannot resolve host {host!r}: {err.strerror}") from err
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as err:
        sock.close()
        raise ValidationError(
            f"cannot listen on {host}:{port}: {err.strerror} "
            "(is another `conveyor server` running? choose another --port)"
        ) from err
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


OnReady = Callable[[Controller, str], Coroutine[Any, Any, None]]
"""Run once the controller is up, with the server's URL (``conveyor demo`` registers its
apps this way); cancelled when the server stops."""


def _with_on_ready(factory: ControllerFactory, on_ready: OnReady, url: str) -> ControllerFactory:
    @asynccontextmanager
    async def wrapped(hooks: EngineHooks) -> AsyncIterator[Controller]:
        async with factory(hooks) as controller:
            task = asyncio.create_task(on_ready(controller, url), name="on-ready")
            try:
                yield controller
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    return wrapped


def serve(
    settings: Settings,
    options: ServerOptions,
    *,
    on_ready: OnReady | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Run the server until SIGINT or SIGTERM; on ``sock`` if given (bound early by a caller
    that must know the port is free before slow work), else on options.host:port."""
    for noisy in ("alembic", "uvicorn.error"):  # plain-text lines; ours say the same, structured
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings.make_private()
    sock = sock or bind(options.host, options.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    factory = local_engine(settings, options.controller)
    if on_ready is not None:
        factory = _with_on_ready(factory, on_ready, url)
    app = create_app(settings, controller_factory=factory, url=url)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        ws="none",
    )
    server = _Server(config, app, settings, url)
    try:
        server.run(sockets=[sock])
    finally:
        remove_server_info(settings.home)
        sock.close()
