"""Argo Rollouts' own API paths (its dashboard's ``RolloutService``) on ``conveyor server``.

``GET /api/v1/rollouts/{namespace}/info`` lists ``RolloutInfo`` values, ``.../{name}/info``
gives one, and ``/info/watch`` streams them as server-sent events in grpc-gateway's shape
(``{"result": ...}`` per ``data:`` line), redrawn from the live state as it changes. The
actions are ``PUT``, as Argo's: promote (``{"full": true}`` for --full), abort, retry,
restart, pause, resume, ``set/{container}/{image}`` and ``undo/{revision}``; each answers
the Rollout as stored after it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.responses import StreamingResponse

from conveyor.api import rollout_info, rollout_ops
from conveyor.api.access import app_object, visible
from conveyor.api.auth import Caller
from conveyor.api.context import ApiContext, Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.masking import mask_document
from conveyor.api.schemas import DNS_LABEL, K8S_NAME
from conveyor.engine.controller import Controller
from conveyor.engine.livestate import app_of
from conveyor.errors import NotFoundError
from conveyor.model import rollout_edits
from conveyor.model.objects import Object
from conveyor.model.rollout_actions import ActionRefused
from conveyor.store import TokenInfo
from conveyor.targets.protocol import Selector

router = APIRouter(prefix="/api/v1/rollouts", tags=["rollouts"], responses=ERROR_RESPONSES)

KEEPALIVE = 15.0

Namespace = Annotated[str, Path(max_length=63, pattern=DNS_LABEL)]
Name = Annotated[str, Path(max_length=253, pattern=K8S_NAME)]
Container = Annotated[str, Path(max_length=253, pattern=r"^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$")]
Image = Annotated[str, Path(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9][\w.:/@-]*$")]
SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}


def _visible(controller: Controller, caller: TokenInfo, rollout: Object) -> bool:
    app = app_of(rollout)
    if app is None:
        return visible(caller, "applications", "default/")
    try:
        return visible(caller, "applications", app_object(controller.application(app)))
    except NotFoundError:
        return visible(caller, "applications", f"/{app}")


async def _rollouts(controller: Controller, namespace: str) -> list[Object]:
    found = await controller.target.list(Selector(kind="Rollout", namespace=namespace))
    return [r for r in found if str(r.get("apiVersion", "")).startswith("argoproj.io/")]


def _masked(doc: dict[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = mask_document(doc)
    return masked


def _info(controller: Controller, rollout: Object) -> dict[str, Any]:
    return _masked(rollout_info.info(rollout, controller.live.children))


def _frame(doc: dict[str, Any]) -> str:
    return f"data: {json.dumps(doc, default=str, separators=(',', ':'))}\n\n"


def _stream(body: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{namespace}/info", summary="Every Rollout of a namespace, as RolloutInfo")
async def list_infos(ctx: Ctx, caller: Caller, namespace: Namespace) -> dict[str, Any]:
    found = await _rollouts(ctx.controller, namespace)
    return {
        "rollouts": [_info(ctx.controller, r) for r in found if _visible(ctx.controller, caller, r)]
    }


async def _watch_all(ctx: ApiContext, caller: TokenInfo, namespace: str) -> AsyncIterator[str]:
    shown: dict[str, dict[str, Any]] = {}
    while not ctx.stopping.is_set():
        current = {
            str(r["metadata"]["name"]): _info(ctx.controller, r)
            for r in await _rollouts(ctx.controller, namespace)
            if _visible(ctx.controller, caller, r)
        }
        for name, doc in current.items():
            if shown.get(name) != doc:
                kind = "MODIFIED" if name in shown else "ADDED"
                yield _frame({"result": {"type": kind, "rolloutInfo": doc}})
        for name in shown.keys() - current.keys():
            yield _frame({"result": {"type": "DELETED", "rolloutInfo": shown[name]}})
        if shown == current:
            yield ": keepalive\n\n"
        shown = current
        await _changed(ctx)


async def _changed(ctx: ApiContext) -> None:
    """Until the live state changes, the server stops, or KEEPALIVE passes."""
    change = asyncio.ensure_future(ctx.controller.live.wait_for_change(KEEPALIVE))
    stop = asyncio.ensure_future(ctx.stopping.wait())
    _, pending = await asyncio.wait({change, stop}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()


@router.get(
    "/{namespace}/info/watch",
    summary="Rollouts of a namespace as server-sent events",
    response_class=StreamingResponse,
    responses=SSE,
)
async def watch_infos(ctx: Ctx, caller: Caller, namespace: Namespace) -> StreamingResponse:
    return _stream(_watch_all(ctx, caller, namespace))


@router.get("/{namespace}/{name}/info", summary="One Rollout, as RolloutInfo")
async def get_info(ctx: Ctx, namespace: Namespace, name: Name) -> dict[str, Any]:
    rollout = await rollout_ops.live_rollout(
        ctx.controller, rollout_ops.rollout_key(namespace, name)
    )
    return _info(ctx.controller, rollout)


async def _watch_one(ctx: ApiContext, namespace: str, name: str) -> AsyncIterator[str]:
    key = rollout_ops.rollout_key(namespace, name)
    shown: dict[str, Any] | None = None
    while not ctx.stopping.is_set():
        rollout = ctx.controller.live.get(key) or await ctx.controller.target.get(key)
        if rollout is None:
            return
        doc = _info(ctx.controller, rollout)
        yield _frame({"result": doc}) if doc != shown else ": keepalive\n\n"
        shown = doc
        await _changed(ctx)


@router.get(
    "/{namespace}/{name}/info/watch",
    summary="One Rollout as server-sent events, redrawn as it changes",
    response_class=StreamingResponse,
    responses=SSE,
)
async def watch_info(ctx: Ctx, namespace: Namespace, name: Name) -> StreamingResponse:
    await rollout_ops.live_rollout(ctx.controller, rollout_ops.rollout_key(namespace, name))
    return _stream(_watch_one(ctx, namespace, name))


async def _act(ctx: ApiContext, namespace: str, name: str, action: str) -> Object:
    key = rollout_ops.rollout_key(namespace, name)
    return _masked(await rollout_ops.run_action(ctx.controller, key, action))


@router.put("/{namespace}/{name}/promote", summary="Promote (full: skip every step)")
async def promote(
    ctx: Ctx,
    namespace: Namespace,
    name: Name,
    body: Annotated[dict[str, Any] | None, Body(description='`{"full": true}`: --full.')] = None,
) -> Object:
    full = bool((body or {}).get("full"))
    return await _act(ctx, namespace, name, "promote-full" if full else "promote")


def _simple(action: str, summary: str) -> None:
    async def handler(ctx: Ctx, namespace: Namespace, name: Name) -> Object:
        return await _act(ctx, namespace, name, action)

    handler.__name__ = f"{action}_rollout"
    router.put(f"/{{namespace}}/{{name}}/{action}", summary=summary)(handler)


_simple("abort", "Abort the update: all traffic back to stable")
_simple("retry", "Retry an aborted update from its first step")
_simple("restart", "Replace every Pod, a few at a time")
_simple("pause", "Hold the Rollout where it is")
_simple("resume", "Resume a paused Rollout")


@router.put("/{namespace}/{rollout}/set/{container}/{image:path}", summary="Set an image")
async def set_image(
    ctx: Ctx, namespace: Namespace, rollout: Name, container: Container, image: Image
) -> Object:
    key = rollout_ops.rollout_key(namespace, rollout)
    live = await rollout_ops.live_rollout(ctx.controller, key)
    try:
        patch = rollout_edits.set_image(live, container, image)
    except ActionRefused as err:
        raise NotFoundError(f"rollout {rollout!r}: {err}") from err
    return _masked(await rollout_ops.apply_patch(ctx.controller, key, patch))


@router.put("/{namespace}/{rollout}/undo/{revision}", summary="Go back to a revision (0: previous)")
async def undo(
    ctx: Ctx, namespace: Namespace, rollout: Name, revision: Annotated[int, Path(ge=0)]
) -> Object:
    key = rollout_ops.rollout_key(namespace, rollout)
    live = await rollout_ops.live_rollout(ctx.controller, key)
    owned = [o for o in ctx.controller.live.children(live) if o.get("kind") == "ReplicaSet"]
    try:
        patch = rollout_edits.undo(live, owned, revision)
    except ActionRefused as err:
        raise rollout_ops.refused(rollout, err) from err
    return _masked(await rollout_ops.apply_patch(ctx.controller, key, patch))
