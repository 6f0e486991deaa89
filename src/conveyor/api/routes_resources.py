"""An application's resources: manifests, diff, resource tree, events and live patches.

All read from what the controller already holds (``conveyor.engine.views``), Secret values
masked. ``POST .../resource`` patches a live object, as ``argocd app patch-resource`` does:
with selfHeal on, the controller then puts it back as Git says. ``subresource=status``
patches its status instead, as Argo CD's resource actions do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import DNS_LABEL, GROUP, K8S_NAME, REVISION_MAX, AppName
from conveyor.engine import views
from conveyor.engine.fleet import owner
from conveyor.errors import ValidationError
from conveyor.model.objects import ObjectKey
from conveyor.source import validate_revision
from conveyor.targets.protocol import Selector

router = APIRouter(prefix="/api/v1/applications", tags=["resources"], responses=ERROR_RESPONSES)

MAX_LOCAL_OBJECTS = 10_000

Kind = Annotated[str, Query(min_length=1, max_length=63, pattern=K8S_NAME)]
ResourceName = Annotated[
    str, Query(alias="resourceName", min_length=1, max_length=253, pattern=K8S_NAME)
]
Namespace = Annotated[str | None, Query(max_length=63, pattern=DNS_LABEL)]
Group = Annotated[str | None, Query(max_length=253, pattern=GROUP)]


class ManifestSource(StrEnum):
    git = "git"
    live = "live"


class PatchType(StrEnum):
    merge = views.MERGE_PATCH
    json = views.JSON_PATCH


class Subresource(StrEnum):
    status = "status"


@router.get("/{name}/manifests", summary="The app's objects as Git renders them, or live")
async def manifests(
    ctx: Ctx,
    name: AppName,
    source: Annotated[ManifestSource, Query(description="git (rendered) or live.")] = (
        ManifestSource.git
    ),
) -> dict[str, Any]:
    objects = views.manifests(ctx.controller, name, source=str(source))
    revision = ((ctx.controller.application(name).get("status") or {}).get("sync") or {}).get(
        "revision", ""
    )
    return {"manifests": objects, "source": str(source), "revision": revision}


@router.get("/{name}/diff", summary="Per resource: sync status and a unified diff, masked")
async def diff(
    ctx: Ctx,
    name: AppName,
    revision: Annotated[
        str | None,
        Query(max_length=REVISION_MAX, description="Compare with this revision instead."),
    ] = None,
) -> dict[str, Any]:
    ctx.controller.application(name)
    if revision:
        validate_revision(revision)
        return await views.diff_at(ctx.controller, name, revision)
    return views.diff(ctx.controller, name)


@router.post("/{name}/diff", summary="Diff the live state against manifests rendered elsewhere")
async def diff_local(
    ctx: Ctx,
    name: AppName,
    body: Annotated[
        dict[str, Any], Body(description='`{"manifests": [object...]}`, as `app diff --local`.')
    ],
) -> dict[str, Any]:
    ctx.controller.application(name)
    objects = body.get("manifests")
    if not isinstance(objects, list) or len(objects) > MAX_LOCAL_OBJECTS:
        raise ValidationError(f"manifests: a list of at most {MAX_LOCAL_OBJECTS} objects")
    return await views.diff_local(ctx.controller, name, objects)


@router.get("/{name}/orphaned", summary="Objects in the app's namespace that no app tracks")
async def orphaned(ctx: Ctx, name: AppName) -> dict[str, Any]:
    ctx.controller.application(name)
    objects = await owner(ctx.controller, name).target.list(Selector())
    return {"items": views.orphaned(ctx.controller, objects, name)}


@router.delete("/{name}/resource", summary="Delete a live object of the app")
async def delete_resource(
    ctx: Ctx,
    name: AppName,
    kind: Kind,
    resource_name: ResourceName,
    namespace: Namespace = None,
    group: Group = None,
) -> dict[str, Any]:
    obj = views.find_resource(
        ctx.controller, name, kind=kind, resource_name=resource_name,
        namespace=namespace, group=group,
    )  # fmt: skip
    key = ObjectKey.of(obj)
    await owner(ctx.controller, name).target.delete(key)
    return {"deleted": {"group": key.group, "kind": key.kind, "namespace": key.namespace,
                        "name": key.name}}  # fmt: skip


@router.get("/{name}/resource-tree", summary="The app's objects and what they own")
async def resource_tree(ctx: Ctx, name: AppName) -> dict[str, Any]:
    ctx.controller.application(name)
    return views.resource_tree(ctx.controller, name)


@router.get("/{name}/events", summary="Events about the app's objects")
async def events(
    ctx: Ctx,
    name: AppName,
    resource_name: Annotated[
        str | None, Query(alias="resourceName", max_length=253, pattern=K8S_NAME)
    ] = None,
    resource_namespace: Annotated[
        str | None, Query(alias="resourceNamespace", max_length=63, pattern=DNS_LABEL)
    ] = None,
    kind: Annotated[str | None, Query(max_length=63, pattern=K8S_NAME)] = None,
) -> dict[str, Any]:
    ctx.controller.application(name)
    wanted = {
        (n["kind"], n["namespace"], n["name"])
        for n in views.resource_tree(ctx.controller, name)["nodes"]
        if (resource_name is None or n["name"] == resource_name)
        and (resource_namespace is None or n["namespace"] == resource_namespace)
        and (kind is None or n["kind"] == kind)
    }
    return {
        "items": [
            e.to_dict()
            for e in await owner(ctx.controller, name).target.events(None)
            if (e.involved.kind, e.involved.namespace, e.involved.name) in wanted
        ]
    }


@router.post("/{name}/resource", summary="Patch a live object of the app")
async def patch_resource(
    ctx: Ctx,
    name: AppName,
    kind: Kind,
    resource_name: ResourceName,
    patch: Annotated[
        dict[str, Any] | list[Any],
        Body(description="A merge patch (object) or a JSON patch (array of operations)."),
    ],
    namespace: Namespace = None,
    group: Group = None,
    patch_type: Annotated[PatchType, Query(alias="patchType")] = PatchType.merge,
    subresource: Annotated[
        Subresource | None,
        Query(description="status: patch only the status (as resource actions do)."),
    ] = None,
) -> dict[str, Any]:
    ctx.controller.application(name)
    result = await views.patch_resource(
        ctx.controller,
        name,
        kind=kind,
        resource_name=resource_name,
        patch=patch,
        patch_type=str(patch_type),
        namespace=namespace,
        group=group,
        subresource=str(subresource) if subresource is not None else None,
    )
    return {"manifest": result}
