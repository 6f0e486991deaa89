"""Waiting on an application from the CLI: until a condition holds, with progress shown.

Polls ``GET /applications/{name}`` (cheap: the server answers from memory) and shows the
current sync, health and operation phase on a spinner while it waits. A timeout is a
CliError naming what was awaited and what was last seen, so ``app wait`` and ``app sync``
exit non-zero with a reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from conveyor.cli import app_view, output
from conveyor.cli.client import Client, CliError

POLL = 0.5
TERMINAL = ("Succeeded", "Failed", "Error")


def describe(app: dict[str, Any]) -> str:
    phase = app_view.operation(app).get("phase") or "-"
    said = (
        f"sync={app_view.sync_status(app)} health={app_view.health_status(app)} operation={phase}"
    )
    why = app_view.health_message(app)  # why it is not Healthy: what its Pods say
    return f"{said} ({why})" if why else said


def wait_for(
    client: Client,
    name: str,
    check: Callable[[dict[str, Any]], bool],
    *,
    what: str,
    timeout: float,
) -> dict[str, Any]:
    """The app once ``check`` holds; CliError after ``timeout`` seconds (0: no limit)."""
    deadline = time.monotonic() + timeout if timeout > 0 else None
    with output.progress(f"waiting for {name}: {what}") as update:
        while True:
            app: dict[str, Any] = client.get(f"/api/v1/applications/{name}")
            if check(app):
                return app
            update(f"waiting for {name}: {what} ({describe(app)})")
            if deadline is not None and time.monotonic() >= deadline:
                raise CliError(
                    f"timed out after {timeout:g}s waiting for {name} to be {what}; "
                    f"last seen: {describe(app)}"
                )
            time.sleep(POLL)


def operation_done(started_at: str | None) -> Callable[[dict[str, Any]], bool]:
    """True once the operation that started at ``started_at`` (or a later one) ended."""

    def check(app: dict[str, Any]) -> bool:
        op = app_view.operation(app)
        if op.get("phase") not in TERMINAL:
            return False
        return started_at is None or str(op.get("startedAt") or "") >= started_at

    return check


def wait_operation(client: Client, app: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The app once the operation it shows as started has ended (in whatever phase)."""
    started = app_view.operation(app).get("startedAt")
    return wait_for(
        client,
        app_view.name(app),
        operation_done(str(started) if started else None),
        what="done with its operation",
        timeout=timeout,
    )
