"""``/api/v1/ci/runs``: CI runs, listed, read (with their logs) and submitted.

``conveyor ci run`` submits here when a server is running, so that the server's history sees
every run; the server runs the pipeline on its own machine (the repository path must be one
it can read) and records each stage as it ends. Submitting runs tools on the server, so it is
the admin's only (``conveyor.api.access``). ``writeBack`` names Applications of this server:
after publish, the tag is committed where their Image Updater annotations say.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from conveyor.api.context import ApiContext, Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.ci.results import CiRun
from conveyor.ci.runner import default_name, new_run_id, open_commit, run_pipeline
from conveyor.ci.writeback_stage import write_back_stage
from conveyor.clock import SystemClock, rfc3339
from conveyor.errors import NotFoundError, ValidationError
from conveyor.logging import get_logger
from conveyor.store.repocreds import RepoCredentialStore

router = APIRouter(prefix="/api/v1/ci", tags=["ci"], responses=ERROR_RESPONSES)
log = get_logger(component="ci")


class RunRequest(BaseModel):
    """A run to start: a git repository on the server's machine, at a revision."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=4096)
    revision: str = Field(default="HEAD", min_length=1, max_length=255)
    name: str | None = Field(default=None, max_length=200)
    write_back: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(
        default_factory=list, alias="writeBack", max_length=50
    )
    """Applications whose config gets the new tag after publish (their annotations say where)."""


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run without its stages' logs and findings (the list stays small)."""
    stages = [
        {k: v for k, v in stage.items() if k not in ("log", "findings")}
        for stage in run.get("stages", [])
    ]
    return {**run, "stages": stages}


def _runs(ctx: ApiContext) -> Any:
    if ctx.ci_runs is None:
        raise NotFoundError("this server keeps no CI runs")
    return ctx.ci_runs


@router.get("/runs", summary="CI runs, newest first")
async def list_runs(
    ctx: Ctx,
    name: Annotated[str | None, Query(max_length=200, description="Only this app's.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    items = await _runs(ctx).list(name=name, limit=limit)
    return {"items": [_summary(run) for run in items]}


@router.get("/runs/{run_id}", summary="One CI run, with each stage's findings and log")
async def get_run(ctx: Ctx, run_id: str) -> dict[str, Any]:
    run = await _runs(ctx).get(run_id)
    if run is None:
        raise NotFoundError(f"there is no CI run {run_id!r}: `conveyor ci runs` lists them")
    result: dict[str, Any] = run
    return result


@router.post("/runs", status_code=202, summary="Start a CI run on a repository of this machine")
async def start_run(ctx: Ctx, body: RunRequest) -> dict[str, Any]:
    store = _runs(ctx)
    path = Path(body.path)
    if not path.is_absolute():
        raise ValidationError("path must be absolute: the server resolves it on its own machine")
    repo, _, commit = await open_commit(path, body.revision)  # 404 / 400 now, not later
    hooks = (
        [
            write_back_stage(
                [ctx.controller.application(name) for name in body.write_back],
                credentials=RepoCredentialStore(ctx.settings.home).lookup,
            )
        ]
        if body.write_back
        else []
    )  # an unknown app is a 404, an app without write-back annotations a 400, both now
    run_id = new_run_id()
    first = CiRun(
        run_id, body.name or default_name(repo), str(repo), commit, rfc3339(SystemClock().now())
    )
    await store.save(first.to_dict())  # readable as soon as this answer arrives

    async def pipeline() -> None:
        try:
            await run_pipeline(
                path,
                store=ctx.artifacts,
                revision=body.revision,
                name=body.name,
                run_id=run_id,
                after_publish=hooks,
                on_update=lambda run: store.save(run.to_dict()),
            )
        except Exception as err:  # a stage's failure is in the run; this is anything else
            log.warning("ci run ended with an error", run=run_id, error=str(err))

    task = asyncio.create_task(pipeline(), name=f"ci-run-{run_id}")
    ctx.ci_tasks.add(task)
    task.add_done_callback(ctx.ci_tasks.discard)
    return {"id": run_id, "status": "running"}
