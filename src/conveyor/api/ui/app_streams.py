"""The application page's live parts: its status as it changes, and its Pods' logs.

``/ui/applications/NAME/stream`` sends the page's header (sync, health, operation) as a
``header`` event on every change of the app, then ``changed``, on which the open tab fetches
itself again. ``/ui/applications/NAME/logs/stream`` sends each log line as a ``line`` event,
following the Pods as ``kubectl logs -f`` does, and ``end`` when they are gone, on which the
page closes the stream (an EventSource would otherwise reconnect and read it all again).
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from conveyor.api.context import ApiContext, Ctx
from conveyor.api.masking import mask_document
from conveyor.api.routes_logs import follow_lines, select_pods
from conveyor.api.ui import templating
from conveyor.api.ui.guard import PageCaller
from conveyor.api.ui.pages_app import AppName
from conveyor.api.ui.sse import changes, event, stream
from conveyor.api.ui.summary import summarize
from conveyor.targets.protocol import LogOptions

router = APIRouter(include_in_schema=False)

TAIL_LINES = 500
"""Lines of each Pod's past output sent before following it."""


def _header(ctx: ApiContext, name: str) -> str:
    app = mask_document(ctx.controller.application(name))
    return templating.render("app_header.html", s=summarize(app))


async def _app_events(ctx: ApiContext, name: str) -> AsyncIterator[str]:
    with ctx.events.subscribe() as queue:
        yield event("header", _header(ctx, name))
        while not ctx.stopping.is_set():
            burst = await changes(queue)
            if burst is None:
                return
            if not burst:
                yield ": keepalive\n\n"
                continue
            mine = [c for c in burst if (c.application.get("metadata") or {}).get("name") == name]
            if not mine:
                continue
            if mine[-1].type == "DELETED":
                yield event("header", templating.render("app_deleted.html", name=name))
                yield event("end", "")
                return
            yield event("header", _header(ctx, name))
            yield event("changed", "")


@router.get("/ui/applications/{name}/stream")
async def app_stream(ctx: Ctx, caller: PageCaller, name: AppName) -> StreamingResponse:
    ctx.controller.application(name)  # 404 now rather than an empty stream
    return stream(_app_events(ctx, name))


async def _log_events(ctx: ApiContext, name: str, pod: str) -> AsyncIterator[str]:
    pods = select_pods(
        ctx, name, pod=pod or None, kind=None, resource_name=None, namespace=None, group=None
    )
    options = LogOptions(tail_lines=TAIL_LINES, follow=True)
    async for line in follow_lines(ctx, pods, options, len(pods) > 1):
        text = html.escape(line.rstrip("\n"))
        yield event("line", f'<div class="log-line">{text}</div>')
    yield event("end", "")


@router.get("/ui/applications/{name}/logs/stream")
async def logs_stream(
    ctx: Ctx,
    caller: PageCaller,
    name: AppName,
    pod: Annotated[str, Query(max_length=253)] = "",
) -> StreamingResponse:
    ctx.controller.application(name)
    select_pods(ctx, name, pod=pod or None, kind=None, resource_name=None, namespace=None,
                group=None)  # fmt: skip
    return stream(_log_events(ctx, name, pod))
