"""Server-sent events carrying HTML for htmx's SSE extension.

Each event is named (``event: tile-guestbook``) and carries a fragment that an element with
the matching ``sse-swap`` swaps in. A fragment spans several ``data:`` lines, which the
browser joins again with newlines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

KEEPALIVE = 15.0
"""Seconds between comment lines on an idle stream, so that proxies keep it open."""


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
