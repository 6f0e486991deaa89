"""Server-sent events carrying HTML for htmx's SSE extension.

Each event is named (``event: tile-guestbook``) and carries a fragment that an element with
the matching ``sse-swap`` swaps in. A fragment spans several ``data:`` lines, which the
browser joins again with newlines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from conveyor.api.events import CLOSED, AppEvent

KEEPALIVE = 15.0
"""Seconds between comment lines on an idle stream, so that proxies keep it open."""
COALESCE = 0.05
"""Changes that come this close together are sent as one (an operation's steps come in
bursts): the browser swaps once, with the latest state."""


async def changes(queue: asyncio.Queue[AppEvent]) -> list[AppEvent] | None:
    """The next burst of changes, the latest per app, in order; [] after an idle KEEPALIVE,
    None once the stream must end (the subscriber was dropped or the server stops)."""
    try:
        async with asyncio.timeout(KEEPALIVE):
            first = await queue.get()
    except TimeoutError:
        return []
    await asyncio.sleep(COALESCE)
    burst = [first]
    while not queue.empty():
        burst.append(queue.get_nowait())
    if any(change is CLOSED for change in burst):
        return None
    latest: dict[str, AppEvent] = {}
    for change in burst:
        name = str((change.application.get("metadata") or {}).get("name", ""))
        latest.pop(name, None)
        latest[name] = change
    return list(latest.values())


def event(name: str, html: str) -> str:
    """One named event; ``name`` must not contain a line break (names are app names)."""
    lines = html.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    data = "".join(f"data: {line}\n" for line in lines)
    return f"event: {name}\n{data}\n"


def stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
