"""The local runtime's workload controllers, as pure planning functions.

Each controller looks at one object and the children it controls and answers what
Kubernetes' own controller (or Argo Rollouts') would do next (``DeploymentPlan``,
``ReplicaSetPlan``, ``JobPlan``, ``RolloutPlan``, ``AnalysisRunPlan``); the runtime carries
the plan out and calls again on every change. Keeping the rules pure lets tests drive whole
rollouts step by step, with time under their control.
"""

from conveyor.targets.local.controllers.analysisrun import AnalysisRunPlan, plan_analysisrun
from conveyor.targets.local.controllers.deployment import (
    DeploymentPlan,
    plan_deployment,
    pod_template_hash,
)
from conveyor.targets.local.controllers.job import JobPlan, plan_job
from conveyor.targets.local.controllers.replicaset import ReplicaSetPlan, plan_replicaset
from conveyor.targets.local.controllers.rollout import plan_rollout
from conveyor.targets.local.controllers.rollout_types import (
    AnalysisRunInfo,
    AnalysisRunRequest,
    RolloutEvent,
    RolloutPlan,
)

__all__ = [
    "AnalysisRunInfo",
    "AnalysisRunPlan",
    "AnalysisRunRequest",
    "DeploymentPlan",
    "JobPlan",
    "ReplicaSetPlan",
    "RolloutEvent",
    "RolloutPlan",
    "plan_analysisrun",
    "plan_deployment",
    "plan_job",
    "plan_replicaset",
    "plan_rollout",
    "pod_template_hash",
]
