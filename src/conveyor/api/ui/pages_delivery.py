"""The delivery pages: pipeline runs (``conveyor ci``) and the deployment record.

Both read what the API's routes read (``ApiContext.ci_runs``, the deployment record through
the controller's repository), newest first, with a filter by app.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from conveyor.api.context import Ctx
from conveyor.api.masking import mask_document
from conveyor.api.schemas import DNS_SUBDOMAIN
from conveyor.api.ui import templating
from conveyor.api.ui.guard import PageCaller

router = APIRouter(include_in_schema=False)

LIMIT = 200
AppFilter = Annotated[str, Query(max_length=253)]


@router.get("/ui/pipelines")
async def pipelines(
    ctx: Ctx, caller: PageCaller, request: Request, app: AppFilter = ""
) -> Response:
    runs: list[dict[str, Any]] = []
    if ctx.ci_runs is not None:
        runs = await ctx.ci_runs.list(name=app or None, limit=LIMIT)
    return templating.page(
        request, "pipelines.html", caller, runs=[mask_document(r) for r in runs], app=app
    )


@router.get("/ui/pipelines/{run_id}")
async def pipeline_run(
    ctx: Ctx,
    caller: PageCaller,
    request: Request,
    run_id: Annotated[str, Path(max_length=100)],
) -> Response:
    run = await ctx.ci_runs.get(run_id) if ctx.ci_runs is not None else None
    if run is None:
        return templating.page(
            request, "error.html", caller, title="No such run",
            message=f"There is no CI run {run_id!r}.", back="/ui/pipelines", status_code=404,
        )  # fmt: skip
    return templating.page(request, "pipeline_run.html", caller, run=mask_document(run))


@router.get("/ui/deployments")
async def deployments(
    ctx: Ctx,
    caller: PageCaller,
    request: Request,
    app: Annotated[str, Query(max_length=253, pattern=f"^$|{DNS_SUBDOMAIN}")] = "",
) -> Response:
    records = await ctx.controller.repo.deployments(app=app or None, since=None, limit=LIMIT)
    items = [mask_document(r.to_dict()) for r in reversed(records)]
    return templating.page(request, "deployments.html", caller, deployments=items, app=app)
