"""The blue-green strategy (Argo's rollout/bluegreen.go, service.go and its analysis).

The new ReplicaSet comes up beside the active one (at previewReplicaCount first, when set)
behind the preview Service; pre-promotion analysis must succeed, and then either a person
promotes (autoPromotionEnabled: false), autoPromotionSeconds pass, or nothing is awaited;
the active Service's selector then switches to the new ReplicaSet, post-promotion analysis
runs, and on its success the new template becomes stable while the previous one stays up for
scaleDownDelaySeconds. A failed analysis aborts: the active Service goes back to stable and
the new ReplicaSet scales down after abortScaleDownDelaySeconds.
"""

from __future__ import annotations

from typing import Any

from conveyor.model.rollout import BlueGreenStrategy
from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import rollout_analysis as analysis
from conveyor.targets.local.controllers import rollout_status as st
from conveyor.targets.local.controllers.replicasets import ROLLOUT_KEYS, RSView
from conveyor.targets.local.controllers.rollout_context import Context
from conveyor.targets.local.controllers.rollout_types import (
    ANN_SCALE_DOWN_DEADLINE,
    HASH_LABEL,
    PAUSE_BLUE_GREEN,
    PAUSE_INCONCLUSIVE,
    RUN_POST_PROMOTION,
    RUN_PRE_PROMOTION,
    SUCCESSFUL,
    AnalysisRunInfo,
)


def strategy(ctx: Context) -> BlueGreenStrategy:
    blue_green = ctx.ro.blue_green
    assert blue_green is not None
    return blue_green


def _active(ctx: Context) -> str:
    return str((ctx.prev.get("blueGreen") or {}).get("activeSelector") or "")


def _by_hash(ctx: Context, pod_hash: str) -> RSView | None:
    return next((rs for rs in ctx.all if pod_hash and rs.label(HASH_LABEL) == pod_hash), None)


def run(ctx: Context) -> dict[str, Any]:
    """Reconcile a blue-green Rollout; returns its new status."""
    bg = strategy(ctx)
    new = ctx.ensure_new()
    new_hash = new.label(HASH_LABEL)
    if bg.preview_service:
        ctx.service_selectors[bg.preview_service] = new_hash
    prev_hash = ctx.prev.get("currentPodHash")
    if prev_hash and prev_hash != new_hash:
        status = st.base_status(ctx)
        st.reset(ctx, status)
        # the runs judged the previous template: stop them and forget them
        ctx.analysis_wanted = {RUN_PRE_PROMOTION: None, RUN_POST_PROMOTION: None}
        return _status(ctx, status, _active(ctx))
    ctx.cleanup_history()
    _scale(ctx)
    _pause(ctx)
    active = _switch(ctx)
    _analysis(ctx)
    return _status(ctx, st.base_status(ctx), active)


def new_replicas(ctx: Context) -> int:
    """NewRSNewReplicas: previewReplicaCount until the preview checkpoint passes."""
    bg = strategy(ctx)
    if bg.preview_replica_count is None:
        return ctx.replicas
    active = _by_hash(ctx, _active(ctx))
    if active is None or active is ctx.new or ctx.prev.get("promoteFull"):
        return ctx.replicas
    if ctx.current_hash != ctx.prev.get("currentPodHash"):
        return bg.preview_replica_count
    not_paused = not ctx.spec.paused and not ctx.prev.get("pauseConditions")
    if not_paused and (ctx.prev.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint"):
        return ctx.replicas
    return bg.preview_replica_count


def _ready_for_pause(ctx: Context) -> bool:
    new = ctx.new
    want = new_replicas(ctx)
    return new is not None and ctx.spec_replicas(new) == want and new.available_pods >= want


def _saturated(ctx: Context, rs: RSView | None) -> bool:
    """IsSaturated: at the Rollout's full size, all available."""
    return (
        rs is not None
        and ctx.spec_replicas(rs) == ctx.replicas
        and rs.annotations.get(ROLLOUT_KEYS.desired_replicas) == str(ctx.replicas)
        and rs.available_pods >= ctx.replicas
    )


def _scale(ctx: Context) -> None:
    """reconcileBlueGreenReplicaSets: active full, new to its size, old ones after a delay."""
    new = ctx.new
    assert new is not None
    if not ctx.delay_scale_down_on_abort():
        ctx.remove_annotation(new, ANN_SCALE_DOWN_DEADLINE)
    if ctx.stable is not None:
        ctx.remove_annotation(ctx.stable, ANN_SCALE_DOWN_DEADLINE)
    active = _by_hash(ctx, _active(ctx))
    if active is not None:
        ctx.scale(active, ctx.replicas)
    want = new_replicas(ctx)
    if ctx.delay_scale_down_on_abort():
        deadline = ctx.deadline_of(new)
        if deadline is None:
            delay, stable = ctx.abort_delay(), ctx.stable
            if delay is not None and stable is not None and stable.available_pods >= ctx.replicas:
                ctx.add_deadline(new, delay)
            want = new.replicas
        elif deadline > ctx.now:
            ctx.requeue((deadline - ctx.now).total_seconds())
            want = new.replicas
        else:
            want = 0
    if new is not active:
        ctx.scale(new, want)
    _scale_down_others(ctx)


def _scale_down_others(ctx: Context) -> None:
    """scaleDownOldReplicaSetsForBlueGreen."""
    bg = strategy(ctx)
    if ctx.pause_condition(PAUSE_INCONCLUSIVE) is not None:
        return
    waits_for_post = bg.post_promotion_analysis is not None and bg.scale_down_delay_seconds is None
    if waits_for_post and not _skip_post(ctx):
        post = analysis.current(ctx, RUN_POST_PROMOTION)
        if post is None or post.phase != SUCCESSFUL:
            return
    annotated = 0
    olds = [rs for rs in ctx.others if rs.replicas > 0]
    for rs in sorted(olds, key=lambda r: r.revision, reverse=True):
        if ctx.is_referenced(rs):
            continue
        annotated, want = ctx.scale_down_delay_helper(
            rs, annotated, ctx.replicas, bg.scale_down_delay()
        )
        if rs.replicas != want:
            ctx.scale(rs, want)


def _fast_tracked(ctx: Context) -> bool:
    new = ctx.new
    active = _active(ctx)
    return (
        (new is not None and ANN_SCALE_DOWN_DEADLINE in new.annotations)
        or bool(ctx.prev.get("promoteFull"))
        or not active
        or active == ctx.current_hash
    )


def _completed_pre(ctx: Context) -> bool:
    if strategy(ctx).pre_promotion_analysis is None:
        return True
    run = analysis.current(ctx, RUN_PRE_PROMOTION)
    return run is not None and run.phase == SUCCESSFUL


def _completed_pause(ctx: Context) -> bool:
    """CompletedBlueGreenPause: resumed by a person, or autoPromotionSeconds passed."""
    bg = strategy(ctx)
    if ctx.add_pauses:
        return False
    if (ctx.prev.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint"):
        return True
    if not bg.needs_controller_pause():
        return True
    cond = ctx.pause_condition(PAUSE_BLUE_GREEN)
    if bg.auto_promotion_enabled:
        start = c.parse_time(cond.get("startTime")) if cond is not None else None
        if start is None:
            return False
        return (ctx.now - start).total_seconds() > bg.auto_promotion_seconds
    return bool(ctx.prev.get("controllerPause")) and cond is None


def _pause(ctx: Context) -> None:
    """reconcileBlueGreenPause: pause before the switch when the strategy asks for it."""
    bg = strategy(ctx)
    if ctx.prev.get("abort") or not _ready_for_pause(ctx) or ctx.halt_reason():
        return
    if (
        _fast_tracked(ctx)
        or (ctx.prev.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint")
        or not bg.needs_controller_pause()
    ):
        ctx.remove_pauses.add(PAUSE_BLUE_GREEN)
        return
    if not _completed_pre(ctx):
        return
    cond = ctx.pause_condition(PAUSE_BLUE_GREEN)
    if cond is None:
        if not ctx.prev.get("controllerPause"):
            ctx.add_pause(PAUSE_BLUE_GREEN)
            if bg.auto_promotion_enabled:
                ctx.requeue(float(bg.auto_promotion_seconds) + 1.0)
        return
    if _completed_pause(ctx):
        ctx.remove_pauses.add(PAUSE_BLUE_GREEN)
        ctx.requeue(0.0)
        return
    start = c.parse_time(cond.get("startTime"))
    if bg.auto_promotion_enabled and start is not None:
        remaining = (start - ctx.now).total_seconds() + bg.auto_promotion_seconds
        ctx.requeue(max(remaining, 0.0) + 1.0)


def _switch(ctx: Context) -> str:
    """reconcileActiveService: the hash the active Service selects from now on."""
    bg = strategy(ctx)
    active = _active(ctx)
    new_hash = ctx.current_hash
    if _ready_for_pause(ctx) and _saturated(ctx, ctx.new):
        target = active
        if _fast_tracked(ctx) or (_completed_pause(ctx) and _completed_pre(ctx)):
            target = new_hash
        if ctx.prev.get("abort"):
            target = ctx.stable_hash
        active = target
    if active:
        ctx.service_selectors[bg.active_service] = active
    return active


def _skip_pre(ctx: Context) -> bool:
    bg = strategy(ctx)
    current, active = ctx.current_hash, _active(ctx)
    if ctx.stable_hash == current or not active or active == current or not current:
        return True
    if bg.preview_replica_count is not None:
        new = ctx.new
        count = bg.preview_replica_count
        return new is None or ctx.spec_replicas(new) != count or new.available_pods != count
    return not _saturated(ctx, ctx.new)


def _skip_post(ctx: Context) -> bool:
    current = ctx.current_hash
    return (
        ctx.stable_hash == current
        or _active(ctx) != current
        or not current
        or not _saturated(ctx, ctx.new)
    )


def _analysis(ctx: Context) -> None:
    """Pre- and post-promotion analysis; a failure aborts, inconclusive pauses."""
    bg = strategy(ctx)
    if analysis.skip_all(ctx):
        for run_type in (RUN_PRE_PROMOTION, RUN_POST_PROMOTION):
            analysis.terminate(ctx, analysis.current(ctx, run_type))
        return
    wanted: dict[str, AnalysisRunInfo | None] = {}
    for run_type, spec, skip, infix in (
        (RUN_PRE_PROMOTION, bg.pre_promotion_analysis, _skip_pre(ctx), "pre"),
        (RUN_POST_PROMOTION, bg.post_promotion_analysis, _skip_post(ctx), "post"),
    ):
        run = analysis.current(ctx, run_type)
        if spec is None:
            wanted[run_type] = None
            continue
        if skip:
            analysis.terminate(ctx, run)
        elif ctx.pause_condition(PAUSE_INCONCLUSIVE) is None and analysis.needs_new(ctx, run):
            run = analysis.start(ctx, spec, run_type, infix)
        analysis.judge(ctx, run)
        wanted[run_type] = run
    ctx.analysis_wanted = wanted


def _should_promote(ctx: Context, active: str) -> str:
    """shouldFullPromote for blue-green."""
    if ctx.stable is None or not active:
        return "Initial deploy"
    if active != ctx.current_hash:
        return ""
    if ctx.prev.get("promoteFull"):
        return "Full promotion requested"
    if ctx.is_aborted():
        return ""
    if strategy(ctx).post_promotion_analysis is not None:
        new = ctx.new
        if new is not None and ANN_SCALE_DOWN_DEADLINE in new.annotations:
            return f"Rollback to '{new.name}' within scaleDownDelay"
        post = ctx.analysis_wanted.get(RUN_POST_PROMOTION)
        if post is None or post.phase != SUCCESSFUL:
            return ""
    return "Completed blue-green update"


def _status(ctx: Context, status: dict[str, Any], active: str) -> dict[str, Any]:
    """syncRolloutStatusBlueGreen."""
    bg = strategy(ctx)
    analysis.reconcile(ctx, status, ctx.analysis_wanted)
    if ctx.prev.get("promoteFull"):
        ctx.clear_pauses = True
        ctx.remove_abort = True
    section = status["blueGreen"]
    if bg.preview_service:
        section["previewSelector"] = ctx.current_hash
    section["activeSelector"] = active or None
    reason = _should_promote(ctx, active)
    if reason:
        st.promote_stable(ctx, status, reason)
    else:
        section["scaleUpPreviewCheckPoint"] = _checkpoint(ctx)
    active_rs = _by_hash(ctx, active)
    if active_rs is not None:
        status["availableReplicas"] = active_rs.available_pods
        status["readyReplicas"] = active_rs.ready_pods
        status["HPAReplicas"] = len(active_rs.active)
        labels = ((active_rs.obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        status["selector"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    st.check_paused_conditions(ctx)
    st.conditions(ctx, status)
    return st.finish(ctx, status)


def _checkpoint(ctx: Context) -> bool:
    """calculateScaleUpPreviewCheckPoint: the preview may grow to full size."""
    bg = strategy(ctx)
    if bg.preview_replica_count is None:
        return False
    if (ctx.prev.get("blueGreen") or {}).get("scaleUpPreviewCheckPoint"):
        return True
    if not _completed_pre(ctx) or not _completed_pause(ctx):
        return False
    new = ctx.new
    return new is not None and new.available_pods == bg.preview_replica_count
