"""Policy violations into the audit trail, when an app's findings change.

The policy gate (``policy.gate``) runs at every comparison and leaves its findings on the
app as conditions: ``PolicyWarning`` (warn) or a comparison error (enforce), each message
starting ``policy <package>:``. Conditions are the present only; the compliance report asks
how many violations a window saw. So when the set of an app's policy messages changes to a
non-empty one, an entry ``policy.violation`` by ``system:controller`` is written with the
messages (rule messages about manifests, never object data). An unchanged set writes nothing,
so a reconcile that finds the same violations again costs no write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.engine.activity import ActivityRecorder
from conveyor.engine.events import AppCreated, AppDeleted, AppUpdated, EngineEvent
from conveyor.engine.records import CONTROLLER, AuditEntry
from conveyor.policy.gate import POLICY_WARNING

PREFIX = "policy "
MAX_DETAIL = 2048


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


class PolicyWatch:
    """An engine listener; ``lookup`` reads an app (None when it is gone)."""

    def __init__(
        self, lookup: Callable[[str], dict[str, Any] | None], activity: ActivityRecorder
    ) -> None:
        self._lookup = lookup
        self._activity = activity
        self._known: dict[str, frozenset[str]] = {}

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, AppDeleted):
            self._known.pop(event.app, None)
            return
        if not isinstance(event, AppUpdated | AppCreated):
            return
        app = self._lookup(event.app)
        if app is None:
            return
        messages, refused = policy_messages(app)
        if messages == self._known.get(event.app, frozenset()):
            return
        self._known[event.app] = messages
        if not messages:
            return
        project = str((app.get("spec") or {}).get("project") or "default")
        self._activity.audit(
            AuditEntry(
                at=event.at,
                actor=CONTROLLER,
                action="policy.violation",
                target_kind="Application",
                target=event.app,
                app=event.app,
                project=project,
                source="controller",
                outcome="refused" if refused else "warned",
                detail="; ".join(sorted(messages))[:MAX_DETAIL],
            )
        )
