"""How many Pods a canary's new and stable ReplicaSets should have (utils/replicaset/canary.go).

Without traffic routing the weight is approximated by replica counts, within maxSurge and
maxUnavailable, the stable side scaled first; with traffic routing the router holds the
weight exactly, the stable stays full (or follows the traffic with dynamicStableScale) and
the canary gets the share of replicas its weight (or setCanaryScale) asks for.
"""

from __future__ import annotations

import math
from typing import Any

from conveyor.model.rollout import DEFAULT_MAX_SURGE, DEFAULT_MAX_UNAVAILABLE, CanaryStrategy
from conveyor.model.rollout import SetCanaryScale as SetCanaryScaleStep
from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers.replicasets import RSView
from conveyor.targets.local.controllers.rollout_context import Context


def strategy(ctx: Context) -> CanaryStrategy:
    canary = ctx.ro.canary
    assert canary is not None
    return canary


def step_index(ctx: Context) -> int | None:
    """status.currentStepIndex (0 when steps exist and none is recorded)."""
    steps = strategy(ctx).steps or []
    if not steps:
        return None
    index = ctx.prev.get("currentStepIndex")
    return index if isinstance(index, int) and index >= 0 else 0


def current_step_index(ctx: Context) -> int | None:
    """The index of the step being executed, None once all are done (or there are none)."""
    index = step_index(ctx)
    steps = strategy(ctx).steps or []
    return index if index is not None and index < len(steps) else None


def current_set_weight(ctx: Context) -> int:
    """GetCurrentSetWeight: the last setWeight at or before the current step (0 aborted)."""
    if ctx.is_aborted():
        return 0
    index = current_step_index(ctx)
    if index is None:
        return 100
    steps = strategy(ctx).steps or []
    for step in reversed(steps[: index + 1]):
        if step.set_weight is not None:
            return step.set_weight
    return 0


def set_canary_scale(ctx: Context) -> SetCanaryScaleStep | None:
    """UseSetCanaryScale: the setCanaryScale in force (traffic-routed canaries only)."""
    canary = strategy(ctx)
    if canary.traffic_routing is None:
        return None
    if ctx.is_aborted() and canary.abort_scale_down_delay() is not None:
        return None
    index = current_step_index(ctx)
    if index is None:
        return None
    for step in reversed((canary.steps or [])[: index + 1]):
        if step.set_canary_scale is None:
            continue
        return None if step.set_canary_scale.match_traffic_weight else step.set_canary_scale
    return None


def replicas_or_weight(ctx: Context) -> tuple[int | None, int]:
    """GetCanaryReplicasOrWeight: a fixed canary size, or the weight to approximate."""
    if (
        ctx.prev.get("promoteFull")
        or not ctx.stable_hash
        or ctx.prev.get("currentPodHash") == ctx.stable_hash
    ):
        return None, 100
    scs = set_canary_scale(ctx)
    if scs is not None:
        if scs.replicas is not None:
            return scs.replicas, 0
        if scs.weight is not None:
            return None, scs.weight
    return None, current_set_weight(ctx)


def _fencepost(value: Any, default: str, replicas: int, *, round_up: bool) -> int:
    try:
        return c.scaled_value(value if value is not None else default, replicas, round_up=round_up)
    except ValueError:
        return c.scaled_value(default, replicas, round_up=round_up)


def max_surge(ctx: Context) -> int:
    return _fencepost(strategy(ctx).max_surge, DEFAULT_MAX_SURGE, ctx.replicas, round_up=True)


def max_unavailable(ctx: Context) -> int:
    canary = strategy(ctx)
    unavailable = _fencepost(
        canary.max_unavailable, DEFAULT_MAX_UNAVAILABLE, ctx.replicas, round_up=False
    )
    if max_surge(ctx) == 0 and unavailable == 0:
        unavailable = 1
    return min(unavailable, ctx.replicas)


def approximate(replicas: int, weight: int, surge: int) -> tuple[int, int]:
    """approximateWeightedCanaryStableReplicaCounts: the closest (canary, stable) split."""
    if replicas == 0:
        return 0, 0
    ceil = math.ceil(replicas * weight / 100)
    floor = math.floor(replicas * weight / 100)
    zero_allowed = weight in (0, 100) or (replicas == 1 and surge == 0)
    options: list[tuple[int, int]] = []
    if ceil < replicas or zero_allowed:
        options.append((ceil, replicas))
    if not _tied(weight, replicas) and (floor != 0 or zero_allowed):
        options.append((floor, replicas))
    if surge > 0:
        options.append((ceil, replicas + 1))
        if not _tied(weight, replicas + 1) and (floor != 0 or zero_allowed):
            options.append((floor, replicas + 1))
    if not options:
        return 0, replicas
    best = min(options, key=lambda o: abs(o[0] * 100 / o[1] - weight))
    # min keeps the first of equals, as Argo's strict less-than does
    return best[0], best[1] - best[0]


def _tied(weight: int, total: int) -> bool:
    frac = total * weight / 100 - math.floor(total * weight / 100)
    return frac == 0.5


def _for_scale_down(ctx: Context, rs: RSView | None, ignore_availability: bool) -> int:
    if rs is None:
        return 0
    spec = ctx.spec_replicas(rs)
    if spec < rs.available_pods or ignore_availability:
        return spec
    return rs.available_pods


def basic_counts(ctx: Context) -> tuple[int, int]:
    """CalculateReplicaCountsForBasicCanary: (new, stable) replicas for this reconcile."""
    replicas = ctx.replicas
    _, weight = replicas_or_weight(ctx)
    surge = max_surge(ctx)
    want_new, want_stable = approximate(replicas, weight, surge)
    new, stable = ctx.new, ctx.stable
    new_count = ctx.spec_replicas(new)
    scale_stable = ctx.stable_differs
    stable_count = ctx.spec_replicas(stable) if scale_stable else 0
    if not scale_stable:
        want_new, want_stable = replicas, 0
    others = [rs for rs in ctx.all if rs is not new and rs is not stable]
    total = sum(ctx.spec_replicas(rs) for rs in others) + new_count + stable_count
    scale_up = replicas + surge - total
    if scale_stable and stable_count < want_stable and scale_up > 0:
        grown = min(want_stable, stable_count + scale_up)
        scale_up -= grown - stable_count
        stable_count = grown
    if new is not None and new_count < want_new and scale_up > 0:
        new_count = min(want_new, new_count + scale_up)
    if sum(ctx.spec_replicas(rs) for rs in others) > 0:
        return new_count, stable_count  # older ReplicaSets go down first
    min_available = replicas - max_unavailable(ctx)
    increasing = new is None or want_new >= ctx.spec_replicas(new)
    to_scale_down = _for_scale_down(ctx, new, not increasing) + _for_scale_down(
        ctx, stable if scale_stable else None, increasing
    )
    if to_scale_down <= min_available:
        return new_count, stable_count
    budget = to_scale_down - min_available
    max_total = replicas + surge
    if not increasing and new is not None:
        if ctx.spec_replicas(new) > want_new:
            new_count = max(want_new, ctx.spec_replicas(new) - budget)
        new_count, stable_count = _within_limits(
            new, stable, new_count, stable_count, max_total, min_available
        )
    elif scale_stable and stable is not None:
        if ctx.spec_replicas(stable) > want_stable:
            stable_count = max(want_stable, ctx.spec_replicas(stable) - budget)
        stable_count, new_count = _within_limits(
            stable, new, stable_count, new_count, max_total, min_available
        )
    return new_count, stable_count


def _within_limits(
    drain: RSView | None,
    adjust: RSView | None,
    drain_count: int,
    adjust_count: int,
    max_total: int,
    min_available: int,
) -> tuple[int, int]:
    """adjustReplicaWithinLimits: keep the pair within maxSurge and maxUnavailable."""
    over = max(0, adjust_count + drain_count - max_total)
    available = min(drain.available_pods, drain_count) if drain is not None else 0
    if adjust is not None:
        adjust_count -= over
        available += min(adjust.available_pods, adjust_count)
        extra = max(0, adjust.available_pods - adjust_count)
        adjust_count += min(extra, max(0, min_available - available))
        drain_count -= max(0, adjust_count + drain_count - max_total)
    return drain_count, adjust_count


def _to_replicas(replicas: int, weight: int) -> int:
    return math.ceil(weight * replicas / 100)


def _min_pods(ctx: Context, count: int) -> int:
    floor = strategy(ctx).min_pods_per_replica_set
    return count if count == 0 or floor is None else max(count, floor)


def routed_counts(ctx: Context, weights: dict[str, Any] | None) -> tuple[int, int]:
    """CalculateReplicaCountsForTrafficRoutedCanary, given the weights last applied."""
    replicas = ctx.replicas
    fixed, weight = replicas_or_weight(ctx)
    canary_count = fixed if fixed is not None else _min_pods(ctx, _to_replicas(replicas, weight))
    if not strategy(ctx).dynamic_stable_scale:
        return canary_count, replicas
    stable_count = _to_replicas(replicas, 100 - weight)
    if weights:
        actual_stable = int((weights.get("stable") or {}).get("weight") or 0)
        stable_count = max(stable_count, _to_replicas(replicas, actual_stable))
        if ctx.is_aborted():
            actual_canary = int((weights.get("canary") or {}).get("weight") or 0)
            canary_count = max(canary_count, _to_replicas(replicas, actual_canary))
    return _min_pods(ctx, canary_count), _min_pods(ctx, stable_count)


def desired_counts(ctx: Context, weights: dict[str, Any] | None) -> tuple[int, int]:
    """(new, stable) for this strategy."""
    if strategy(ctx).traffic_routing is None:
        return basic_counts(ctx)
    return routed_counts(ctx, weights)


def at_desired(ctx: Context, weights: dict[str, Any] | None) -> bool:
    """AtDesiredReplicaCountsForCanary: both sides at their size, and available."""
    want_new, want_stable = desired_counts(ctx, weights)
    new, stable = ctx.new, ctx.stable
    if new is None or ctx.spec_replicas(new) != want_new or new.available_pods != want_new:
        return False
    routed = strategy(ctx).traffic_routing is not None
    if not routed or not strategy(ctx).dynamic_stable_scale:
        if stable is None or ctx.spec_replicas(stable) != want_stable:
            return False
        if len(stable.active) != want_stable:
            return False
    if not routed:
        others = [rs for rs in ctx.all if rs is not new and rs is not stable]
        if sum(rs.available_pods for rs in others) != 0:
            return False
    return True
