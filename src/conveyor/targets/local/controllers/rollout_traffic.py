"""A canary's Services and traffic weights (Argo's reconcileStableAndCanaryService and
reconcileTrafficRouting).

The stable and canary Services get their ReplicaSet's hash injected into their selectors once
it has an available Pod. With ``trafficRouting`` (any router), the stable Service serves
exact weights between the stable and canary ReplicaSets: the weight of the last setWeight
reached (the previous one while the canary is not at its size), 100 after the last step, 0
on abort (stepped down with the stable's availability under dynamicStableScale) and once
fully promoted. The weights are recorded in ``status.canary.weights`` before they are served.
"""

from __future__ import annotations

from typing import Any

from conveyor.targets.local.controllers import rollout_replicas as counts
from conveyor.targets.local.controllers.rollout_context import Context
from conveyor.targets.local.controllers.rollout_types import HASH_LABEL


def services(ctx: Context) -> None:
    """reconcileStableAndCanaryService: inject each ReplicaSet's hash into its Service."""
    canary = counts.strategy(ctx)
    if canary.stable_service and ctx.stable is not None and ctx.stable.available_pods > 0:
        ctx.service_selectors[canary.stable_service] = ctx.stable.label(HASH_LABEL)
    elif canary.stable_service and ctx.stable is None and ctx.new is not None:
        ctx.service_selectors[canary.stable_service] = ctx.new.label(HASH_LABEL)
    new = ctx.new
    if canary.canary_service and new is not None and (new.available_pods > 0 or ctx.stable is None):
        ctx.service_selectors[canary.canary_service] = new.label(HASH_LABEL)


def desired_weight(ctx: Context) -> int:
    """The canary's traffic weight now (reconcileTrafficRouting)."""
    canary = counts.strategy(ctx)
    prev_weights = (ctx.prev.get("canary") or {}).get("weights") or {}
    prev_canary = int((prev_weights.get("canary") or {}).get("weight") or 0)
    fully_promoted = ctx.stable_hash == ctx.prev.get("currentPodHash")
    if fully_promoted or (ctx.stable is not None and ctx.stable is ctx.new):
        return 0
    if ctx.is_aborted():
        if not canary.dynamic_stable_scale or ctx.stable is None:
            return 0
        weight = 100 - (100 * ctx.stable.available_pods) // max(ctx.replicas, 1)
        return min(weight, prev_canary) if prev_weights else weight
    new = ctx.new
    if new is None or new.available_pods == 0:
        return 0
    if ctx.prev.get("promoteFull"):
        if canary.dynamic_stable_scale:
            return (100 * new.available_pods) // max(ctx.replicas, 1)
        return prev_canary
    index = counts.step_index(ctx)
    if index is None:
        return 0  # no steps: the weight moves only with the promotion
    steps = canary.steps or []
    if not counts.at_desired(ctx, None):
        for step in reversed(steps[:index]):
            if step.set_weight is not None:
                return step.set_weight
        return 0
    if index != len(steps):
        return counts.current_set_weight(ctx)
    return 100


def reconcile(ctx: Context) -> dict[str, Any] | None:
    """Exact weights for the stable Service (traffic routing only), and their status."""
    canary = counts.strategy(ctx)
    if canary.traffic_routing is None or not canary.stable_service:
        return None
    weight = desired_weight(ctx)
    stable_hash = ctx.stable.label(HASH_LABEL) if ctx.stable is not None else ""
    canary_hash = ctx.new.label(HASH_LABEL) if ctx.new is not None else ""
    back_to_stable = ctx.is_aborted() and (not canary.dynamic_stable_scale or weight == 0)
    if back_to_stable and canary.canary_service and ctx.stable is not None:
        ctx.service_selectors[canary.canary_service] = stable_hash
    weights = {
        "canary": {
            "podTemplateHash": canary_hash,
            "serviceName": canary.canary_service,
            "weight": weight,
        },
        "stable": {
            "podTemplateHash": stable_hash,
            "serviceName": canary.stable_service,
            "weight": 100 - weight,
        },
    }
    split: dict[str, int] = {stable_hash: 100 - weight} if stable_hash else {}
    if stable_hash and canary_hash:
        split[canary_hash] = split.get(canary_hash, 0) + weight
    if split:  # no stable yet (the first deploy): the Service balances over what it selects
        ctx.traffic[canary.stable_service] = split
    prev = (ctx.prev.get("canary") or {}).get("weights")
    if prev != weights:
        before = int(((prev or {}).get("canary") or {}).get("weight") or 0)
        detail = f"from {before} to {weight}" if prev else f"to {weight}"
        ctx.event("TrafficWeightUpdated", f"Traffic weight updated {detail}")
        if not prev:
            routers = ", ".join(sorted(canary.traffic_routing)) or "trafficRouting"
            ctx.event(
                "TrafficRoutingLocal",
                f"trafficRouting ({routers}) is served by the local runtime's proxy with exact"
                " weights",
            )
    return weights
