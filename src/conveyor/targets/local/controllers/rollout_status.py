"""A Rollout's status in Argo's shape: counts, conditions, and the phase with its message.

Argo Rollouts writes, on every reconcile, the replica counts, the Progressing / Available /
Completed / Healthy / Paused conditions (with its reasons and messages, progress deadline
included), the pause state, and a phase (Healthy, Progressing, Paused, Degraded) with a
message, computed from the rest by ``phase_of``. These functions do that over a ``Context``.
"""

from __future__ import annotations

from typing import Any

from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import replicasets as rsutil
from conveyor.targets.local.controllers.rollout_context import Context
from conveyor.targets.local.controllers.rollout_types import HASH_LABEL

ABORTED, TIMED_OUT = "RolloutAborted", "ProgressDeadlineExceeded"
PAUSED_REASON, PAUSED_MESSAGE = "RolloutPaused", "Rollout is paused"


def base_status(ctx: Context) -> dict[str, Any]:
    """calculateBaseStatus: the hash, the counts and what carries over."""
    status = ctx.status
    new = ctx.new
    status["currentPodHash"] = ctx.current_hash
    status.update(rsutil.replica_counts(ctx.all, new))
    status["HPAReplicas"] = status["replicas"]
    selector = (ctx.spec.selector or {}).get("matchLabels") or {}
    status["selector"] = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    if ctx.collision_count is not None:
        status["collisionCount"] = ctx.collision_count
    status["promoteFull"] = status["currentPodHash"] != ctx.stable_hash and bool(
        ctx.prev.get("promoteFull")
    )
    status["stableRS"] = ctx.stable_hash
    return status


def reset(ctx: Context, status: dict[str, Any]) -> None:
    """resetRolloutStatus: a new template starts the update from the first step."""
    ctx.clear_pauses = True
    ctx.remove_abort = True
    status["promoteFull"] = False
    status["canary"] = {}
    status["blueGreen"] = {}
    steps = (ctx.ro.canary.steps or []) if ctx.ro.canary is not None else []
    status["currentStepIndex"] = 0 if steps else None


def promote_stable(ctx: Context, status: dict[str, Any], reason: str) -> None:
    """promoteStable: the current template becomes stable, and the pause state clears."""
    ctx.clear_pauses = True
    ctx.remove_abort = True
    status["promoteFull"] = False
    status.setdefault("blueGreen", {}).pop("scaleUpPreviewCheckPoint", None)
    if ctx.ro.canary is not None:
        steps = ctx.ro.canary.steps or []
        status["currentStepIndex"] = len(steps) if steps else None
    if status.get("stableRS") != status["currentPodHash"]:
        status["stableRS"] = status["currentPodHash"]
        ctx.event(
            "RolloutCompleted",
            f"Rollout completed update to revision {ctx.revision} ({status['currentPodHash']}):"
            f" {reason}",
        )


def check_paused_conditions(ctx: Context) -> None:
    """checkPausedConditions: Progressing goes Unknown on pause/resume, retry after abort."""
    progressing = ctx.condition("Progressing")
    reason = progressing.get("reason") if progressing else None
    paused = ctx.is_paused()
    abort_cond = reason == ABORTED
    if paused != (reason == PAUSED_REASON) and not abort_cond:
        if paused:
            ctx.set_condition("Progressing", "Unknown", PAUSED_REASON, PAUSED_MESSAGE)
        else:
            ctx.set_condition("Progressing", "Unknown", "RolloutResumed", "Rollout is resumed")
    if not ctx.prev.get("abort") and abort_cond:
        ctx.set_condition("Progressing", "Unknown", "RolloutRetry", "Retrying Rollout after abort")
    paused_cond = ctx.condition("Paused")
    if (
        paused != (paused_cond is not None and paused_cond.get("status") == "True")
        and not abort_cond
    ):
        ctx.set_condition("Paused", "True" if paused else "False", PAUSED_REASON, PAUSED_MESSAGE)


def is_healthy(ctx: Context, status: dict[str, Any]) -> bool:
    """RolloutHealthy: every replica updated and available, and the strategy complete."""
    done = True
    blue_green, canary = ctx.ro.blue_green, ctx.ro.canary
    current = status["currentPodHash"]
    if blue_green is not None:
        bg = status.get("blueGreen") or {}
        done = bg.get("activeSelector") == current and (
            not blue_green.preview_service or bg.get("previewSelector") == current
        )
    if canary is not None:
        steps = canary.steps or []
        index = status.get("currentStepIndex")
        all_steps = not steps or index is None or index == len(steps)
        stable = bool(status.get("stableRS")) and status.get("stableRS") == current
        done = all_steps and stable and status["replicas"] == ctx.replicas
    return (
        status["updatedReplicas"] == ctx.replicas
        and status["availableReplicas"] == ctx.replicas
        and str(ctx.prev.get("observedGeneration")) == str(_generation(ctx))
        and done
    )


def _progressed(ctx: Context, status: dict[str, Any]) -> bool:
    """RolloutProgressing: any sign of progress since the last recorded status."""
    old = ctx.prev
    if ctx.ro.blue_green is not None:
        old_bg, new_bg = old.get("blueGreen") or {}, status.get("blueGreen") or {}
        specific = old_bg.get("activeSelector") != new_bg.get("activeSelector") or old_bg.get(
            "previewSelector"
        ) != new_bg.get("previewSelector")
    else:
        index_changed = (
            status.get("currentStepIndex") is not None
            and old.get("currentStepIndex") is not None
            and status.get("currentStepIndex") != old.get("currentStepIndex")
        )
        specific = status.get("stableRS") != old.get("stableRS") or index_changed
    old_olds = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    return (
        status["updatedReplicas"] != int(old.get("updatedReplicas") or 0)
        or status["replicas"] - status["updatedReplicas"] < old_olds
        or status["readyReplicas"] > int(old.get("readyReplicas") or 0)
        or status["availableReplicas"] > int(old.get("availableReplicas") or 0)
        or specific
    )


def _indefinite_step(ctx: Context) -> bool:
    """At an analysis, experiment or pause step: no progress deadline there."""
    canary = ctx.ro.canary
    steps = (canary.steps or []) if canary is not None else []
    index = ctx.prev.get("currentStepIndex") or 0
    if not isinstance(index, int) or not 0 <= index < len(steps):
        return False
    step = steps[index]
    return step.analysis is not None or step.pause is not None or step.experiment is not None


def conditions(ctx: Context, status: dict[str, Any]) -> None:
    """calculateRolloutConditions, then the progress deadline's requeue."""
    paused = ctx.is_paused()
    aborted = ctx.is_aborted()
    became_unhealthy = False
    if not paused and is_healthy(ctx, status):
        ctx.set_condition("Healthy", "True", "RolloutHealthy", "Rollout is healthy")
    elif ctx.condition("Healthy") is not None:
        became_unhealthy = ctx.set_condition(
            "Healthy", "False", "RolloutHealthy", "Rollout is not healthy"
        )
    if aborted:
        message = f"Rollout aborted update to revision {ctx.revision}"
        if ctx.abort_message:
            message = f"{message}: {ctx.abort_message}"
        if ctx.set_condition("Progressing", "False", ABORTED, message):
            ctx.event(ABORTED, message, warning=True)
    current = ctx.condition("Progressing")
    rs_name = ctx.new.name if ctx.new is not None else ""
    deadline = int(ctx.spec.progress_deadline.total_seconds())
    if not aborted:
        if is_healthy(ctx, status):
            ctx.set_condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
            )
        elif _progressed(ctx, status) or became_unhealthy:
            message = f'ReplicaSet "{rs_name}" is progressing.'
            reason = "ReplicaSetUpdated"
            if status.get("stableRS") == status["currentPodHash"] and became_unhealthy:
                reason, message = (
                    "ReplicaSetNotAvailable",
                    "Rollout does not have minimum availability",
                )
            cond = c.new_condition("Progressing", "True", reason, message, ctx.now)
            if current is not None and current.get("status") == "True":
                cond["lastTransitionTime"] = current.get("lastTransitionTime")
            ctx.conditions = [*c.remove_condition(ctx.conditions, "Progressing"), cond]
        elif not paused and not _indefinite_step(ctx) and _timed_out(current, deadline, ctx):
            message = f'ReplicaSet "{rs_name}" has timed out progressing.'
            changed = ctx.set_condition("Progressing", "False", TIMED_OUT, message)
            if ctx.spec.progress_deadline_abort and (changed or not ctx.is_aborted()):
                ctx.abort(message)
                ctx.event(ABORTED, message, warning=True)
                ctx.set_condition(
                    "Progressing",
                    "False",
                    ABORTED,
                    f"Rollout aborted update to revision {ctx.revision}: {message}",
                )
        progressing = ctx.condition("Progressing")
        stuck_check = not paused and not _indefinite_step(ctx) and not ctx.is_aborted()
        if (
            stuck_check
            and progressing is not None
            and progressing.get("reason")
            not in (
                TIMED_OUT,
                "NewReplicaSetAvailable",
            )
        ):
            # requeueStuckRollout: look again just after the deadline would pass
            ctx.requeue(rsutil.seconds_until_deadline(progressing, deadline, ctx.now))
    _availability(ctx, status)
    completed = bool(status.get("stableRS")) and status.get("stableRS") == status["currentPodHash"]
    if not ctx.set_condition(
        "Completed", "True" if completed else "False", "RolloutCompleted", "RolloutCompleted"
    ):
        return
    if not completed:
        ctx.event(
            "RolloutNotCompleted",
            f"Rollout not completed, started update to revision {ctx.revision}"
            f" ({status['currentPodHash']})",
        )


def _timed_out(cond: dict[str, Any] | None, deadline: int, ctx: Context) -> bool:
    if cond is None or cond.get("reason") == ABORTED:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    return rsutil.timed_out(cond, deadline, ctx.now)


def _availability(ctx: Context, status: dict[str, Any]) -> None:
    if ctx.ro.blue_green is not None:
        active = (status.get("blueGreen") or {}).get("activeSelector")
        rs = next((r for r in ctx.all if active and r.label(HASH_LABEL) == active), None)
        ok = rs is not None and rs.replicas == ctx.replicas and rs.available_pods >= ctx.replicas
    else:
        ok = sum(rs.available_pods for rs in ctx.all) >= ctx.replicas
    if ok:
        ctx.set_condition(
            "Available", "True", "AvailableReason", "Rollout has minimum availability"
        )
    else:
        ctx.set_condition(
            "Available", "False", "AvailableReason", "Rollout does not have minimum availability"
        )


def finish(ctx: Context, status: dict[str, Any]) -> dict[str, Any]:
    """persistRolloutStatus: pause state, generation, conditions and phase; empty fields out."""
    ctx.pause_status()
    status["observedGeneration"] = str(_generation(ctx))
    status["conditions"] = ctx.conditions
    status["phase"], status["message"] = phase_of(ctx, status)
    if bool(status.get("pauseConditions")) != bool(ctx.prev.get("pauseConditions")):
        if status.get("pauseConditions"):
            reason = status["pauseConditions"][0]["reason"]
            ctx.event(PAUSED_REASON, f"{PAUSED_MESSAGE} ({reason})")
        elif not status.get("abort"):
            ctx.event("RolloutResumed", "Rollout is resumed")
    for key in ("canary", "blueGreen"):
        status[key] = {k: v for k, v in (status.get(key) or {}).items() if not _empty(v)}
    return {k: v for k, v in status.items() if not _empty(v)}


def _empty(value: Any) -> bool:
    """Left out of status, as Go's omitempty leaves it out (0 is kept: it is an index)."""
    return value is None or value is False or value == "" or value == []


def _generation(ctx: Context) -> int:
    return int(c.metadata(ctx.obj).get("generation") or 0)


def phase_of(ctx: Context, status: dict[str, Any]) -> tuple[str, str]:
    """CalculateRolloutPhase: Degraded, Paused, Progressing or Healthy, and why."""
    for cond in status.get("conditions") or []:
        if cond.get("type") == "InvalidSpec":
            return "Degraded", f"InvalidSpec: {cond.get('message')}"
        if cond.get("reason") in (ABORTED, TIMED_OUT):
            return "Degraded", f"{cond.get('reason')}: {cond.get('message')}"
    if ctx.spec.paused:
        return "Paused", "manually paused"
    for cond in status.get("pauseConditions") or []:
        return "Paused", str(cond.get("reason"))
    restart_at = ctx.spec.restart_at
    if restart_at and restart_at != status.get("restartedAt"):
        return "Progressing", "rollout is restarting"
    if status["updatedReplicas"] < ctx.replicas:
        return "Progressing", "more replicas need to be updated"
    if status["availableReplicas"] < status["updatedReplicas"]:
        return "Progressing", "updated replicas are still becoming available"
    current, stable = status["currentPodHash"], status.get("stableRS")
    if ctx.ro.blue_green is not None:
        if (status.get("blueGreen") or {}).get("activeSelector") != current:
            return "Progressing", "active service cutover pending"
        if not stable or stable != current:
            post = (status.get("blueGreen") or {}).get("postPromotionAnalysisRunStatus")
            if ctx.ro.blue_green.post_promotion_analysis is not None and (
                post is None or post.get("status") not in ("Successful", "Failed", "Error")
            ):
                return "Progressing", "waiting for analysis to complete"
            return "Progressing", "waiting for post-promotion verification to complete"
    elif ctx.ro.canary is not None:
        if ctx.ro.canary.traffic_routing is None and status["replicas"] > status["updatedReplicas"]:
            return "Progressing", "old replicas are pending termination"
        if not stable or stable != current:
            return "Progressing", "waiting for all steps to complete"
    return "Healthy", ""
