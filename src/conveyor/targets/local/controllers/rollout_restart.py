"""Restarting a Rollout's Pods (spec.restartAt), a few at a time (Argo's rollout/restart.go).

``kubectl argo rollouts restart`` sets ``spec.restartAt``. Once that time has come, every Pod
created before it is deleted, at most maxUnavailable at a time (one for blue-green) and only
while the rest are available, so its ReplicaSet replaces it; when none is left,
``status.restartedAt`` records the restart as done.
"""

from __future__ import annotations

from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import rollout_replicas as counts
from conveyor.targets.local.controllers.rollout_context import Context


def reconcile(ctx: Context) -> None:
    """Delete the next Pods older than spec.restartAt, or record the restart as done."""
    restart_at = ctx.spec.restart_at
    when = c.parse_time(restart_at)
    if not restart_at or when is None or ctx.prev.get("restartedAt") == restart_at:
        return
    if when > ctx.now:
        ctx.requeue((when - ctx.now).total_seconds())
        return
    old = sorted(
        (
            p
            for rs in ctx.all
            for p in rs.active
            if (created := c.creation_time(p)) is not None and created < when
        ),
        key=lambda p: (c.creation_time(p) or when, c.name_of(p)),
    )
    if not old:
        ctx.status["restartedAt"] = restart_at
        ctx.event("RolloutRestarted", f"Rollout restarted at {restart_at}")
        return
    allowed = counts.max_unavailable(ctx) if ctx.ro.canary is not None else 1
    unavailable = sum(max(rs.replicas - rs.available_pods, 0) for rs in ctx.all)
    budget = max(allowed, 1) - unavailable
    for pod in old[: max(budget, 0)]:
        ctx.delete_pods.append(c.name_of(pod))
        ctx.event("RestartingPod", f"Restarting Pod {c.name_of(pod)} (restartAt {restart_at})")
