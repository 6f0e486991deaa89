"""The ``prometheus`` provider: an instant query against a Prometheus server's HTTP API.

As in Argo Rollouts, an instant vector becomes a list of floats (``result[0] >= 0.95``; an
empty result is ``[]``), a scalar becomes a float, NaN and infinities stay what they are,
and any other result type (a range vector, a string) is an Error, as is an HTTP failure, an
answer that is not Prometheus' JSON, or no answer within ``timeout`` seconds (30 by
default). Prometheus' warnings are kept in the measurement's metadata.

The client ignores the environment (no proxy, no ``.netrc``): the only credentials sent are
the headers the metric names.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from conveyor.analysis.providers.base import (
    Immediate,
    RunContext,
    URLResolver,
    begin,
    errored,
    evaluated,
    go_float,
)
from conveyor.clock import Clock
from conveyor.errors import ConveyorError
from conveyor.model.analysis.kinds import Metric, PrometheusMetric
from conveyor.model.analysis.status import Measurement

DEFAULT_TIMEOUT_SECONDS = 30
RESOLVED_QUERY = "ResolvedPrometheusQuery"  # Argo's metadata key


class PrometheusProvider(Immediate):
    """Measures ``provider.prometheus`` metrics."""

    kind = "prometheus"

    def __init__(self, resolve_url: URLResolver | None = None) -> None:
        self._resolve = resolve_url or (lambda url: url)

    def metadata(self, metric: Metric) -> dict[str, str]:
        spec = metric.provider.prometheus
        return {RESOLVED_QUERY: spec.query} if spec and spec.query else {}

    async def measure(
        self, metric: Metric, clock: Clock, context: RunContext | None = None
    ) -> Measurement:
        started = begin(clock)
        spec = metric.provider.prometheus
        if spec is None:
            return errored(started, "the metric has no prometheus provider", clock)
        if not spec.address:
            return errored(started, "prometheus address is not configured", clock)
        try:
            data = await self._query(spec)
        except _QueryError as err:
            return errored(started, str(err), clock)
        warnings = data.get("warnings")
        if warnings:
            shown = ", ".join(f'"{w}"' for w in warnings)
            started = Measurement(started.phase, started.started_at, metadata={"warnings": shown})
        try:
            result, value = _decode(data.get("data"))
        except _QueryError as err:
            return errored(started, str(err), clock)
        return evaluated(metric, result, value, started, clock)

    async def _query(self, spec: PrometheusMetric) -> dict[str, Any]:
        timeout = spec.timeout if spec.timeout is not None else DEFAULT_TIMEOUT_SECONDS
        try:
            url = self._resolve(spec.address or "").rstrip("/") + "/api/v1/query"
        except ConveyorError as err:
            raise _QueryError(err.message) from None
        headers = {h.key: h.value for h in spec.headers or []}
        try:
            async with httpx.AsyncClient(
                timeout=timeout, trust_env=False, verify=not spec.insecure
            ) as client:
                response = await client.post(url, data={"query": spec.query}, headers=headers)
        except httpx.TimeoutException:
            raise _QueryError(f"Prometheus did not answer within {timeout}s ({url})") from None
        except httpx.HTTPError as err:
            raise _QueryError(f"cannot query Prometheus at {url}: {err}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _QueryError(
                f"Prometheus at {url} answered {response.status_code} without its JSON"
                f" ({response.text[:200]!r})"
            )
        if body.get("status") != "success":
            kind = body.get("errorType") or f"HTTP {response.status_code}"
            raise _QueryError(f"{kind}: {body.get('error') or 'query failed'}")
        return body


class _QueryError(Exception):
    pass


def _decode(data: Any) -> tuple[Any, str]:
    """Prometheus' ``data`` -> (the condition's ``result``, the measurement's value text)."""
    if not isinstance(data, dict):
        raise _QueryError("Prometheus answered without data")
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        number = _sample(result[1])
        return number, go_float(number)
    if kind == "vector" and isinstance(result, list):
        numbers = [_sample((s.get("value") or [None, None])[1]) for s in result if s]
        return numbers, "[" + ",".join(go_float(n) for n in numbers) + "]"
    raise _QueryError(
        f"Prometheus metric type not supported: the query returned a {kind};"
        " use an instant vector or a scalar (e.g. rate(x[5m]), not x[5m])"
    )


def _sample(text: Any) -> float:
    try:
        value = float(str(text))
    except ValueError:
        raise _QueryError(f"Prometheus returned {text!r}, not a number") from None
    return math.copysign(math.inf, value) if math.isinf(value) else value
