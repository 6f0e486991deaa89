"""The delivery reports: DORA's four keys with their charts, and the compliance report.

Both pages show what the API answers (``routes_dora.dora_answer``,
``routes_dora.compliance_answer``: the same figures, computed by the same services), filtered
by app, environment and window; the charts are drawn from the DORA timeline by ``charts``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from conveyor.api.context import Ctx
from conveyor.api.routes_dora import compliance_answer, dora_answer, window_of
from conveyor.api.ui import charts, templating
from conveyor.api.ui.guard import PageCaller
from conveyor.errors import ValidationError
from conveyor.store import TokenInfo

router = APIRouter(include_in_schema=False)

AppFilter = Annotated[str, Query(max_length=253)]
"""Any text: a name no app has matches nothing (the page says so, rather than a 422)."""
EnvFilter = Annotated[str, Query(max_length=253)]
Window = Annotated[str, Query(max_length=16)]
KEYS = (
    ("deploymentFrequency", "Deployment frequency"),
    ("leadTime", "Lead time for changes"),
    ("changeFailureRate", "Change failure rate"),
    ("timeToRestore", "Time to restore service"),
)
"""The four keys, in DORA's order: the ``bands`` key and the label."""


def _bad_window(request: Request, caller: TokenInfo, err: ValidationError, back: str) -> Response:
    return templating.page(
        request, "error.html", caller, title="Not a window", message=str(err), back=back,
        status_code=400,
    )  # fmt: skip


def _with_charts(item: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    start, end = charts.moment(answer["from"]), charts.moment(answer["until"])
    return {
        **item,
        "perDay": charts.per_day(item["timeline"], start=start, end=end),
        "chart": charts.timeline(item["timeline"], end=end),
    }


@router.get("/ui/dora")
async def dora(
    ctx: Ctx,
    caller: PageCaller,
    request: Request,
    app: AppFilter = "",
    env: EnvFilter = "",
    window: Window = "30d",
) -> Response:
    try:
        span = window_of(window)
    except ValidationError as err:
        return _bad_window(request, caller, err, "/ui/dora")
    answer = await dora_answer(ctx, span=span, window=window, app=app or None, env=env or None)
    return templating.page(
        request,
        "dora.html",
        caller,
        answer=answer,
        items=[_with_charts(item, answer) for item in answer["items"]],
        keys=KEYS,
        app=app,
        env=env,
        window=window,
    )


@router.get("/ui/compliance")
async def compliance(
    ctx: Ctx, caller: PageCaller, request: Request, app: AppFilter = "", window: Window = "30d"
) -> Response:
    try:
        span = window_of(window)
    except ValidationError as err:
        return _bad_window(request, caller, err, "/ui/compliance")
    report = await compliance_answer(ctx, span=span, window=window, app=app or None)
    return templating.page(
        request, "compliance.html", caller, report=report, app=app, window=window
    )
