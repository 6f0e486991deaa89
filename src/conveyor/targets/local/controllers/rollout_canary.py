"""The canary strategy, step by step (Argo's rollout/canary.go and trafficrouting.go).

One reconcile: create the new ReplicaSet, point the stable and canary Services at their
ReplicaSets, set the traffic weights (traffic routing), start or judge analysis, scale the
stable, new and older ReplicaSets, enter a pause step, then record the step reached: the
current step completes when its weight is reached, its pause is over or promoted, or its
analysis succeeded; an abort sends the weight to 0 and the step index back to 0; after the
last step (or on promote --full, the initial deploy or a rollback to stable) the new
template becomes stable.
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import rollout_analysis as analysis
from conveyor.targets.local.controllers import rollout_replicas as counts
from conveyor.targets.local.controllers import rollout_status as st
from conveyor.targets.local.controllers import rollout_traffic as traffic
from conveyor.targets.local.controllers.rollout_context import Context
from conveyor.targets.local.controllers.rollout_types import (
    ANN_SCALE_DOWN_DEADLINE,
    HASH_LABEL,
    PAUSE_CANARY_STEP,
    RUN_BACKGROUND,
    RUN_STEP,
    SUCCESSFUL,
    AnalysisRunInfo,
)


def step_hash(ctx: Context) -> str:
    """ComputeStepHash: a short hash of the steps, to notice when they change."""
    steps = [
        s.model_dump(by_alias=True, exclude_unset=True) for s in counts.strategy(ctx).steps or []
    ]
    raw = json.dumps(steps, sort_keys=True, separators=(",", ":")).encode()
    return c.safe_encode(str(c.fnv1a_32(raw)))


def changed(ctx: Context) -> bool:
    """PodTemplateOrStepsChanged: the template or the steps differ from the last recorded."""
    prev_steps = ctx.prev.get("currentStepHash")
    if prev_steps and prev_steps != step_hash(ctx):
        return True
    prev_hash = ctx.prev.get("currentPodHash")
    return bool(prev_hash) and prev_hash != ctx.current_hash


def run(ctx: Context) -> dict[str, Any]:
    """Reconcile a canary Rollout; returns its new status."""
    if changed(ctx):
        return _restart(ctx)
    ctx.ensure_new()
    ctx.cleanup_history()
    traffic.services(ctx)
    weights = traffic.reconcile(ctx)
    halted_by_analysis = _analysis(ctx)
    if not halted_by_analysis and not _scale(ctx):
        _pause(ctx)
    return _status(ctx, weights)


def _restart(ctx: Context) -> dict[str, Any]:
    """A new template (or new steps): start over from the first step, or skip them all when
    the template is the stable one (a rollback)."""
    steps = counts.strategy(ctx).steps or []
    status = st.base_status(ctx)
    st.reset(ctx, status)
    status["currentStepHash"] = step_hash(ctx)
    status["canary"]["weights"] = (ctx.prev.get("canary") or {}).get("weights")
    if ctx.new is not None and steps and ctx.stable_hash == ctx.new.label(HASH_LABEL):
        ctx.event("SkipSteps", "Rollback to stable ReplicaSets")
        status["currentStepIndex"] = len(steps)
    # the runs judged the previous template: stop them and forget them
    analysis.reconcile(ctx, status, {RUN_STEP: None, RUN_BACKGROUND: None})
    st.conditions(ctx, status)
    ctx.requeue(0.0)
    return st.finish(ctx, status)


def _analysis(ctx: Context) -> bool:
    """reconcileAnalysisRuns for a canary; True when an inconclusive run pauses the Rollout."""
    canary = counts.strategy(ctx)
    if analysis.skip_all(ctx):
        for run_type in (RUN_STEP, RUN_BACKGROUND):
            analysis.terminate(ctx, analysis.current(ctx, run_type))
        return False
    wanted: dict[str, AnalysisRunInfo | None] = {
        RUN_STEP: _step_run(ctx),
        RUN_BACKGROUND: _background_run(ctx),
    }
    if canary.analysis is None:
        wanted[RUN_BACKGROUND] = None
    ctx.analysis_wanted = wanted
    return bool(ctx.add_pauses)


def _step_run(ctx: Context) -> AnalysisRunInfo | None:
    run = analysis.current(ctx, RUN_STEP)
    if ctx.prev.get("pauseConditions") or ctx.prev.get("abort"):
        return run
    index = counts.current_step_index(ctx)
    steps = counts.strategy(ctx).steps or []
    step = steps[index] if index is not None else None
    if step is None or step.analysis is None:
        return None
    if analysis.needs_new(ctx, run):
        return analysis.start(ctx, step.analysis, RUN_STEP, str(index), step=index)
    assert run is not None
    analysis.judge(ctx, run)
    return run


def _background_run(ctx: Context) -> AnalysisRunInfo | None:
    canary = counts.strategy(ctx)
    run = analysis.current(ctx, RUN_BACKGROUND)
    if canary.analysis is None:
        return None
    fully_promoted = ctx.stable_hash == ctx.prev.get("currentPodHash")
    index = counts.current_step_index(ctx)
    starting = canary.analysis.starting_step
    before_start = starting is not None and index is not None and index < starting
    if fully_promoted or not ctx.stable_hash or not ctx.prev.get("currentPodHash") or before_start:
        return None
    if ctx.pause_condition("InconclusiveAnalysis") is not None:
        return run
    if analysis.needs_new(ctx, run):
        return analysis.start(ctx, canary.analysis, RUN_BACKGROUND, "")
    assert run is not None
    analysis.judge(ctx, run)
    return run


def _scale(ctx: Context) -> bool:
    """reconcileCanaryReplicaSets; True when a ReplicaSet was scaled (the rest waits)."""
    if ctx.halt_reason():
        return False
    weights = (ctx.prev.get("canary") or {}).get("weights")
    if ctx.new is not None and not ctx.delay_scale_down_on_abort():
        ctx.remove_annotation(ctx.new, ANN_SCALE_DOWN_DEADLINE)
    if ctx.stable is not None:
        ctx.remove_annotation(ctx.stable, ANN_SCALE_DOWN_DEADLINE)
    if ctx.stable_differs and ctx.stable is not None:
        _, want_stable = counts.desired_counts(ctx, weights)
        if ctx.scale(ctx.stable, want_stable):
            return True
    new = ctx.new
    if new is not None:
        want_new, _ = counts.desired_counts(ctx, weights)
        if ctx.delay_scale_down_on_abort():
            deadline = ctx.deadline_of(new)
            if deadline is None:
                delay = ctx.abort_delay()
                stable = ctx.stable
                if (
                    delay is not None
                    and stable is not None
                    and stable.available_pods >= ctx.replicas
                ):
                    ctx.add_deadline(new, delay)
                return False
            if deadline > ctx.now:
                ctx.requeue((deadline - ctx.now).total_seconds())
                return False
            want_new = 0
        if ctx.scale(new, want_new):
            return True
    return _scale_down_others(ctx)


def _scale_down_others(ctx: Context) -> bool:
    """scaleDownOldReplicaSetsForCanary: older ReplicaSets down within maxUnavailable."""
    canary = counts.strategy(ctx)
    olds = [rs for rs in ctx.others if rs.replicas > 0 and not c.is_terminating(rs.obj)]
    if not olds:
        return False
    scaled = 0
    for rs in sorted(olds, key=lambda r: r.age_key()):  # unhealthy replicas first
        unreferenced = canary.traffic_routing is None or not ctx.is_referenced(rs)
        if rs.available_pods < rs.replicas and unreferenced:
            scaled += rs.replicas - rs.available_pods
            ctx.scale(rs, rs.available_pods)
    available = sum(min(rs.available_pods, rs.replicas) for rs in ctx.all)
    budget = available - (ctx.replicas - counts.max_unavailable(ctx))
    fully_promoted = ctx.stable_hash == ctx.prev.get("currentPodHash")
    annotated = 0
    for rs in sorted(olds, key=lambda r: r.revision, reverse=True):
        if canary.traffic_routing is not None and ctx.is_referenced(rs):
            continue
        if canary.traffic_routing is None and budget <= 0:
            break
        if rs.replicas == 0:
            continue
        want = 0
        if canary.traffic_routing is None:
            want = max(rs.replicas - budget, 0)
        elif (
            fully_promoted or ctx.deadline_of(rs) is not None
        ) and not canary.dynamic_stable_scale:
            annotated, want = ctx.scale_down_delay_helper(
                rs, annotated, rs.replicas, canary.scale_down_delay()
            )
        if rs.replicas == want:
            continue
        budget -= rs.replicas - want
        scaled += rs.replicas - want
        ctx.scale(rs, want)
    return scaled > 0


def _pause(ctx: Context) -> None:
    """reconcileCanaryPause: enter a pause step (its start is the pause's start)."""
    if ctx.spec.paused or ctx.prev.get("promoteFull"):
        return
    index = counts.current_step_index(ctx)
    steps = counts.strategy(ctx).steps or []
    if index is None or steps[index].pause is None:
        return
    cond = ctx.pause_condition(PAUSE_CANARY_STEP)
    if cond is None:
        if not ctx.prev.get("controllerPause"):
            ctx.add_pause(PAUSE_CANARY_STEP)
            seconds = steps[index].pause.seconds()  # type: ignore[union-attr]
            if seconds is not None:
                ctx.requeue(seconds)
        return
    seconds = steps[index].pause.seconds()  # type: ignore[union-attr]
    start = c.parse_time(cond.get("startTime"))
    if seconds is not None and start is not None:
        ctx.requeue(max((start - ctx.now).total_seconds() + seconds, 0.0))


def _step_completed(ctx: Context, weights: dict[str, Any] | None) -> bool:
    """completedCurrentCanaryStep."""
    if ctx.spec.paused:
        return False
    index = counts.current_step_index(ctx)
    if index is None:
        return False
    step = (counts.strategy(ctx).steps or [])[index]
    if step.pause is not None:
        cond = ctx.pause_condition(PAUSE_CANARY_STEP)
        if ctx.prev.get("controllerPause") and cond is None:
            return True  # a person promoted
        seconds = step.pause.seconds()
        start = c.parse_time(cond.get("startTime")) if cond is not None else None
        return (
            seconds is not None
            and start is not None
            and (ctx.now - start).total_seconds() > seconds
        )
    if step.set_canary_scale is not None or step.set_weight is not None:
        return counts.at_desired(ctx, weights)
    if step.experiment is not None:
        ctx.event(
            "ExperimentSkipped",
            "experiment steps are not supported by Conveyor: step skipped",
            warning=True,
        )
        return True
    if step.analysis is not None:
        run = ctx.analysis_wanted.get(RUN_STEP)
        return run is not None and run.phase == SUCCESSFUL
    return False


def _should_promote(ctx: Context) -> str:
    """shouldFullPromote for a canary: why the new template becomes stable now, or ''."""
    if ctx.stable is None:
        return "Initial deploy"
    if ctx.is_aborted():
        return ""
    if ctx.new is None or ctx.new.available_pods != ctx.replicas:
        return ""
    if ctx.prev.get("promoteFull"):
        return "Full promotion requested"
    steps = counts.strategy(ctx).steps or []
    index = counts.step_index(ctx)
    if not steps or index == len(steps):
        return f"Completed all {len(steps)} canary steps"
    return ""


def _status(ctx: Context, weights: dict[str, Any] | None) -> dict[str, Any]:
    """syncRolloutStatusCanary."""
    steps = counts.strategy(ctx).steps or []
    status = st.base_status(ctx)
    status["currentStepHash"] = step_hash(ctx)
    status["canary"]["weights"] = weights
    analysis.reconcile(ctx, status, ctx.analysis_wanted)
    index = counts.step_index(ctx)
    if ctx.prev.get("promoteFull"):
        ctx.clear_pauses = True
        ctx.remove_abort = True
        if steps:
            index = len(steps)
    reason = _should_promote(ctx)
    if reason:
        status["currentStepIndex"] = index
        st.promote_stable(ctx, status, reason)
    elif ctx.is_aborted():
        if steps:
            index = len(steps) if status["stableRS"] == status["currentPodHash"] else 0
        status["currentStepIndex"] = index
    else:
        current = counts.current_step_index(ctx)
        if current is not None and _step_completed(ctx, weights):
            step = steps[current]
            index = current + 1
            status["canary"]["currentStepAnalysisRunStatus"] = None
            ctx.event(
                "RolloutStepCompleted",
                f"Rollout step {index}/{len(steps)} completed ({_describe(step)})",
            )
            ctx.remove_pauses.add(PAUSE_CANARY_STEP)
            ctx.requeue(0.0)
        status["currentStepIndex"] = index
    st.check_paused_conditions(ctx)
    st.conditions(ctx, status)
    return st.finish(ctx, status)


def _describe(step: Any) -> str:
    """CanaryStepString."""
    if step.set_weight is not None:
        return f"setWeight: {step.set_weight}"
    if step.pause is not None:
        return "pause" if step.pause.duration is None else f"pause: {step.pause.duration}"
    if step.experiment is not None:
        return "experiment"
    if step.analysis is not None:
        return "analysis"
    scs = step.set_canary_scale
    if scs is not None:
        if scs.weight is not None:
            return f"setCanaryScale{{weight: {scs.weight}}}"
        if scs.match_traffic_weight:
            return "setCanaryScale{matchTrafficWeight: true}"
        if scs.replicas is not None:
            return f"setCanaryScale{{replicas: {scs.replicas}}}"
    return "invalid"
