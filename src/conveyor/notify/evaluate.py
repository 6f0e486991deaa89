"""Trigger evaluation: from an object's state to the notifications it calls for. Pure.

Argo CD's notifications engine keeps, per object, which (trigger, condition, service,
recipient[, oncePer value]) it has notified. When a condition holds and its key is not there,
it sends and records the key; when the condition no longer holds, the key is removed, so the
next time it holds it sends again, unless the condition has ``oncePer``: that key stays, and
the trigger fires once per value (on-deployed: once per synced commit). ``evaluate`` returns
what to send and which keys to add or remove; the caller keeps the keys in the store together
with the outbox rows, so a restart neither loses nor repeats a notification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.errors import ValidationError
from conveyor.notify.conditions import ExpressionError
from conveyor.notify.config import NotificationConfig
from conveyor.notify.subscriptions import Subscribed


@dataclass(frozen=True)
class Outgoing:
    """One notification to deliver: rendered, its service's settings still unresolved."""

    key: str
    subject: str
    app: str
    """The app it concerns (for a Rollout's, the app that tracks it; "" when none)."""
    trigger: str
    service: str
    recipient: str
    templates: tuple[str, ...]
    rendered: dict[str, str]


@dataclass
class Result:
    send: list[Outgoing] = field(default_factory=list)
    forget: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _service_type(config: NotificationConfig, service: str) -> str:
    found = config.services.get(service)
    return found.type if found is not None else service


def evaluate(
    subject: str,
    kind: str,
    env: dict[str, Any],
    subscriptions: set[Subscribed],
    config: NotificationConfig,
    notified: set[str],
    now: datetime,
    *,
    app: str = "",
) -> Result:
    """What ``subject`` (``app/<name>``, ``rollout/<ns>/<name>``) calls for now.

    ``kind`` says which triggers apply (those whose conditions read ``app``, ``rollout`` or
    ``analysisRun``); ``env`` holds what conditions and templates read; ``notified`` is the
    subject's recorded keys. A Rollout trigger subscribed on an app is evaluated on that
    app's Rollouts (kind ``rollout``), not here.
    """
    result = Result()
    for sub in sorted(subscriptions):
        trigger = config.triggers.get(sub.trigger)
        if trigger is None:
            result.warnings.append(f"{subject}: trigger '{sub.trigger}' is not defined")
            continue
        if trigger.subject != kind:
            continue
        for index, cond in enumerate(trigger.conditions):
            try:
                holds = cond.when.holds(env)
                once = cond.once_per.key(env) if cond.once_per is not None and holds else ""
            except ExpressionError as err:
                result.warnings.append(
                    f"{subject}: trigger {sub.trigger}: '{cond.when.text}' failed: {err}"
                )
                continue
            prefix = f"{subject}:{sub.trigger}:{index}:{sub.service}:{sub.recipient}:"
            if not holds:
                if cond.once_per is None and prefix in notified:
                    result.forget.append(prefix)
                continue
            key = prefix + once
            if key in notified:
                continue
            variables = {
                **env,
                "context": config.context,
                "serviceType": _service_type(config, sub.service),
                "notificationType": _service_type(config, sub.service),
                "event": {"trigger": sub.trigger, "oncePer": once, "time": now.isoformat()},
            }
            rendered: dict[str, str] = {}
            try:
                for name in cond.send:
                    template = config.templates.get(name)
                    if template is None:
                        raise ValidationError(f"template '{name}' is not defined")
                    rendered.update(template.render(variables))
            except ValidationError as err:
                result.warnings.append(f"{subject}: trigger {sub.trigger}: {err}")
                continue
            result.send.append(
                Outgoing(key, subject, app, sub.trigger, sub.service, sub.recipient,
                         cond.send, rendered)
            )  # fmt: skip
    return result
