"""REST calls to one cluster's API server, through the HTTP client lightkube configures.

lightkube reads the credentials (bearer token, token file, client certificates, CA data)
and builds the authenticated ``httpx2`` client; requests go through it as plain REST on
unstructured objects. lightkube's typed client is not used for them: it registers a class per
(group, version, kind) process-wide (two clusters serving one CRD differently would clash),
decodes built-in kinds into typed models, and its watch has no ``allowWatchBookmarks``.

Every answer that is an error becomes Conveyor's (``errors.translate``). A 429 is retried
here after the server's Retry-After (a few times, through an injectable ``sleep``), then
surfaces as a TemporaryError carrying the delay.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from lightkube.config import client_adapter

from conveyor.errors import TemporaryError
from conveyor.logging import get_logger
from conveyor.targets.kubernetes.credentials import ClusterCredentials
from conveyor.targets.kubernetes.errors import retry_after, translate

log = get_logger(component="kubernetes-api")

Sleep = Callable[[float], Awaitable[None]]

THROTTLE_RETRIES = 3
"""How many times a 429 is retried after its Retry-After before the caller hears of it."""
UNREACHABLE_DELAY = 5.0

APPLY_PATCH = "application/apply-patch+yaml"
"""Server-side apply's content type (the body is JSON, which is YAML)."""


def _status(response: httpx2.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (ValueError, httpx2.ResponseNotRead):
        return None
    return body if isinstance(body, dict) else None


class KubeApi:
    """One cluster's API server."""

    def __init__(
        self,
        credentials: ClusterCredentials,
        *,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.server = credentials.server
        self.name = credentials.name
        params = client_adapter.ConnectionParams(timeout=httpx2.Timeout(timeout), trust_env=False)
        self._http: httpx2.AsyncClient = client_adapter.AsyncClient(
            credentials.single_config(), params
        )
        self._sleep = sleep

    async def close(self) -> None:
        await self._http.aclose()

    def _unreachable(self, err: Exception, what: str) -> TemporaryError:
        return TemporaryError(
            f"cannot reach the cluster {self.name} at {self.server}: {type(err).__name__}"
            f"{': ' + str(err) if str(err) else ''}",
            obj=what,
            delay=UNREACHABLE_DELAY,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        """The decoded JSON answer; a Conveyor error when the server refuses."""
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        for attempt in range(THROTTLE_RETRIES + 1):
            try:
                response = await self._http.request(
                    method, path, params=params or {}, content=content, headers=headers
                )
            except httpx2.TransportError as err:
                raise self._unreachable(err, what) from err
            if response.status_code == 429 and attempt < THROTTLE_RETRIES:
                delay = retry_after(response.headers)
                log.info("throttled by the API server", cluster=self.name, obj=what, delay=delay)
                await self._sleep(delay)
                continue
            if response.is_error:
                raise translate(
                    response.status_code, _status(response), response.headers, what=what
                )
            return response.json() if response.content else {}
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def stream(
        self, path: str, *, what: str, params: dict[str, str] | None = None
    ) -> AsyncIterator[AsyncIterator[str]]:
        """Lines of a streamed answer (a watch, a followed log), no read timeout."""
        timeout = httpx2.Timeout(self._http.timeout.connect or 30.0, read=None)
        request = self._http.build_request("GET", path, params=params or {}, timeout=timeout)
        try:
            response = await self._http.send(request, stream=True)
        except httpx2.TransportError as err:
            raise self._unreachable(err, what) from err
        try:
            if response.is_error:
                await response.aread()
                raise translate(
                    response.status_code, _status(response), response.headers, what=what
                )
            yield self._lines(response, what)
        finally:
            await response.aclose()

    async def _lines(self, response: httpx2.Response, what: str) -> AsyncIterator[str]:
        try:
            async for line in response.aiter_lines():
                yield line
        except httpx2.TransportError as err:  # the stream was cut
            raise self._unreachable(err, what) from err
