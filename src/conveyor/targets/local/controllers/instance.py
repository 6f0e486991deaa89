"""Which objects this controller runs: Argo Rollouts' controller instance id.

Several Argo Rollouts controllers can share a cluster: each is started with an instance id
(``--instance-id``) and runs only the Rollouts, and the AnalysisRuns, whose
``argo-rollouts.argoproj.io/controller-instance-id`` label equals it; one started without an
id runs only the objects without that label. A Rollout's AnalysisRuns carry its label, so they
are run by the same instance. The local runtime's instance id is a setting
(``CONVEYOR_ROLLOUTS_INSTANCE_ID``, none by default).
"""

from __future__ import annotations

from typing import Any

INSTANCE_ID_LABEL = "argo-rollouts.argoproj.io/controller-instance-id"


def instance_of(obj: dict[str, Any]) -> str | None:
    """The object's instance id label, or None when it has none."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(INSTANCE_ID_LABEL)
    return None if value is None else str(value)


def handles(obj: dict[str, Any], instance_id: str) -> bool:
    """Whether the controller of ``instance_id`` ("" for none) runs ``obj``.

    Argo's label selectors: ``label=ID`` with an id, ``!label`` without one (a label with an
    empty value is still a label: another instance's).
    """
    found = instance_of(obj)
    if instance_id:
        return found == instance_id
    return found is None
