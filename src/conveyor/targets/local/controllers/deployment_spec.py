"""A Deployment's spec as the controller reads it: Kubernetes' defaults and fenceposts resolved.

The planner and the status writer both need the same numbers (replicas, maxSurge and
maxUnavailable as Pod counts, the progress deadline, the history limit), and Kubernetes
resolves them in one place before a sync; so does this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.model.objects import Object
from conveyor.targets.local.controllers import common as c

DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_REVISION_HISTORY_LIMIT = 10
_NO_LIMIT = 2**31 - 1  # math.MaxInt32: "no progress deadline" / "keep all history"


@dataclass(frozen=True)
class DeploymentSpec:
    """The Deployment's spec with Kubernetes' defaults and fenceposts resolved."""

    replicas: int
    recreate: bool
    max_surge: int
    max_unavailable: int
    min_ready: int
    deadline: int | None
    history_limit: int | None
    paused: bool

    @classmethod
    def of(cls, deployment: Object) -> DeploymentSpec:
        spec = deployment.get("spec") or {}
        replicas = max(c.spec_int(spec, "replicas", 1), 0)
        strategy = spec.get("strategy") or {}
        recreate = strategy.get("type") == "Recreate"
        surge = unavailable = 0
        if not recreate:
            rolling = strategy.get("rollingUpdate") or {}
            surge = _fencepost(rolling.get("maxSurge", "25%"), replicas, round_up=True)
            unavailable = _fencepost(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
            if surge == 0 and unavailable == 0:
                unavailable = 1  # both resolved to zero: Kubernetes allows one unavailable
        deadline = c.spec_int(spec, "progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)
        history = c.spec_int(spec, "revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
        return cls(
            replicas=replicas,
            recreate=recreate,
            max_surge=surge,
            max_unavailable=0 if replicas == 0 else min(unavailable, replicas),
            min_ready=c.spec_int(spec, "minReadySeconds", 0),
            deadline=None if deadline == _NO_LIMIT else deadline,
            history_limit=None if history == _NO_LIMIT else history,
            paused=bool(spec.get("paused")),
        )


def _fencepost(value: Any, replicas: int, *, round_up: bool) -> int:
    try:
        return c.scaled_value(value, replicas, round_up=round_up)
    except ValueError:  # invalid (the API would have refused it): use the default, 25%
        return c.scaled_value("25%", replicas, round_up=round_up)
