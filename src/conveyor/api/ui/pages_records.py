"""The record pages: the audit log, the notifications' outbox, the promotions.

Each reads the store the API's route reads (``/api/v1/audit``, ``/api/v1/notifications``,
``/api/v1/promotions``), with the same filters, newest first. The audit log links to the
API's CSV and JSON-lines exports of the same filter (the session cookie is accepted there).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from conveyor.api.context import Ctx
from conveyor.api.masking import mask_document
from conveyor.api.routes_audit import FLUSH_WAIT
from conveyor.api.ui import templating
from conveyor.api.ui.guard import PageCaller
from conveyor.engine.records import AuditQuery
from conveyor.store.notifications import DEAD

router = APIRouter(include_in_schema=False)

LIMIT = 500
AppFilter = Annotated[str, Query(max_length=253)]
"""Any text: a name no app has matches nothing (the page says so, rather than a 422)."""
Text = Annotated[str, Query(max_length=253)]


@router.get("/ui/audit")
async def audit(
    ctx: Ctx,
    caller: PageCaller,
    request: Request,
    user: Text = "",
    app: AppFilter = "",
    action: Text = "",
) -> Response:
    if ctx.activity is not None:  # what was just done is on the page
        await ctx.activity.flush(timeout=FLUSH_WAIT)
    query = AuditQuery(actor=user or None, app=app or None, action=action or None, limit=LIMIT)
    entries = [e.to_dict() for e in reversed(await ctx.controller.repo.audit(query))]
    chosen = {k: v for k, v in (("user", user), ("app", app), ("action", action)) if v}
    exports = {
        fmt: "/api/v1/audit?" + urlencode({**chosen, "format": fmt, "limit": 100_000})
        for fmt in ("csv", "jsonl")
    }
    return templating.page(
        request, "audit.html", caller, entries=entries, user=user, app=app, action=action,
        exports=exports, limit=LIMIT,
    )  # fmt: skip


@router.get("/ui/notifications")
async def notifications(
    ctx: Ctx,
    caller: PageCaller,
    request: Request,
    status: Annotated[Literal["", "pending", "sent", "dead"], Query()] = "",
    app: AppFilter = "",
) -> Response:
    service = ctx.notifications
    if service is None:
        return templating.page(
            request, "notifications.html", caller, running=False, entries=[], dead=[],
            warnings=[], status=status, app=app,
        )  # fmt: skip
    entries = await service.store.listing(status=status or None, app=app or None, limit=LIMIT)
    dead = await service.store.listing(status=DEAD, app=app or None, limit=LIMIT)
    return templating.page(
        request,
        "notifications.html",
        caller,
        running=True,
        entries=[mask_document(e.to_dict()) for e in entries],
        dead=[mask_document(e.to_dict()) for e in dead],
        warnings=service.configuration()["warnings"],
        status=status,
        app=app,
    )


@router.get("/ui/promotions")
async def promotions(
    ctx: Ctx, caller: PageCaller, request: Request, app: Text = "", env: Text = ""
) -> Response:
    items = []
    if ctx.promotions is not None:
        found = await ctx.promotions.list(app=app or None, env=env or None, limit=LIMIT)
        items = [mask_document(p) for p in reversed(found)]
    return templating.page(
        request, "promotions.html", caller, promotions=items, app=app, env=env,
        keeping=ctx.promotions is not None,
    )  # fmt: skip
