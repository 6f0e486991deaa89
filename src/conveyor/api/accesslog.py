"""One structured log line per request: method, path, status, duration.

A plain ASGI middleware (it passes streamed bodies through untouched). Only the path is
logged, never the query string, headers or body, so that neither tokens nor manifests (which
may hold Secret values) reach the log. Probes and scrapes log at debug level.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conveyor.logging import get_logger

log = get_logger(component="http")
_QUIET = {"/healthz", "/metrics"}


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = str(scope.get("path", ""))
            fields: dict[str, Any] = {
                "method": scope.get("method"),
                "path": path,
                "status": status or 500,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            if path in _QUIET:
                log.debug("request", **fields)
            else:
                log.info("request", **fields)
