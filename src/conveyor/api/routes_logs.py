"""``GET /applications/{name}/logs``: Pod logs as a plain-text stream, as kubectl shows them.

Which Pods: the one named by ``podName``, those under a resource (``kind`` and
``resourceName``, e.g. a Deployment), or every Pod of the app. With several Pods each line is
prefixed by its Pod's name. Everything that can be wrong (no such Pod, no such container) is
checked before the first byte is sent, so errors are proper 4xx answers, never a cut stream.
With ``follow`` the stream lasts until the Pods end, the client goes away or the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from conveyor.api.context import ApiContext, Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import DNS_LABEL, GROUP, K8S_NAME, AppName
from conveyor.engine import views
from conveyor.errors import NotFoundError, ValidationError
from conveyor.model.objects import ObjectKey
from conveyor.targets.protocol import LogOptions

router = APIRouter(prefix="/api/v1/applications", tags=["resources"], responses=ERROR_RESPONSES)


def _descendants(nodes: list[dict[str, Any]], roots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    uids = {n["uid"] for n in roots}
    found = list(roots)
    changed = True
    while changed:
        changed = False
        for node in nodes:
            parents = {p.get("uid") for p in node.get("parentRefs", [])}
            if node["uid"] not in uids and parents & uids:
                uids.add(node["uid"])
                found.append(node)
                changed = True
    return found


def select_pods(
    ctx: ApiContext,
    name: str,
    *,
    pod: str | None,
    kind: str | None,
    resource_name: str | None,
    namespace: str | None,
    group: str | None,
) -> list[dict[str, Any]]:
    nodes = views.resource_tree(ctx.controller, name)["nodes"]
    if namespace is not None:
        nodes_in_ns = [n for n in nodes if n["namespace"] == namespace]
    else:
        nodes_in_ns = nodes
    if pod is not None:
        chosen = [n for n in nodes_in_ns if n["kind"] == "Pod" and n["name"] == pod]
        what = f"Pod {pod!r}"
    elif kind is not None or resource_name is not None:
        if kind is None or resource_name is None:
            raise ValidationError("give both kind and resourceName, or podName")
        roots = [
            n for n in nodes_in_ns
            if n["kind"] == kind and n["name"] == resource_name
            and (group is None or n["group"] == group)
        ]  # fmt: skip
        chosen = [n for n in _descendants(nodes, roots) if n["kind"] == "Pod"]
        what = f"Pods under {kind} {resource_name!r}"
    else:
        chosen = [n for n in nodes_in_ns if n["kind"] == "Pod"]
        what = "Pods"
    if not chosen:
        raise NotFoundError(f"application {name!r} has no {what}")
    return chosen


def _check_container(ctx: ApiContext, node: dict[str, Any], container: str | None) -> None:
    if container is None:
        return
    obj = ctx.controller.live.get(ObjectKey("", "Pod", node["namespace"], node["name"])) or {}
    spec = obj.get("spec") or {}
    names = [
        str(c.get("name"))
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])
    ]
    if container not in names:
        raise NotFoundError(
            f"Pod {node['name']!r} has no container {container!r} (it has: {', '.join(names)})"
        )


async def _one(
    ctx: ApiContext, node: dict[str, Any], options: LogOptions, prefix: str
) -> AsyncIterator[str]:
    with contextlib.suppress(NotFoundError):  # the Pod went away while we read
        async for line in ctx.controller.target.logs(node["namespace"], node["name"], options):
            yield f"{prefix}{line}\n"


async def follow_lines(
    ctx: ApiContext, pods: list[dict[str, Any]], options: LogOptions, prefixed: bool
) -> AsyncIterator[str]:
    """Lines of every Pod as they come, until all end or the server stops."""
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=1000)

    async def pump(node: dict[str, Any]) -> None:
        try:
            async for line in _one(ctx, node, options, f"{node['name']}: " if prefixed else ""):
                await queue.put(line)
        finally:
            await queue.put(None)

    tasks: list[asyncio.Task[Any]] = [asyncio.create_task(pump(n)) for n in pods]
    stopping = asyncio.create_task(ctx.stopping.wait())
    tasks.append(stopping)
    try:
        remaining = len(pods)
        while remaining:
            getter = asyncio.create_task(queue.get())
            tasks.append(getter)
            done, _ = await asyncio.wait({getter, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                return
            tasks.remove(getter)
            item = getter.result()
            if item is None:
                remaining -= 1
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()


@router.get(
    "/{name}/logs",
    summary="Pod logs (text/plain, streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def logs(
    ctx: Ctx,
    name: AppName,
    pod_name: Annotated[
        str | None, Query(alias="podName", max_length=253, pattern=K8S_NAME)
    ] = None,
    kind: Annotated[str | None, Query(max_length=63, pattern=K8S_NAME)] = None,
    resource_name: Annotated[
        str | None, Query(alias="resourceName", max_length=253, pattern=K8S_NAME)
    ] = None,
    namespace: Annotated[str | None, Query(max_length=63, pattern=DNS_LABEL)] = None,
    group: Annotated[str | None, Query(max_length=253, pattern=GROUP)] = None,
    container: Annotated[str | None, Query(max_length=63, pattern=DNS_LABEL)] = None,
    tail_lines: Annotated[int | None, Query(alias="tailLines", ge=0, le=100_000)] = None,
    previous: bool = False,
    follow: bool = False,
) -> StreamingResponse:
    ctx.controller.application(name)
    pods = select_pods(
        ctx, name, pod=pod_name, kind=kind, resource_name=resource_name,
        namespace=namespace, group=group,
    )  # fmt: skip
    for node in pods:
        _check_container(ctx, node, container)
    options = LogOptions(
        container=container, tail_lines=tail_lines, previous=previous, follow=follow
    )
    prefixed = len(pods) > 1

    async def sequential() -> AsyncIterator[str]:
        for node in pods:
            async for line in _one(ctx, node, options, f"{node['name']}: " if prefixed else ""):
                yield line

    body = follow_lines(ctx, pods, options, prefixed) if follow else sequential()
    return StreamingResponse(body, media_type="text/plain; charset=utf-8")
