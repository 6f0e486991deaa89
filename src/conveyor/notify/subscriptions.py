"""Who is subscribed to what: Argo CD's annotations and the ConfigMap's ``subscriptions``.

``notifications.argoproj.io/subscribe.<trigger>.<service>: <recipient>[;<recipient>...]`` on
an Application or its AppProject (or, for Argo Rollouts' triggers, on the Rollout) subscribes
recipients to one trigger; ``notifications.argoproj.io/subscribe.<service>`` subscribes them
to the default triggers (``defaultTriggers`` / ``defaultTriggers.<service>``). The
ConfigMap's ``subscriptions`` add recipients (``<service>:<recipient>``) for every app its
label ``selector`` matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.notify.config import NotificationConfig

PREFIX = "notifications.argoproj.io/subscribe."


@dataclass(frozen=True, order=True)
class Subscribed:
    """One recipient of one service subscribed to one trigger."""

    trigger: str
    service: str
    recipient: str


def _meta(obj: Mapping[str, Any] | None, field: str) -> dict[str, str]:
    value = ((obj or {}).get("metadata") or {}).get(field) or {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def from_annotations(annotations: Mapping[str, str], config: NotificationConfig) -> set[Subscribed]:
    """The subscriptions that ``annotations`` make."""
    found: set[Subscribed] = set()
    for key, value in annotations.items():
        if not key.startswith(PREFIX):
            continue
        rest = key[len(PREFIX) :]
        trigger, _, service = rest.rpartition(".")
        triggers = (trigger,) if trigger else config.triggers_for(service, ())
        recipients = [r.strip() for r in str(value).split(";")] or [""]
        for name in triggers:
            for recipient in recipients:
                found.add(Subscribed(name, service, recipient))
    return found


def of_object(
    obj: Mapping[str, Any], config: NotificationConfig, *extra: Mapping[str, Any] | None
) -> set[Subscribed]:
    """Subscriptions of ``obj`` (an Application or Rollout): its annotations, those of the
    ``extra`` objects (its AppProject), and the ConfigMap's matching its labels."""
    found = from_annotations(_meta(obj, "annotations"), config)
    for other in extra:
        found |= from_annotations(_meta(other, "annotations"), config)
    labels = _meta(obj, "labels")
    for sub in config.subscriptions:
        if sub.selector is not None and not sub.selector.matches(labels):
            continue
        for service, recipient in sub.recipients:
            for trigger in config.triggers_for(service, sub.triggers):
                found.add(Subscribed(trigger, service, recipient))
    return found
