"""Rollout actions as the merge patches kubectl argo rollouts and Argo CD send."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor.model import rollout_actions as actions


def rollout(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]
    return {
        "spec": {"strategy": {"canary": {"steps": steps}}, **spec},
        "status": status or {},
    }


def test_promote_clears_the_pause() -> None:
    paused = rollout({"pauseConditions": [{"reason": "CanaryPauseStep"}], "currentStepIndex": 1})
    assert actions.promote(paused) == actions.ActionPatch(
        status={"status": {"pauseConditions": None}}
    )
    by_hand = rollout({"currentStepIndex": 0}, paused=True)
    assert actions.promote(by_hand).spec == {"spec": {"paused": False}}


def test_promote_without_a_pause_skips_the_current_step() -> None:
    assert actions.promote(rollout({"currentStepIndex": 0})).status == {
        "status": {"currentStepIndex": 1}
    }
    with pytest.raises(actions.ActionRefused, match="already completed all its steps"):
        actions.skip_current_step(rollout({"currentStepIndex": 3}))


def test_promote_full_abort_retry_pause_resume_restart() -> None:
    assert actions.promote_full(rollout()).status == {"status": {"promoteFull": True}}
    assert actions.abort(rollout()).status == {"status": {"abort": True}}
    assert actions.retry(rollout({"abort": True})).status == {"status": {"abort": False}}
    with pytest.raises(actions.ActionRefused, match="not aborted"):
        actions.retry(rollout())
    assert actions.pause(rollout()).spec == {"spec": {"paused": True}}
    resumed = actions.resume(rollout({"pauseConditions": [{"reason": "x"}]}, paused=True))
    assert resumed == actions.ActionPatch(
        {"spec": {"paused": False}}, {"status": {"pauseConditions": None}}
    )
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert actions.restart(rollout(), now).spec == {"spec": {"restartAt": "2026-01-01T12:00:00Z"}}
