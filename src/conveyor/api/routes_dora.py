"""``/api/v1/dora`` and ``/api/v1/reports/compliance``: delivery measured over a window.

DORA's four keys per app and environment with the 2023 State of DevOps bands
(``api.dora_figures``, ``engine.dora``), and the compliance report (``api.compliance``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from conveyor.api import compliance
from conveyor.api.context import ApiContext, Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import DNS_SUBDOMAIN
from conveyor.engine.records import AuditQuery
from conveyor.errors import ValidationError
from conveyor.model.durations import parse_window

FLUSH_WAIT = 5.0
"""Seconds a read waits for audit rows still queued (a failing store: answer without)."""

router = APIRouter(prefix="/api/v1", tags=["reports"], responses=ERROR_RESPONSES)

AppQuery = Annotated[
    str | None, Query(pattern=DNS_SUBDOMAIN, max_length=253, description="Only this app.")
]
WindowQuery = Annotated[
    str, Query(max_length=16, description="How far back: 30d, 2w, 12h (default 30d).")
]


def window_of(text: str) -> timedelta:
    try:
        return parse_window(text)
    except ValueError as err:
        raise ValidationError(str(err), obj="window") from err


@router.get("/dora", summary="DORA's four keys per app and environment, with their bands")
async def dora_figures(
    ctx: Ctx,
    app: AppQuery = None,
    env: Annotated[str | None, Query(max_length=253, description="Only this environment.")] = None,
    window: WindowQuery = "30d",
) -> dict[str, Any]:
    return await dora_answer(ctx, span=window_of(window), window=window, app=app, env=env)


async def dora_answer(
    ctx: ApiContext, *, span: timedelta, window: str, app: str | None, env: str | None
) -> dict[str, Any]:
    """``GET /api/v1/dora``'s answer (the UI's DORA page shows the same)."""
    if ctx.dora is None:
        raise ValidationError("DORA figures are not available on this server")
    if ctx.activity is not None:
        await ctx.activity.flush(timeout=FLUSH_WAIT)  # the health events known so far
    return await ctx.dora.report(window=span, window_text=window, app=app, env=env)


@router.get("/reports/compliance", summary="Deployments, success rate, scans and policy")
async def compliance_report(ctx: Ctx, app: AppQuery = None, window: WindowQuery = "30d") -> (
    dict[str, Any]
):  # fmt: skip
    return await compliance_answer(ctx, span=window_of(window), window=window, app=app)


async def compliance_answer(
    ctx: ApiContext, *, span: timedelta, window: str, app: str | None
) -> dict[str, Any]:
    """``GET /api/v1/reports/compliance``'s answer (the UI's compliance page shows the same)."""
    now = ctx.controller.clock.now()
    repo = ctx.controller.repo
    if ctx.activity is not None:
        await ctx.activity.flush(timeout=FLUSH_WAIT)
    records = await repo.deployments(app=app, since=now - span)
    violations = await repo.audit(
        AuditQuery(app=app, action=compliance.POLICY_VIOLATION, since=now - span, limit=100_000)
    )
    runs = await ctx.ci_runs.list(limit=10_000) if ctx.ci_runs is not None else []
    env_of = ctx.dora.env_of if ctx.dora is not None else None
    return compliance.report(
        records=records,
        violations=violations,
        ci_runs=runs,
        env_of=env_of or (lambda r: r.destination.namespace),
        window=span,
        window_text=window,
        now=now,
    )
