"""``/api/v1/clusters``: the destinations apps may deploy to (for now, the local runtime).

Shaped as Argo CD's cluster list, so scripts reading ``server``, ``name`` and
``connectionState.status`` work unchanged.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1/clusters", tags=["clusters"], responses=ERROR_RESPONSES)

IN_CLUSTER = "https://kubernetes.default.svc"


@router.get("", summary="List clusters")
async def list_clusters(ctx: Ctx) -> dict[str, Any]:
    problems = ctx.controller.target.conditions()
    status = "Failed" if problems else "Successful"
    message = "; ".join(f"{c.type}: {c.message}" for c in problems)
    cluster = {
        "server": IN_CLUSTER,
        "name": "in-cluster",
        "serverVersion": "local-runtime",
        "connectionState": {"status": status, "message": message},
        "info": {"applicationsCount": len(ctx.controller.names())},
    }
    return {"items": [cluster]}
