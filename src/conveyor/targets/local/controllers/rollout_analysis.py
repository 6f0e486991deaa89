"""The AnalysisRuns a Rollout starts, reads and terminates (Argo's rollout/analysis.go).

A canary runs one AnalysisRun per analysis step and one in the background from
``startingStep``; a blue-green runs one before the switch and one after it. The planner asks
for runs by name (``AnalysisRunRequest``), reads their phase (``AnalysisRunInfo``) and
records them in status; a Failed or Error run aborts the Rollout with the run's message, an
Inconclusive one pauses it for a person. Nothing runs on an initial deploy, an aborted
Rollout, or a full promotion: the runs in flight are terminated.
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.model.rollout import RolloutAnalysis
from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers.instance import INSTANCE_ID_LABEL, instance_of
from conveyor.targets.local.controllers.rollout_context import Context
from conveyor.targets.local.controllers.rollout_types import (
    ANN_REVISION,
    ANN_SCALE_DOWN_DEADLINE,
    ERROR,
    FAILED,
    HASH_LABEL,
    INCONCLUSIVE,
    LABEL_ROLLOUT_TYPE,
    LABEL_STEP_INDEX,
    PAUSE_BLUE_GREEN,
    PAUSE_INCONCLUSIVE,
    RUN_BACKGROUND,
    RUN_POST_PROMOTION,
    RUN_PRE_PROMOTION,
    RUN_STEP,
    AnalysisRunInfo,
    AnalysisRunRequest,
)

# Where each kind of run is recorded in status: (status section, field)
SLOTS = {
    RUN_STEP: ("canary", "currentStepAnalysisRunStatus"),
    RUN_BACKGROUND: ("canary", "currentBackgroundAnalysisRunStatus"),
    RUN_PRE_PROMOTION: ("blueGreen", "prePromotionAnalysisRunStatus"),
    RUN_POST_PROMOTION: ("blueGreen", "postPromotionAnalysisRunStatus"),
}
_LABEL_PATH = re.compile(r"^metadata\.(labels|annotations)\['([^']+)'\]$")


def current(ctx: Context, run_type: str) -> AnalysisRunInfo | None:
    """The run of that kind recorded in the previous status, as the runtime reports it now.

    None on a retry: the recorded run judged the aborted attempt (a Failed one would abort
    the retry again), and the retry starts runs of its own.
    """
    if ctx.retrying:
        return None
    section, slot = SLOTS[run_type]
    recorded = (ctx.prev.get(section) or {}).get(slot)
    if not isinstance(recorded, dict) or not recorded.get("name"):
        return None
    name = str(recorded["name"])
    return ctx.runs.get(name) or AnalysisRunInfo(name)


def record(status: dict[str, Any], run_type: str, run: AnalysisRunInfo | None) -> None:
    section, slot = SLOTS[run_type]
    entry = None
    if run is not None:
        entry = {"name": run.name, "status": run.phase}
        if run.message:
            entry["message"] = run.message
    status.setdefault(section, {})[slot] = entry


def terminate(ctx: Context, run: AnalysisRunInfo | None) -> None:
    """Ask the runtime to stop ``run`` unless it already finished."""
    if run is not None and not run.completed and run.name in ctx.runs:
        ctx.analysis_terminate.append(run.name)


def skip_all(ctx: Context) -> bool:
    """Analysis does not run: aborted, promoting fully, rolling back within the scale-down
    delay, or the initial deploy."""
    rollback = ctx.new is not None and ANN_SCALE_DOWN_DEADLINE in ctx.new.annotations
    return ctx.is_aborted() or bool(ctx.prev.get("promoteFull")) or rollback or not ctx.stable_hash


def reconcile(
    ctx: Context, status: dict[str, Any], wanted: dict[str, AnalysisRunInfo | None]
) -> None:
    """Record the runs that are current now, with an event when one's phase changed, and
    terminate those that no longer are."""
    for run_type in SLOTS:
        before = current(ctx, run_type)
        after = wanted.get(run_type, before)
        if run_type in wanted or before is not None:
            record(status, run_type, after)
        if before is not None and (after is None or after.name != before.name):
            terminate(ctx, before)
        if after is not None and after.phase:
            section, slot = SLOTS[run_type]
            recorded = (ctx.prev.get(section) or {}).get(slot) or {}
            previous = recorded.get("status") if recorded.get("name") == after.name else None
            if previous != after.phase:
                ctx.event(
                    f"AnalysisRun{after.phase}",
                    f"{run_type} Analysis Run '{after.name}' Status New: '{after.phase}'"
                    f" Previous: '{previous or 'NoPreviousStatus'}'",
                    warning=after.phase in (FAILED, ERROR),
                )


def needs_new(ctx: Context, run: AnalysisRunInfo | None) -> bool:
    """needsNewAnalysisRun: none yet, a person resumed an inconclusive one, or a retry."""
    if run is None:
        return True
    if ctx.prev.get("controllerPause") and ctx.pause_condition(PAUSE_BLUE_GREEN) is None:
        return run.phase == INCONCLUSIVE
    return bool(ctx.prev.get("abortedAt"))


def judge(ctx: Context, run: AnalysisRunInfo | None) -> None:
    """setPauseOrAbort: Inconclusive pauses for a person, Failed or Error aborts."""
    if run is None:
        return
    if run.phase == INCONCLUSIVE:
        ctx.add_pause(PAUSE_INCONCLUSIVE)
    elif run.phase in (FAILED, ERROR):
        ctx.abort(run.message)


def start(
    ctx: Context, analysis: RolloutAnalysis, run_type: str, infix: str, step: int | None = None
) -> AnalysisRunInfo:
    """Request a new run, under a name no run has yet (an earlier attempt's run, even one
    still being terminated, is never taken for the new one)."""
    pod_hash = ctx.current_hash
    base = "-".join(part for part in (ctx.name, pod_hash, str(ctx.revision), infix) if part)
    name, count = base, 0
    while name in ctx.runs:
        count += 1
        name = f"{base}.{count}"
    metadata = analysis.analysis_run_metadata or {}
    labels = {LABEL_ROLLOUT_TYPE: run_type, HASH_LABEL: pod_hash}
    instance = instance_of(ctx.obj)
    if instance is not None:  # the run belongs to the Rollout's controller instance
        labels[INSTANCE_ID_LABEL] = instance
    if step is not None:
        labels[LABEL_STEP_INDEX] = str(step)
    labels.update(metadata.get("labels") or {})
    labels.update((ctx.spec.selector or {}).get("matchLabels") or {})
    annotations = {ANN_REVISION: str(ctx.revision), **(metadata.get("annotations") or {})}
    ctx.analysis_create.append(
        AnalysisRunRequest(
            name=name,
            namespace=ctx.namespace,
            run_type=run_type,
            templates=tuple(t.model_dump(by_alias=True) for t in analysis.templates or []),
            args=tuple(_resolve(ctx, arg) for arg in analysis.args or []),
            labels=labels,
            annotations=annotations,
            owner_reference=c.controller_reference(
                ctx.obj, api_version="argoproj.io/v1alpha1", kind="Rollout"
            ),
            dry_run=tuple(analysis.dry_run or []),
            measurement_retention=tuple(analysis.measurement_retention or []),
        )
    )
    ctx.event("AnalysisRunCreated", f"Created {run_type} AnalysisRun {name}")
    return AnalysisRunInfo(name)


def _resolve(ctx: Context, arg: dict[str, Any]) -> dict[str, Any]:
    """An argument with Argo's rollout-side references resolved to values."""
    source = arg.get("valueFrom")
    if not isinstance(source, dict):
        return dict(arg)
    which = source.get("podTemplateHashValue")
    if which == "Stable":
        return {"name": arg.get("name"), "value": ctx.stable_hash}
    if which == "Latest":
        return {"name": arg.get("name"), "value": ctx.current_hash}
    path = (source.get("fieldRef") or {}).get("fieldPath")
    if isinstance(path, str):
        value = _field(ctx.obj, path)
        if value is not None:
            return {"name": arg.get("name"), "value": value}
    return dict(arg)


def _field(obj: dict[str, Any], path: str) -> str | None:
    """A Rollout field by fieldPath: metadata.name, metadata.labels['x'], spec.replicas..."""
    match = _LABEL_PATH.match(path)
    if match:
        value = (c.metadata(obj).get(match.group(1)) or {}).get(match.group(2))
        return None if value is None else str(value)
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return None if isinstance(node, dict | list) else str(node)
