"""The local runtime's workload controllers, as pure planning functions.

Each controller looks at one object and the children it controls and answers what
Kubernetes' own controller would do next (``DeploymentPlan``, ``ReplicaSetPlan``,
``JobPlan``); the runtime carries the plan out and calls again on every change. Keeping the
rules pure lets tests drive whole rollouts step by step, with time under their control.
"""

from conveyor.targets.local.controllers.deployment import (
    DeploymentPlan,
    plan_deployment,
    pod_template_hash,
)
from conveyor.targets.local.controllers.job import JobPlan, plan_job
from conveyor.targets.local.controllers.replicaset import ReplicaSetPlan, plan_replicaset

__all__ = [
    "DeploymentPlan",
    "JobPlan",
    "ReplicaSetPlan",
    "plan_deployment",
    "plan_job",
    "plan_replicaset",
    "pod_template_hash",
]
