"""What each Rollout action changes, as merge patches (kubectl argo rollouts, Argo CD actions).

Argo Rollouts' actions are not calls into its controller: they are edits of the Rollout that
the controller then reacts to. Promote clears the pause (or, when nothing is paused, skips
the current step), promote --full sets ``status.promoteFull``, abort sets ``status.abort``,
retry clears it, pause and resume flip ``spec.paused``, restart sets ``spec.restartAt``.
Each function returns the patch for the resource and the patch for its status subresource
(either may be empty), so the API, the CLI and Argo CD-style resource actions send the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.clock import rfc3339

Patch = dict[str, Any]


@dataclass(frozen=True)
class ActionPatch:
    """A merge patch of the Rollout, and one of its status subresource."""

    spec: Patch = field(default_factory=dict)
    status: Patch = field(default_factory=dict)


class ActionRefused(ValueError):
    """The action does not apply to this Rollout as it is (said as a sentence)."""


def _status(rollout: Patch) -> Patch:
    status = rollout.get("status")
    return status if isinstance(status, dict) else {}


def _spec(rollout: Patch) -> Patch:
    spec = rollout.get("spec")
    return spec if isinstance(spec, dict) else {}


def is_paused(rollout: Patch) -> bool:
    return bool(_spec(rollout).get("paused")) or bool(_status(rollout).get("pauseConditions"))


def promote(rollout: Patch) -> ActionPatch:
    """Resume a paused Rollout; otherwise skip the current canary step."""
    if is_paused(rollout):
        spec = {"spec": {"paused": False}} if _spec(rollout).get("paused") else {}
        return ActionPatch(spec, {"status": {"pauseConditions": None}})
    return skip_current_step(rollout)


def skip_current_step(rollout: Patch) -> ActionPatch:
    """Argo CD's skip-current-step: move a canary to its next step."""
    canary = (_spec(rollout).get("strategy") or {}).get("canary")
    steps = (canary or {}).get("steps") or []
    index = _status(rollout).get("currentStepIndex")
    if canary is None or not steps:
        raise ActionRefused("the Rollout has no canary steps to skip")
    index = index if isinstance(index, int) else 0
    if index >= len(steps):
        raise ActionRefused("the Rollout has already completed all its steps")
    return ActionPatch(status={"status": {"currentStepIndex": index + 1}})


def promote_full(rollout: Patch) -> ActionPatch:
    """Skip every remaining step, pause and analysis: the new template becomes stable."""
    spec = {"spec": {"paused": False}} if _spec(rollout).get("paused") else {}
    return ActionPatch(spec, {"status": {"promoteFull": True}})


def abort(rollout: Patch) -> ActionPatch:
    """Send all traffic back to stable and scale the update down."""
    del rollout
    return ActionPatch(status={"status": {"abort": True}})


def retry(rollout: Patch) -> ActionPatch:
    """Start an aborted update again from its first step."""
    if not _status(rollout).get("abort"):
        raise ActionRefused("the Rollout is not aborted: only an aborted update can be retried")
    return ActionPatch(status={"status": {"abort": False}})


def pause(rollout: Patch) -> ActionPatch:
    """Hold the Rollout where it is (spec.paused)."""
    del rollout
    return ActionPatch(spec={"spec": {"paused": True}})


def resume(rollout: Patch) -> ActionPatch:
    """Argo CD's resume: clear a person's pause and the controller's pause conditions."""
    spec = {"spec": {"paused": False}} if _spec(rollout).get("paused") else {}
    status = (
        {"status": {"pauseConditions": None}} if _status(rollout).get("pauseConditions") else {}
    )
    return ActionPatch(spec, status)


def restart(rollout: Patch, now: datetime) -> ActionPatch:
    """Replace every Pod, a few at a time (spec.restartAt)."""
    del rollout
    return ActionPatch(spec={"spec": {"restartAt": rfc3339(now)}})
