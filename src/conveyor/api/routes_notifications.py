"""``/api/v1/notifications``: the outbox (pending, sent, dead letters) and the configuration.

``GET /api/v1/notifications`` lists what was triggered and what became of it (``?status=dead``
or ``?dead=true`` for the dead letters); ``GET .../config`` shows the configuration in force
with its warnings (service types, never option or secret values); ``POST .../config`` takes an
``argocd-notifications-cm`` (or ``argo-rollouts-notification-configmap``) ConfigMap or an
``argocd-notifications-secret`` Secret, as ``conveyor apply -f`` sends them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import DNS_SUBDOMAIN, JsonObject
from conveyor.errors import ConflictError
from conveyor.notify.service import NotificationService
from conveyor.store.notifications import DEAD

router = APIRouter(
    prefix="/api/v1/notifications", tags=["notifications"], responses=ERROR_RESPONSES
)


def _service(ctx: Ctx) -> NotificationService:
    if ctx.notifications is None:
        raise ConflictError("notifications are not running on this server")
    return ctx.notifications


@router.get("", summary="Notifications, newest first: pending, sent and dead-lettered")
async def list_notifications(
    ctx: Ctx,
    status: Annotated[
        Literal["pending", "sent", "dead"] | None, Query(description="Only this status.")
    ] = None,
    dead: Annotated[bool, Query(description="Only the dead letters (status=dead).")] = False,
    app: Annotated[
        str | None,
        Query(
            pattern=DNS_SUBDOMAIN,
            max_length=253,
            description="Only this app's (its Rollouts', too).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
) -> dict[str, Any]:
    service = _service(ctx)
    entries = await service.store.listing(
        status=DEAD if dead else status,
        app=app,
        limit=limit,
    )
    return {
        "items": [e.to_dict() for e in entries],
        "warnings": service.configuration()["warnings"],
    }


@router.get("/config", summary="The notification configuration in force, with its warnings")
async def get_config(ctx: Ctx) -> dict[str, Any]:
    return _service(ctx).configuration()


@router.post("/config", summary="Apply a notification ConfigMap or Secret")
async def apply_config(
    ctx: Ctx,
    manifest: Annotated[
        JsonObject,
        Body(description="ConfigMap argocd-notifications-cm, or Secret "
             "argocd-notifications-secret."),
    ],
) -> dict[str, Any]:  # fmt: skip
    name, created, warnings = await _service(ctx).apply(manifest)
    return {"name": name, "result": "created" if created else "configured", "warnings": warnings}
