"""Notifications put together: configuration, notifier, Rollout watch and sender.

``NotificationService`` is what the server starts beside the controller (``conveyor.api.app``
wires it): the notifier listens to the controller's events and to the target's Rollouts and
AnalysisRuns, the sender works through the outbox. ``apply`` stores an
``argocd-notifications-cm`` (or ``argo-rollouts-notification-configmap``) ConfigMap or an
``argocd-notifications-secret`` Secret and reloads; ``configuration`` shows what is in force,
with the warnings and without a secret value.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from typing import Any

from conveyor.clock import Clock, SystemClock
from conveyor.engine.controller import Controller
from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.notify.config import (
    CONFIGMAP,
    ROLLOUTS_CONFIGMAP,
    ROLLOUTS_SECRET,
    SECRET,
    NotificationConfig,
    parse_config,
)
from conveyor.notify.delivery import Deliverer, DeliveryOptions
from conveyor.notify.notifier import Notifier
from conveyor.store.db import Database
from conveyor.store.notifications import NotificationStore
from conveyor.targets.protocol import Selector, WatchEventType

log = get_logger(component="notifications")

CONFIGMAPS = (CONFIGMAP, ROLLOUTS_CONFIGMAP)
SECRETS = (SECRET, ROLLOUTS_SECRET)
ARGO_GROUP = "argoproj.io/"


class _ControllerApps:
    def __init__(self, controller: Controller) -> None:
        self._controller = controller

    def application(self, name: str) -> dict[str, Any]:
        return self._controller.application(name)

    async def project(self, name: str) -> dict[str, Any] | None:
        stored = await self._controller.repo.get_project(name)
        return dict(stored.manifest) if stored is not None else None


def config_data(manifest: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """(name, kind, data) of a notification ConfigMap or Secret manifest, validated.

    A Secret's ``data`` is base64 (decoded here); ``stringData`` is taken as it is.
    """
    kind = manifest.get("kind")
    meta = manifest.get("metadata")
    name = str(meta.get("name") or "") if isinstance(meta, dict) else ""
    raw: dict[str, Any] = {}
    if kind == "ConfigMap" and name in CONFIGMAPS:
        raw = _mapping(manifest, "data")
    elif kind == "Secret" and name in SECRETS:
        for key, value in _mapping(manifest, "data").items():
            try:
                raw[key] = base64.b64decode(str(value), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError) as err:
                raise ValidationError(f"Secret {name}: data.{key} is not base64 text") from err
        raw.update(_mapping(manifest, "stringData"))
    else:
        wanted = ", ".join(f"ConfigMap {n}" for n in CONFIGMAPS)
        raise ValidationError(
            f"{kind} {name!r} is not a notification setting: apply takes {wanted}, "
            f"or Secret {SECRET}"
        )
    if not all(isinstance(v, str) for v in raw.values()):
        raise ValidationError(f"{kind} {name}: data values must be text")
    return name, str(kind), {str(k): v for k, v in raw.items()}


def _mapping(manifest: dict[str, Any], field: str) -> dict[str, Any]:
    value = manifest.get(field)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(f"{field}: expected a mapping of keys to text")
    return {str(k): v for k, v in value.items()}


class NotificationService:
    """The notifier and its sender, around one controller."""

    def __init__(
        self,
        database: Database,
        controller: Controller,
        *,
        options: DeliveryOptions | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.store = NotificationStore(database)
        self._controller = controller
        self._clock = clock or SystemClock()
        self.notifier = Notifier(
            self.store, _ControllerApps(controller), load_config=self._load,
            on_queued=self._wake, clock=self._clock,
        )  # fmt: skip
        self.sender = Deliverer(
            self.store, lambda: self.notifier.config, options=options, clock=self._clock
        )
        self._watches: list[asyncio.Task[None]] = []

    async def _load(self) -> NotificationConfig:
        stored = await self.store.configs()
        data: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for name in CONFIGMAPS[::-1]:  # Argo CD's ConfigMap wins over Rollouts'
            data.update(stored.get(name, {}))
        for name in SECRETS[::-1]:
            secrets.update(stored.get(name, {}))
        return parse_config(data, secrets)

    def _wake(self) -> None:
        self.sender.wake()

    async def start(self) -> None:
        await self.notifier.start()
        self._controller.add_event_listener(self.notifier)
        self.notifier.evaluate_apps(self._controller.names())
        self.sender.start()
        loop = asyncio.get_running_loop()
        for kind in ("Rollout", "AnalysisRun"):
            self._watches.append(loop.create_task(self._watch(kind), name=f"notify-{kind}"))

    async def close(self) -> None:
        for task in self._watches:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.notifier.close()
        await self.sender.close()

    async def _watch(self, kind: str) -> None:
        while True:
            try:
                async for event in self._controller.target.watch(Selector(kind=kind)):
                    obj = event.object
                    if str(obj.get("apiVersion", "")).startswith(ARGO_GROUP):
                        self.notifier.observe_object(obj, event.type == WatchEventType.DELETED)
            except Exception as err:  # the target's watch broke: watch again
                log.warning("notification watch failed", kind=kind, error=str(err))
                await asyncio.sleep(1.0)

    # -- configuration -----------------------------------------------------------------------

    async def apply(self, manifest: dict[str, Any]) -> tuple[str, bool, list[str]]:
        """Store a notification ConfigMap or Secret; (name, created, warnings)."""
        name, kind, data = config_data(manifest)
        if kind == "ConfigMap":
            parse_config(data)  # raises nothing; warnings are reported after the reload
        created = await self.store.save_config(name, kind, data, self._clock.now())
        await self.notifier.reload()
        return name, created, list(self.notifier.config.warnings)

    def configuration(self) -> dict[str, Any]:
        """What is in force: triggers, templates, services (no option values), warnings."""
        config = self.notifier.config
        return {
            "triggers": sorted(config.triggers),
            "templates": sorted(config.templates),
            "services": {n: s.type for n, s in sorted(config.services.items())},
            "defaultTriggers": list(config.default_triggers),
            "subscriptions": len(config.subscriptions),
            "secretKeys": sorted(config.secrets),
            "warnings": list(config.warnings) + self.notifier.warnings[-20:],
        }
