"""The notifier: engine events and Rollout changes in, outbox rows out.

It is an ``EngineListener``. Listeners run on the event loop and must not block, so each event
takes a snapshot of the app (Argo CD's shape; an ``AppDeleted`` one gets its
``deletionTimestamp``, as Argo CD's app has while it is deleted) and queues it; one owned task
evaluates the snapshots in order (``notify.evaluate``) and writes what they call for, the
outbox rows with their notified-state keys, in one transaction (``NotificationStore.record``),
retrying a failed write. Argo Rollouts' triggers are evaluated the same way on the Rollouts
and AnalysisRuns that ``observe_object`` is given (the target's watch).

With no service configured nothing is evaluated, so an installation without notifications
pays nothing for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from conveyor.clock import Clock, SystemClock, rfc3339
from conveyor.engine.events import AppDeleted, EngineEvent
from conveyor.errors import NotFoundError
from conveyor.logging import get_logger
from conveyor.notify.config import NotificationConfig, parse_config
from conveyor.notify.evaluate import Outgoing, evaluate
from conveyor.notify.subscriptions import Subscribed, of_object
from conveyor.store.notifications import NotificationStore, OutboxInput

log = get_logger(component="notifier")

TRACKING_LABEL = "app.kubernetes.io/instance"


class Apps(Protocol):
    """What the notifier reads of the controller."""

    def application(self, name: str) -> dict[str, Any]: ...

    async def project(self, name: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class _Work:
    subject: str
    kind: str
    env: dict[str, Any]
    owner: str | None
    """The app whose (and whose project's) subscriptions apply too."""
    deleted: bool = False


ConfigLoader = Callable[[], Awaitable[NotificationConfig]]


class Notifier:
    """Evaluates triggers on events; queues notifications in the store."""

    def __init__(
        self,
        store: NotificationStore,
        apps: Apps,
        *,
        load_config: ConfigLoader,
        on_queued: Callable[[], None] = lambda: None,
        clock: Clock | None = None,
        retry_delay: float = 0.5,
    ) -> None:
        self._store = store
        self._apps = apps
        self._load_config = load_config
        self._on_queued = on_queued
        self._clock = clock or SystemClock()
        self._retry_delay = retry_delay
        self.config = parse_config({})
        self._notified: set[str] = set()
        self._queue: asyncio.Queue[_Work] = asyncio.Queue()
        self._rollouts: dict[tuple[str, str], dict[str, Any]] = {}
        self._worker: asyncio.Task[None] | None = None
        self.warnings: list[str] = []
        """The latest evaluation warnings (a condition that failed, a missing template)."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self.reload()
        self._notified = await self._store.notified()
        self._worker = asyncio.get_running_loop().create_task(self._work(), name="notifier")

    async def reload(self) -> None:
        """Read the configuration again (after a ConfigMap or Secret is applied)."""
        self.config = await self._load_config()
        for warning in self.config.warnings:
            log.warning("notification configuration", warning=warning)

    async def flush(self) -> None:
        """Wait until every event queued so far is evaluated and written."""
        await self._queue.join()

    async def close(self) -> None:
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await self._queue.join()
        worker, self._worker = self._worker, None
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    @property
    def active(self) -> bool:
        """Whether any service is configured (else nothing is evaluated)."""
        return bool(self.config.services)

    # -- inputs ------------------------------------------------------------------------------

    def __call__(self, event: EngineEvent) -> None:
        """Queue a snapshot of the event's app (never blocks)."""
        if not self.active:
            return
        try:
            app = self._apps.application(event.app)
        except NotFoundError:
            return
        deleted = isinstance(event, AppDeleted)
        if isinstance(event, AppDeleted):
            app.setdefault("metadata", {}).setdefault("deletionTimestamp", rfc3339(event.at))
        self._queue.put_nowait(_Work(f"app/{event.app}", "app", {"app": app}, event.app, deleted))

    def evaluate_apps(self, names: list[str]) -> None:
        """Look at these apps now (after a start: what changed while nobody listened)."""
        if not self.active:
            return
        for name in names:
            with contextlib.suppress(NotFoundError):
                app = self._apps.application(name)
                self._queue.put_nowait(_Work(f"app/{name}", "app", {"app": app}, name))

    def observe_object(self, obj: dict[str, Any], deleted: bool = False) -> None:
        """A Rollout or an AnalysisRun changed (from the target's watch)."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        kind = obj.get("kind")
        if kind == "Rollout":
            if deleted:
                self._rollouts.pop((namespace, name), None)
            else:
                self._rollouts[(namespace, name)] = obj
        if deleted or not self.active:
            return
        if kind == "Rollout":
            env, rollout, what = {"rollout": obj}, obj, "rollout"
        elif kind == "AnalysisRun":
            owner = next(
                (r.get("name") for r in meta.get("ownerReferences") or []
                 if r.get("kind") == "Rollout"),
                None,
            )  # fmt: skip
            found = self._rollouts.get((namespace, str(owner)))
            if found is None:
                return
            env, rollout, what = {"rollout": found, "analysisRun": obj}, found, "analysisRun"
        else:
            return
        rmeta = rollout.get("metadata") or {}
        app = (rmeta.get("labels") or {}).get(TRACKING_LABEL)
        subject = f"rollout/{namespace}/{rmeta.get('name')}"
        self._queue.put_nowait(_Work(subject, what, env, app))

    # -- the worker --------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            work = await self._queue.get()
            try:
                await self._evaluate(work)
            except Exception as err:  # one bad snapshot must not stop the notifier
                log.error("notification evaluation failed", subject=work.subject, error=str(err))
            finally:
                self._queue.task_done()

    async def _subscriptions(self, work: _Work) -> set[Subscribed]:
        """The subject's own, its project's; for a Rollout, also its app's and project's."""
        app: dict[str, Any] | None = work.env.get("app")
        extra: list[dict[str, Any] | None] = []
        if app is None and work.owner is not None:
            with contextlib.suppress(NotFoundError):
                app = self._apps.application(work.owner)
            extra.append(app)
        if app is not None:
            project = (app.get("spec") or {}).get("project") or "default"
            extra.append(await self._apps.project(str(project)))
        subject = work.env["app"] if work.kind == "app" else work.env["rollout"]
        return of_object(subject, self.config, *extra)

    async def _evaluate(self, work: _Work) -> None:
        subscriptions = await self._subscriptions(work)
        now = self._clock.now()
        result = evaluate(
            work.subject, work.kind, work.env, subscriptions, self.config, self._notified, now,
            app=work.owner or "",
        )  # fmt: skip
        for warning in result.warnings:
            log.warning("notification trigger", warning=warning)
        self.warnings = (self.warnings + result.warnings)[-50:]
        if result.send or result.forget:
            await self._write(result.send, result.forget)
        if work.deleted:
            await self._retry(lambda: self._store.forget_subject(work.subject))
            self._notified = {k for k in self._notified if not k.startswith(work.subject + ":")}

    async def _write(self, send: list[Outgoing], forget: list[str]) -> None:
        rows = [
            OutboxInput(
                key=o.key, subject=o.subject, app=o.app, trigger=o.trigger, service=o.service,
                recipient=o.recipient,
                body={"templates": list(o.templates), "rendered": o.rendered},
            )
            for o in send
        ]  # fmt: skip
        now = self._clock.now()
        await self._retry(lambda: self._store.record(rows, forget, now))
        self._notified.difference_update(forget)
        self._notified.update(o.key for o in send)
        if send:
            log.info(
                "notifications queued",
                items=[f"{o.trigger} -> {o.service}:{o.recipient} ({o.subject})" for o in send],
            )
            self._on_queued()

    async def _retry(self, write: Callable[[], Awaitable[None]]) -> None:
        delay = self._retry_delay
        while True:
            try:
                await write()
                return
            except Exception as err:  # the store is down: keep the notification, try again
                log.warning("notification write failed, retrying", error=str(err))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
