"""``/api/v1/clusters``: the destinations apps may deploy to (``argocd cluster list|add|rm``).

Shaped as Argo CD's cluster list, so scripts reading ``server``, ``name`` and
``connectionState.status`` work unchanged. The local runtime is listed as Argo CD's
in-cluster destination unless a cluster is registered under that URL. Registered clusters'
credentials are stored encrypted (``store.clustercreds``); no answer carries them. The
clusters this server deploys to show their targets' conditions (``engine.fleet``: without
CONVEYOR_CLUSTER, every added cluster, connected within seconds of ``cluster add``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import URL_MAX, ClusterBody
from conveyor.bootstrap import selected_cluster
from conveyor.engine.fleet import Fleet
from conveyor.store.clustercreds import ClusterStore
from conveyor.targets.kubernetes.credentials import (
    IN_CLUSTER_NAME,
    IN_CLUSTER_SERVER,
    ClusterCredentials,
    check_config,
)
from conveyor.targets.protocol import TargetCondition

router = APIRouter(prefix="/api/v1/clusters", tags=["clusters"], responses=ERROR_RESPONSES)

IN_CLUSTER = IN_CLUSTER_SERVER


def _store(ctx: Ctx) -> ClusterStore:
    return ClusterStore(ctx.settings.home)


@router.get("", summary="List clusters (never their credentials)")
async def list_clusters(ctx: Ctx) -> dict[str, Any]:
    fleet = ctx.controller if isinstance(ctx.controller, Fleet) else None
    primary = fleet.members[fleet.primary] if fleet is not None else ctx.controller
    used_state = _connection(primary.target.conditions())
    serving = selected_cluster(ctx.settings)
    apps = {"applicationsCount": len(primary.names())}
    registered = _store(ctx).list()
    items: list[dict[str, Any]] = []
    if serving is None and not any(c.server == IN_CLUSTER for c in registered):
        items.append({
            "server": IN_CLUSTER, "name": IN_CLUSTER_NAME, "serverVersion": "local-runtime",
            "connectionState": used_state, "info": apps,
        })  # fmt: skip
    if serving is not None and serving not in registered:
        registered = [serving, *registered]
    for cluster in registered:
        member = fleet.members.get(cluster.server.rstrip("/")) if fleet is not None else None
        if serving is not None and cluster.server == serving.server:
            state, info = used_state, apps
        elif member is not None:
            state = _connection(member.target.conditions())
            info = {"applicationsCount": len(member.names())}
        else:
            state, info = {"status": "Unknown", "message": _unused(ctx)}, {}
        items.append({**cluster.public(), "connectionState": state, "info": info})
    return {"items": items}


def _connection(problems: list[TargetCondition]) -> dict[str, str]:
    return {
        "status": "Failed" if problems else "Successful",
        "message": "; ".join(f"{c.type}: {c.message}" for c in problems),
    }


def _unused(ctx: Ctx) -> str:
    if ctx.settings.cluster:
        return "not the cluster this server deploys to"
    return "not connected yet, or unreachable: the server tries it again every few seconds"


@router.post("", summary="Add a cluster and its credentials")
async def add_cluster(
    ctx: Ctx,
    body: ClusterBody,
    upsert: Annotated[bool, Query(description="Replace an existing entry.")] = False,
) -> dict[str, Any]:
    check_config(body.config, f"cluster {body.name}")
    cluster = ClusterCredentials(
        name=body.name, server=body.server.rstrip("/"), config=body.config,
        namespace=body.namespace,
    )  # fmt: skip
    result = _store(ctx).add(cluster, upsert=upsert)
    return {"cluster": cluster.public(), "result": result}


@router.delete("", summary="Remove a cluster and its credentials")
async def remove_cluster(
    ctx: Ctx, cluster: Annotated[str, Query(min_length=1, max_length=URL_MAX)]
) -> dict[str, Any]:
    gone = _store(ctx).remove(cluster)
    return {"cluster": gone.public()}
