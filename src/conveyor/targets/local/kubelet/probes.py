"""Startup, liveness and readiness probes: httpGet, tcpSocket and exec, with the kubelet's rules.

httpGet goes to 127.0.0.1 (or ``host``) on the host port the probed container port maps to;
200-399 succeeds. tcpSocket succeeds when a connection opens. exec runs the command (``$(VAR)``
expanded from the container's env) with the container's env and workingDir, in a session of
its own that is killed on timeout; exit 0 succeeds. Defaults: periodSeconds 10, timeoutSeconds 1,
failureThreshold 3, successThreshold 1, initialDelaySeconds 0; fractional seconds are
accepted. A result flips only after ``failureThreshold`` failures or ``successThreshold``
successes in a row. Failure messages never include command output (it could echo a Secret).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conveyor.targets.local.kubelet.container import child_setup
from conveyor.targets.local.kubelet.env import expand

HANDLERS = ("httpGet", "tcpSocket", "exec")
USER_AGENT = "kube-probe/conveyor"


class UnsupportedProbe(Exception):
    """A probe the local runtime cannot run (grpc, or no handler)."""


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of a container, with defaults filled in."""

    kind: str
    """Startup, Liveness or Readiness (as in the kubelet's messages)."""
    handler: str
    action: Mapping[str, Any]
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1
    termination_grace: float | None = None

    @classmethod
    def parse(cls, kind: str, raw: Mapping[str, Any] | None) -> ProbeSpec | None:
        """The probe in ``raw`` (a container's ``livenessProbe``...), None when absent."""
        if not raw:
            return None
        handler = next((h for h in HANDLERS if h in raw), None)
        if handler is None:
            other = next((k for k in ("grpc",) if k in raw), "no handler")
            raise UnsupportedProbe(
                f"{kind.lower()} probe ({other}) is not supported by the local runtime"
            )
        grace = raw.get("terminationGracePeriodSeconds")
        return cls(
            kind=kind,
            handler=handler,
            action=raw[handler] or {},
            initial_delay=max(0.0, float(raw.get("initialDelaySeconds") or 0)),
            period=max(0.01, float(raw.get("periodSeconds") or 10)),
            timeout=max(0.01, float(raw.get("timeoutSeconds") or 1)),
            failure_threshold=max(1, int(raw.get("failureThreshold") or 3)),
            success_threshold=max(1, int(raw.get("successThreshold") or 1)),
            termination_grace=float(grace) if grace is not None else None,
        )


@dataclass(frozen=True)
class ProbeTarget:
    """What a probe needs to know about the container it checks."""

    resolve_port: Callable[[int | str], int | None]
    env: Mapping[str, str]
    cwd: Path


class ProbeCounter:
    """Consecutive results against the thresholds; reports a flip of the probe's verdict."""

    def __init__(self, spec: ProbeSpec, initial: bool) -> None:
        self._spec = spec
        self.healthy = initial
        self._streak = 0

    def record(self, ok: bool) -> bool | None:
        """Add a result; the new verdict when it flips, else None."""
        if ok == self.healthy:
            self._streak = 0
            return None
        self._streak += 1
        needed = self._spec.success_threshold if ok else self._spec.failure_threshold
        if self._streak < needed:
            return None
        self.healthy = ok
        self._streak = 0
        return ok


async def probe_once(
    spec: ProbeSpec, target: ProbeTarget, client: httpx.AsyncClient | None
) -> tuple[bool, str]:
    """Run the probe once: (succeeded, message on failure)."""
    if spec.handler == "exec":
        return await _exec(spec, target)
    port_ref = spec.action.get("port")
    port = target.resolve_port(port_ref) if port_ref is not None else None
    if port is None:
        return False, f'port "{port_ref}" is not a port of the container'
    host = str(spec.action.get("host") or "127.0.0.1")
    if spec.handler == "tcpSocket":
        return await _tcp(host, port, spec.timeout)
    assert client is not None
    return await _http(spec, client, host, port)


async def _http(
    spec: ProbeSpec, client: httpx.AsyncClient, host: str, port: int
) -> tuple[bool, str]:
    scheme = str(spec.action.get("scheme") or "HTTP").lower()
    path = str(spec.action.get("path") or "/")
    url = f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    for header in spec.action.get("httpHeaders") or []:
        if header.get("name"):
            headers[str(header["name"])] = str(header.get("value") or "")
    try:
        response = await client.get(url, headers=headers, timeout=spec.timeout)
    except httpx.TimeoutException:
        return (
            False,
            f'Get "{url}": context deadline exceeded (Client.Timeout exceeded)',
        )
    except httpx.HTTPError as exc:
        return False, f'Get "{url}": {_describe(exc)}'
    if 200 <= response.status_code < 400:
        return True, ""
    return False, f"HTTP probe failed with statuscode: {response.status_code}"


async def _tcp(host: str, port: int, limit: float) -> tuple[bool, str]:
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return False, f"dial tcp {host}:{port}: i/o timeout"
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return False, f"dial tcp {host}:{port}: connect: {reason.lower()}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def _exec(spec: ProbeSpec, target: ProbeTarget) -> tuple[bool, str]:
    raw = [str(part) for part in spec.action.get("command") or []]
    if not raw:
        return False, "exec probe has no command"
    # As the kubelet: $(VAR) expands from the container's env; messages show the raw command.
    command = [expand(part, target.env) for part in raw]
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=target.cwd,
            env=dict(target.env),
            start_new_session=True,
            preexec_fn=child_setup(None),
        )
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
        return False, f'exec probe: "{raw[0]}": {reason}'
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
        # races with the command's end, and the container's stop then waits for us forever.
        async with asyncio.timeout(spec.timeout):
            code = await proc.wait()
    except TimeoutError:
        return False, f"command timed out after {spec.timeout:g}s"
    finally:
        # Timed out or cancelled (the container stopped): the probe's whole group goes, and
        # it is reaped here, so that no probe process outlives its check.
        if proc.returncode is None:
            _kill_group(proc.pid)
            await asyncio.shield(proc.wait())
        else:
            _kill_group(proc.pid)  # anything the command left running in its session
    if code == 0:
        return True, ""
    return False, f"command exited with code {code if code >= 0 else 128 - code}"


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _describe(exc: httpx.HTTPError) -> str:
    cause: BaseException = exc
    while cause.__cause__ is not None or cause.__context__ is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connect: connection refused"
    return str(exc) or type(exc).__name__


def http_client() -> httpx.AsyncClient:
    """The client httpGet probes share: no proxies from the environment, no TLS checks
    (as the kubelet), no keep-alive."""
    return httpx.AsyncClient(
        verify=False,  # noqa: S501 - the kubelet does not verify probe certificates either
        trust_env=False,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


async def probe_loop(
    spec: ProbeSpec,
    target: ProbeTarget,
    *,
    initial: bool,
    on_result: Callable[[bool, str, bool | None], bool],
) -> None:
    """Probe every period; ``on_result(ok, message, flipped_to)`` returns False to stop."""
    counter = ProbeCounter(spec, initial)
    client = http_client() if spec.handler == "httpGet" else None
    try:
        await asyncio.sleep(spec.initial_delay)
        while True:
            ok, message = await probe_once(spec, target, client)
            if not on_result(ok, message, counter.record(ok)):
                return
            await asyncio.sleep(spec.period)
    finally:
        if client is not None:
            await client.aclose()
