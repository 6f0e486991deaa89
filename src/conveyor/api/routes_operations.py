"""Operations on an application: sync, terminate, history and rollback.

A sync or rollback answers as soon as the operation is recorded and started (with the
Application, whose ``status.operationState`` is Running); clients follow it through ``GET``
or the stream, as Argo CD's do.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from conveyor.api.auth import Caller
from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import AppName, RollbackBody, SyncBody
from conveyor.errors import ConflictError, ValidationError
from conveyor.model.objects import ObjectKey
from conveyor.source import validate_revision

router = APIRouter(prefix="/api/v1/applications", tags=["operations"], responses=ERROR_RESPONSES)


@router.post("/{name}/sync", summary="Sync an application (start an operation)")
async def sync_application(
    ctx: Ctx,
    caller: Caller,
    name: AppName,
    body: Annotated[
        SyncBody | None, Body(description="Sync options; none for the defaults.")
    ] = None,
) -> dict[str, Any]:
    body = body or SyncBody()
    app = ctx.controller.application(name)  # 404 before judging the body
    if body.revision:
        validate_revision(body.revision)
    keys = [ObjectKey(r.group, r.kind, r.namespace, r.name) for r in body.resources]
    if keys:
        keys = _select(app, keys)
    await ctx.controller.sync(
        name,
        revision=body.revision or None,
        prune=body.prune,
        dry_run=body.dry_run,
        resources=keys or None,
        initiated_by=caller.name,
    )
    return ctx.controller.application(name)


def _select(app: dict[str, Any], keys: list[ObjectKey]) -> list[ObjectKey]:
    """The app's resources that ``keys`` name, as argocd's CLI resolves ``--resource``: an
    empty namespace matches any. One that names none of them would sync nothing and
    "succeed": refuse it with argocd's message."""
    known = [
        ObjectKey(
            str(r.get("group") or ""), str(r.get("kind")), str(r.get("namespace") or ""),
            str(r.get("name")),
        )
        for r in (app.get("status") or {}).get("resources") or []
    ]  # fmt: skip
    chosen = [
        res
        for res in known
        if any(
            (k.group, k.kind, k.name) == (res.group, res.kind, res.name)
            and (not k.namespace or k.namespace == res.namespace)
            for k in keys
        )
    ]
    if chosen:
        return chosen
    shown = ", ".join(
        f"{k.group}:{k.kind}:{k.namespace + '/' if k.namespace else ''}{k.name}" for k in keys
    )
    raise ValidationError(f"No matching app resources found for resource filter: {shown}")


@router.delete("/{name}/operation", summary="Terminate the running operation")
async def terminate_operation(ctx: Ctx, name: AppName) -> dict[str, Any]:
    if not await ctx.controller.terminate(name):
        raise ConflictError(f"no operation is in progress on {name!r}")
    return {"message": "operation terminated", "application": ctx.controller.application(name)}


@router.get("/{name}/history", summary="Deployment history, oldest first")
async def history(ctx: Ctx, name: AppName) -> dict[str, Any]:
    return {"items": await ctx.controller.history(name)}


@router.post("/{name}/rollback", summary="Sync to the revision of a history entry")
async def rollback(ctx: Ctx, caller: Caller, name: AppName, body: RollbackBody) -> dict[str, Any]:
    return await ctx.controller.rollback(name, body.id, initiated_by=caller.name)
