"""The ``web`` provider: an HTTP request whose JSON answer is the measured value.

As Argo Rollouts does: ``method`` GET (or POST/PUT with ``body``, or ``jsonBody`` sent as
application/json), the metric's ``headers``, ``timeoutSeconds`` (10 by default), a non-2xx
status is an Error, and ``jsonPath`` (Kubernetes JSONPath, ``{$}`` by default) picks the
value the conditions read as ``result``.

One deliberate difference: Argo takes a body that is not JSON as an unconditional success;
here the conditions are evaluated against the body as a string (``result == "ok"``), so a
metric never passes without its conditions being checked.

The request carries only what the metric says: the client ignores the environment (proxies,
``.netrc``), sends no cookies, and drops the metric's own Authorization header if a redirect
leaves the origin (httpx's rule), so Conveyor's credentials never leave with it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from conveyor.analysis.providers.base import (
    Immediate,
    RunContext,
    URLResolver,
    begin,
    errored,
    evaluated,
    json_text,
)
from conveyor.clock import Clock
from conveyor.errors import ConveyorError
from conveyor.model.analysis.jsonpath import JSONPathError, find_first
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import Measurement

DEFAULT_TIMEOUT_SECONDS = 10
MAX_BODY = 10 * 1024 * 1024  # bytes read from an answer


class WebProvider(Immediate):
    """Measures ``provider.web`` metrics."""

    kind = "web"

    def __init__(self, resolve_url: URLResolver | None = None) -> None:
        self._resolve = resolve_url or (lambda url: url)

    async def measure(
        self, metric: Metric, clock: Clock, context: RunContext | None = None
    ) -> Measurement:
        started = begin(clock)
        spec = metric.provider.web
        if spec is None:
            return errored(started, "the metric has no web provider", clock)
        method = (spec.method or "GET").upper()
        headers = {h.key: h.value for h in spec.headers or []}
        content: bytes | None = None
        if spec.body is not None:
            content = spec.body.encode()
        elif spec.json_body is not None:
            content = json.dumps(spec.json_body).encode()
            headers["Content-Type"] = "application/json"
        timeout = spec.timeout_seconds or DEFAULT_TIMEOUT_SECONDS
        try:
            url = self._resolve(spec.url)
        except ConveyorError as err:
            return errored(started, err.message, clock)
        try:
            async with httpx.AsyncClient(
                timeout=timeout,
                trust_env=False,
                verify=not spec.insecure,
                follow_redirects=True,
                max_redirects=10,
            ) as client:
                response = await client.request(method, url, headers=headers, content=content)
        except httpx.TimeoutException:
            return errored(started, f"no answer from {url} within {timeout}s", clock)
        except httpx.HTTPError as err:
            return errored(started, f"request to {url} failed: {err}", clock)
        if not 200 <= response.status_code < 300:
            return errored(
                started, f"received non 2xx response code: {response.status_code}", clock
            )
        body = response.content[:MAX_BODY]
        try:
            data: Any = json.loads(body)
        except ValueError:
            text = body.decode(errors="replace")
            return evaluated(metric, text, text, started, clock)
        try:
            value = find_first(spec.json_path or "{$}", data)
        except JSONPathError as err:
            return errored(started, f"Could not find JSONPath in body: {err}", clock)
        return evaluated(metric, value, json_text(value), started, clock)
