"""The Rollout controller as a pure plan: Argo Rollouts' rules, carried out by the runtime.

One call looks at a Rollout, the ReplicaSets it owns, their Pods and the phases of the
AnalysisRuns it asked for, and answers what Argo Rollouts' controller would do next: the
ReplicaSets to create, scale, annotate or delete, the Services' injected selectors, the exact
traffic weights, the AnalysisRuns to create or terminate, the events, and the status in
Argo's shape. The runtime applies the plan and calls again on every change, or after
``requeue_after`` seconds. Time is ``now``; nothing is read from the clock.

Actions (promote, abort, retry, pause, resume) are changes to the Rollout that a person or
Argo CD makes (``rollout_actions``); the planner reacts to them like Argo's controller does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pydantic

from conveyor.model.messages import describe_errors
from conveyor.model.objects import Object
from conveyor.model.rollout import Rollout
from conveyor.targets.local.controllers import common as c
from conveyor.targets.local.controllers import rollout_bluegreen, rollout_canary, rollout_restart
from conveyor.targets.local.controllers.rollout_context import Context
from conveyor.targets.local.controllers.rollout_types import AnalysisRunInfo, RolloutPlan


def plan_rollout(
    rollout: Object,
    replicasets: list[Object],
    pods: list[Object],
    now: datetime,
    *,
    analysis_runs: Iterable[AnalysisRunInfo] = (),
    workload_template: dict[str, Any] | None = None,
) -> RolloutPlan:
    """Plan one reconcile of ``rollout``; only ReplicaSets it controls (by uid) count.

    ``analysis_runs`` are the AnalysisRuns in the Rollout's namespace that it owns (any
    phase); ``workload_template`` is the pod template of the Deployment that
    ``spec.workloadRef`` names, resolved by the runtime (None when it does not exist).
    """
    rollout = copy.deepcopy(rollout)
    try:
        model = Rollout.model_validate(rollout)
    except pydantic.ValidationError as err:
        return _invalid(rollout, "; ".join(describe_errors(err.errors())), now)
    problem = model.spec_problem()
    template = model.spec.template
    if problem is None and model.spec.workload_ref is not None:
        template = workload_template
        if template is None:
            ref = model.spec.workload_ref
            problem = (
                f'The Rollout "{model.name}" is invalid: spec.workloadRef: Invalid value: '
                f"{ref.kind} {ref.name} not found"
            )
    if problem is not None or template is None:
        return _invalid(rollout, problem or "spec.template is missing", now)
    runs = {run.name: run for run in analysis_runs}
    ctx = Context(
        rollout,
        model,
        copy.deepcopy(template),
        copy.deepcopy(replicasets),
        copy.deepcopy(pods),
        runs,
        now,
    )
    ctx.conditions = c.remove_condition(ctx.conditions, "InvalidSpec")
    rollout_restart.reconcile(ctx)
    status = rollout_canary.run(ctx) if model.canary is not None else rollout_bluegreen.run(ctx)
    return ctx.plan(status)


def _invalid(rollout: Object, message: str, now: datetime) -> RolloutPlan:
    """InvalidSpec: the status says why, and nothing else is done."""
    status = copy.deepcopy(rollout.get("status") or {})
    conditions = c.set_condition(
        list(status.get("conditions") or []),
        c.new_condition("InvalidSpec", "True", "InvalidSpec", message, now),
    )
    generation = int(c.metadata(rollout).get("generation") or 0)
    status.update(
        conditions=conditions,
        observedGeneration=str(generation),
        phase="Degraded",
        message=f"InvalidSpec: {message}",
    )
    return RolloutPlan(create=(), scale={}, annotate={}, unannotate={}, delete=(), status=status)
