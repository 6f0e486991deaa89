"""What the controller finds on its own, into the audit trail when it changes: policy
violations and aborted rollouts.

The policy gate (``policy.gate``) runs at every comparison and leaves its findings on the app
as conditions: ``PolicyWarning`` (warn) or a comparison error (enforce), each message starting
``policy <package>:``. Conditions are the present only, and the compliance report asks how
many violations a window saw; so when the set of an app's policy messages changes to a
non-empty one, an entry ``policy.violation`` by ``system:controller`` is written with the
messages (rule messages about manifests, never object data).

A Rollout aborts (``status.abort``) when its analysis fails or its progress deadline passes
(with ``progressDeadlineAbort``), or when someone asks; either way the controller stops it and
the app turns Degraded. A new abort that was the controller's own is written as
``rollout.aborted`` by ``system:controller`` with the Rollout's message; a person's abort has
its request's entry already (``rollouts.abort`` or the resource action), so it is not written
twice. Argo Rollouts tells them apart in the message (``own_abort``): the controller's abort
says why after the revision (``Rollout aborted update to revision 3: Metric "x" assessed
Failed``), a person's says only ``Rollout aborted update to revision 3``. Until the
controller has written its abort message (a person's ``status.abort`` patch lands first), the
abort waits for the next update.

An unchanged finding writes nothing, so a reconcile that finds the same again costs no write.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from conveyor.engine.activity import ActivityRecorder
from conveyor.engine.events import AppCreated, AppDeleted, AppUpdated, EngineEvent
from conveyor.engine.records import CONTROLLER, AuditEntry
from conveyor.policy.gate import POLICY_WARNING

PREFIX = "policy "
MAX_DETAIL = 2048

ABORTED = "RolloutAborted"
PERSON_ABORT = re.compile(r"(RolloutAborted: )?Rollout aborted update to revision [^:\s]*")
"""The whole ``status.message`` of an abort a person asked for (no reason after it)."""

Lookup = Callable[[str], dict[str, Any] | None]
LiveObjects = Callable[[str], list[dict[str, Any]]]


def policy_messages(app: dict[str, Any]) -> tuple[frozenset[str], bool]:
    """The app's policy findings, and whether one of them refused the sync."""
    found: set[str] = set()
    refused = False
    for condition in (app.get("status") or {}).get("conditions") or []:
        message = str(condition.get("message") or "")
        parts = [p.strip() for p in message.split("; ") if p.strip().startswith(PREFIX)]
        found.update(parts)
        refused |= bool(parts) and condition.get("type") != POLICY_WARNING
    return frozenset(found), refused


def aborted_rollouts(objects: list[dict[str, Any]]) -> dict[str, str]:
    """``namespace/name`` -> message of each aborted Rollout among ``objects``."""
    found = {}
    for obj in objects:
        if obj.get("kind") != "Rollout" or not str(obj.get("apiVersion", "")).startswith(
            "argoproj.io/"
        ):
            continue
        status = obj.get("status") or {}
        if status.get("abort"):
            meta = obj.get("metadata") or {}
            found[f"{meta.get('namespace', '')}/{meta.get('name', '')}"] = str(
                status.get("message") or "aborted"
            )
    return found


def own_abort(message: str) -> bool | None:
    """Whether an aborted Rollout's ``status.message`` tells of the controller's own abort;
    None while it tells of no abort yet (the controller has not reconciled it)."""
    text = message.strip()
    if not text.startswith(ABORTED) and "aborted update" not in text:
        return None
    return PERSON_ABORT.fullmatch(text) is None


class StatusWatch:
    """An engine listener; ``lookup`` reads an app (None when it is gone), ``live`` the
    live objects it tracks."""

    def __init__(self, lookup: Lookup, live: LiveObjects, activity: ActivityRecorder) -> None:
        self._lookup = lookup
        self._live = live
        self._activity = activity
        self._policy: dict[str, frozenset[str]] = {}
        self._aborted: dict[str, set[str]] = {}

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, AppDeleted):
            self._policy.pop(event.app, None)
            self._aborted.pop(event.app, None)
            return
        if not isinstance(event, AppUpdated | AppCreated):
            return
        app = self._lookup(event.app)
        if app is None:
            return
        project = str((app.get("spec") or {}).get("project") or "default")
        self._check_policy(event, app, project)
        self._check_aborts(event, project)

    def _entry(
        self, event: AppUpdated | AppCreated, project: str, action: str, outcome: str, detail: str
    ) -> AuditEntry:
        return AuditEntry(
            at=event.at, actor=CONTROLLER, action=action, target_kind="Application",
            target=event.app, outcome=outcome, app=event.app, project=project,
            source="controller", detail=detail[:MAX_DETAIL],
        )  # fmt: skip

    def _check_policy(
        self, event: AppUpdated | AppCreated, app: dict[str, Any], project: str
    ) -> None:
        messages, refused = policy_messages(app)
        if messages == self._policy.get(event.app, frozenset()):
            return
        self._policy[event.app] = messages
        if messages:
            outcome = "refused" if refused else "warned"
            detail = "; ".join(sorted(messages))
            self._activity.audit(self._entry(event, project, "policy.violation", outcome, detail))

    def _check_aborts(self, event: AppUpdated | AppCreated, project: str) -> None:
        aborted = aborted_rollouts(self._live(event.app))
        known = self._aborted.get(event.app, set())
        settled: set[str] = set()
        for rollout in sorted(aborted):
            own = None if rollout in known else own_abort(aborted[rollout])
            if rollout in known or own is not None:
                settled.add(rollout)
            if own:
                detail = f"Rollout {rollout}: {aborted[rollout]}"
                self._activity.audit(
                    self._entry(event, project, "rollout.aborted", "Degraded", detail)
                )
        self._aborted[event.app] = settled
