"""``/api/v1/applications``: create, read (with a refresh), replace, patch and delete apps.

Handlers are thin: validation is the model's (``conveyor.model`` via the controller) and
errors become HTTP answers in ``conveyor.api.errors``. Create and replace answer with the
stored manifest, its warnings (unknown fields, kept) and what happened (``created``,
``configured`` or ``unchanged``), as ``kubectl apply`` reports it.
"""

from __future__ import annotations

import copy
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from conveyor.api.access import app_object, enforce, visible
from conveyor.api.auth import Caller
from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.masking import restore_credentials
from conveyor.api.schemas import DNS_SUBDOMAIN, AppName, JsonObject, manifest_name
from conveyor.errors import TemporaryError, ValidationError
from conveyor.model.labelselectors import MAX_SELECTOR, parse_selector
from conveyor.model.merge import merge_patch
from conveyor.store import TokenInfo

router = APIRouter(prefix="/api/v1/applications", tags=["applications"], responses=ERROR_RESPONSES)

REFRESH_WAIT = 60.0
"""Longest a ``GET ?refresh=`` waits for the reconcile it asked for."""


class Refresh(StrEnum):
    normal = "normal"
    hard = "hard"


async def apply(
    ctx: Ctx, manifest: dict[str, Any], caller: TokenInfo, *, upsert: bool
) -> dict[str, Any]:
    """Create or update an Application; says whether it was created, configured or unchanged.

    The caller's role must allow it in the project the manifest names (as well as in the
    app's current one, which ``require_access`` checked), so no app moves out of reach.
    """
    name = manifest_name(manifest)
    before = None
    if name is not None and name in ctx.controller.names():
        before = ctx.controller.application(name)
        restore_credentials(manifest, before)
    action = "create" if before is None else "update"
    enforce(caller, "applications", action, app_object(manifest))
    result = await ctx.controller.apply_application(manifest, upsert=upsert)
    app = result["application"]
    if before is None:
        outcome = "created"
    else:
        stored = {k: v for k, v in before.items() if k != "status"}
        outcome = "unchanged" if stored == app else "configured"
    return {"application": app, "warnings": result["warnings"], "result": outcome}


@router.get("", summary="List applications")
async def list_applications(
    ctx: Ctx,
    caller: Caller,
    projects: Annotated[
        list[Annotated[str, Query(max_length=253, pattern=DNS_SUBDOMAIN)]] | None,
        Query(description="Only apps of these projects."),
    ] = None,
    selector: Annotated[
        str | None,
        Query(
            max_length=MAX_SELECTOR,
            description="Only apps whose labels match this selector (as `argocd app list -l`).",
        ),
    ] = None,
) -> dict[str, Any]:
    apps = [
        a for a in ctx.controller.applications() if visible(caller, "applications", app_object(a))
    ]
    if selector:
        wanted_labels = parse_selector(selector)
        apps = [a for a in apps if wanted_labels.matches((a.get("metadata") or {}).get("labels"))]
    if projects:
        wanted = set(projects)
        apps = [a for a in apps if (a.get("spec") or {}).get("project", "default") in wanted]
    return {"items": apps}


@router.post("", summary="Create an application (or update it with upsert=true)")
async def create_application(
    ctx: Ctx,
    caller: Caller,
    manifest: Annotated[JsonObject, Body(description="An argoproj.io/v1alpha1 Application.")],
    upsert: Annotated[bool, Query(description="Replace an existing app's spec.")] = False,
) -> dict[str, Any]:
    return await apply(ctx, manifest, caller, upsert=upsert)


@router.get("/{name}", summary="Get an application with its status")
async def get_application(
    ctx: Ctx,
    name: AppName,
    refresh: Annotated[
        Refresh | None,
        Query(
            description="Look the revision up again (normal) and render again (hard) first; "
            "503 with Retry-After when that reconcile does not end within 60 s."
        ),
    ] = None,
) -> dict[str, Any]:
    app = ctx.controller.application(name)
    if refresh is not None:
        done = ctx.controller.wait_reconciled(name, REFRESH_WAIT)
        ctx.controller.refresh(name, hard=refresh is Refresh.hard)
        if not await done:
            ctx.controller.application(name)  # 404 when it was deleted meanwhile
            raise TemporaryError(
                f"the refresh of {name!r} did not finish within {REFRESH_WAIT:.0f}s; "
                "try again, or read the app without refresh",
                delay=REFRESH_WAIT,
            )
        app = ctx.controller.application(name)
    return app


@router.put("/{name}", summary="Replace an application's manifest")
async def update_application(
    ctx: Ctx,
    caller: Caller,
    name: AppName,
    manifest: Annotated[JsonObject, Body(description="The whole Application.")],
) -> dict[str, Any]:
    if manifest_name(manifest) != name:
        raise ValidationError(f"metadata.name must be {name!r} (the name in the path)")
    ctx.controller.application(name)  # 404 if absent: PUT replaces, POST creates
    return await apply(ctx, manifest, caller, upsert=True)


@router.patch("/{name}", summary="Merge-patch an application's manifest (app set)")
async def patch_application(
    ctx: Ctx,
    caller: Caller,
    name: AppName,
    patch: Annotated[JsonObject, Body(description="An RFC 7386 JSON merge patch.")],
) -> dict[str, Any]:
    current = {k: v for k, v in ctx.controller.application(name).items() if k != "status"}
    merged = merge_patch(copy.deepcopy(current), patch)
    if not isinstance(merged, dict) or manifest_name(merged) != name:
        raise ValidationError("a patch cannot rename an application")
    return await apply(ctx, merged, caller, upsert=True)


@router.delete("/{name}", summary="Delete an application (and its live objects)")
async def delete_application(
    ctx: Ctx,
    name: AppName,
    cascade: Annotated[
        bool, Query(description="Delete the app's live objects too (the default).")
    ] = True,
) -> dict[str, Any]:
    await ctx.controller.delete_application(name, cascade=cascade)  # the stream hears it
    return {}
