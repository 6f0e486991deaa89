"""``/api/v1/projects``: AppProjects, which decide what repos and destinations apps may use.

The built-in ``default`` project (everything permitted) is listed until one named
``default`` is stored. A project that apps still use cannot be deleted, as in Argo CD.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from conveyor.api.access import visible
from conveyor.api.auth import Caller
from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import JsonObject, ProjectName, manifest_name
from conveyor.errors import ConflictError, NotFoundError
from conveyor.model.appproject import default_project

router = APIRouter(prefix="/api/v1/projects", tags=["projects"], responses=ERROR_RESPONSES)

DEFAULT = "default"


async def _projects(ctx: Ctx) -> dict[str, dict[str, Any]]:
    stored = {p.name: p.manifest for p in await ctx.controller.repo.list_projects()}
    stored.setdefault(DEFAULT, default_project().to_manifest())
    return dict(sorted(stored.items()))


@router.get("", summary="List projects")
async def list_projects(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    projects = await _projects(ctx)
    return {"items": [p for name, p in projects.items() if visible(caller, "projects", name)]}


@router.post("", summary="Create or update a project")
async def apply_project(
    ctx: Ctx,
    manifest: Annotated[JsonObject, Body(description="An argoproj.io/v1alpha1 AppProject.")],
) -> dict[str, Any]:
    name = manifest_name(manifest)
    existing = (await _projects(ctx)).get(name) if name is not None else None
    result = await ctx.controller.apply_project(manifest)
    if existing is None:
        outcome = "created"
    else:
        outcome = "unchanged" if existing == result["project"] else "configured"
    return {"project": result["project"], "warnings": result["warnings"], "result": outcome}


@router.get("/{name}", summary="Get a project")
async def get_project(ctx: Ctx, name: ProjectName) -> dict[str, Any]:
    project = (await _projects(ctx)).get(name)
    if project is None:
        raise NotFoundError(f"project {name!r} not found")
    return project


@router.delete("/{name}", summary="Delete a project no app uses")
async def delete_project(ctx: Ctx, name: ProjectName) -> dict[str, Any]:
    users = [
        a["metadata"]["name"]
        for a in ctx.controller.applications()
        if ((a.get("spec") or {}).get("project") or DEFAULT) == name
    ]
    if users:
        raise ConflictError(f"project {name!r} is used by {', '.join(users)}: delete them first")
    if not await ctx.controller.delete_project(name):
        raise NotFoundError(f"project {name!r} not found")
    return {}
