"""The application controller: keeps every app as Git says, and runs its syncs.

One work queue keyed by app name (one reconcile per app at a time) is fed by a jittered poll,
explicit refreshes, webhook notices of a push, and the target's watch (an app's object
changed). A reconcile resolves the revision (from the shared mirror, fetched at most once per
poll period unless a refresh asks), renders (cached by commit), compares with the live state
(cached from the watch), records the status, and starts a sync when the policy says so.

Syncs run as their own tasks, one per app, written to the store before they start and
finished together with their history entry. A restarted controller resumes the operations
the store still shows Running. SelfHeal re-syncs drift with an exponential backoff, so that it
never fights another writer in a tight loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from conveyor.clock import Clock, SystemClock, rfc3339
from conveyor.engine.appspec import AppSpec
from conveyor.engine.compare import Comparer, Comparison
from conveyor.engine.events import EngineListener
from conveyor.engine.livestate import LiveState
from conveyor.engine.repository import HistoryInput, OperationRecord, Repository
from conveyor.engine.sync import SyncExecutor, SyncOutcome, SyncRequest
from conveyor.engine.syncplan import PlanOptions, kept_on_app_delete
from conveyor.engine.validation import (
    check_project,
    check_source,
    load_application,
    load_project,
    project_or_default,
)
from conveyor.engine.workqueue import WorkQueue
from conveyor.errors import ConflictError, ConveyorError, NotFoundError, ValidationError
from conveyor.logging import get_logger
from conveyor.model.appproject import AppProject
from conveyor.model.objects import ObjectKey
from conveyor.model.syncoptions import SyncOptions
from conveyor.targets.protocol import Target

log = get_logger(component="controller")


@dataclass(frozen=True)
class ControllerOptions:
    """Timings; the defaults are Argo CD's, tests shorten them."""

    poll_interval: float = 30.0
    """How often each app's revision is looked up again (jittered by 10%)."""
    workers: int = 8
    self_heal_backoff: float = 2.0
    """First delay before a self-heal sync; doubles on each drift in a row."""
    self_heal_backoff_cap: float = 180.0
    step_timeout: float = 600.0
    """Longest wait for one sync step (a wave, a hook) to become healthy."""


class ControllerObserver(Protocol):
    """What the controller reports for metrics (``/metrics`` implements it)."""

    def reconciled(self, app: str, duration: float) -> None: ...

    def sync_finished(self, app: str, phase: str) -> None: ...


@dataclass
class AppState:
    """What the controller remembers about one app between reconciles."""

    spec: AppSpec
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    revision: str | None = None
    resolved_at: float = float("-inf")
    refresh: bool = True
    """Look the revision up again at the next reconcile (a fetch happens only if the mirror
    may be behind: older than the poll period, or invalidated by a refresh or webhook)."""
    hard_refresh: bool = False
    comparison: Comparison | None = None
    operation: asyncio.Task[None] | None = None
    operation_id: int | None = None
    terminate_requested: bool = False
    self_heal_attempts: int = 0
    next_self_heal: float = 0.0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


def _now_iso(clock: Clock) -> str:
    return rfc3339(clock.now())


class Controller:
    """Reconciles applications against one target, with a store for what must survive."""

    def __init__(
        self,
        repository: Repository,
        target: Target,
        comparer: Comparer,
        live: LiveState,
        *,
        clock: Clock | None = None,
        options: ControllerOptions | None = None,
        rng: random.Random | None = None,
        observer: ControllerObserver | None = None,
    ) -> None:
        self.repo = repository
        self.observer = observer
        self.target = target
        self.comparer = comparer
        self.live = live
        self.clock = clock or SystemClock()
        self.options = options or ControllerOptions()
        self.executor = SyncExecutor(
            target, live, clock=self.clock, step_timeout=self.options.step_timeout
        )
        self._rng = rng or random.Random()
        self._apps: dict[str, AppState] = {}
        self._projects: dict[str, AppProject] = {}
        self._queue: WorkQueue[str] = WorkQueue(self._reconcile, workers=self.options.workers)
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._event_listeners: list[EngineListener] = []
        self._started = False

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the apps, watch the target, resume interrupted syncs, start reconciling."""
        await self.live.start()
        self.live.add_listener(lambda app, _key: self._on_live_change(app))
        for stored in await self.repo.list_apps():
            try:
                app, warnings = load_application(stored.manifest)
            except ValidationError as err:
                log.warning("stored application is invalid", app=stored.name, error=str(err))
                continue
            state = AppState(spec=AppSpec.from_manifest(app), manifest=app, warnings=warnings)
            state.status = dict(stored.status)
            self._apps[stored.name] = state
        self._queue.start()
        self._started = True
        for op in await self.repo.running_operations():
            await self._resume(op)
        for name in self._apps:
            self._queue.add(name)

    async def stop(self) -> None:
        """Stop reconciling; running syncs are cancelled and stay Running in the store,
        to be resumed by the next start (as after a crash)."""
        self._started = False
        await self._queue.stop()
        tasks = [s.operation for s in self._apps.values() if s.operation is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.live.stop()

    def add_listener(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Called with (app name, Application dict) whenever an app's status changes."""
        self._listeners.append(listener)

    def add_event_listener(self, listener: EngineListener) -> None:
        """Called with every engine event (``engine.events``), in order, on the loop."""
        self._event_listeners.append(listener)

    async def settle(self) -> None:
        """Wait until no reconcile is pending (tests, benchmarks)."""
        await self._queue.drain()

    def requeue_all(self) -> None:
        """Reconcile every app now, as a poll pass does (without forcing a git fetch)."""
        for name in self._apps:
            self._queue.add(name)

    def operation_running(self, name: str) -> bool:
        task = self._state(name).operation
        return task is not None and not task.done()

    # -- applications -----------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._apps)

    def application(self, name: str) -> dict[str, Any]:
        """The Application in Argo CD's shape, status included."""
        state = self._state(name)
        out = dict(state.manifest)
        out["status"] = state.status
        return out

    def applications(self) -> list[dict[str, Any]]:
        return [self.application(n) for n in self.names()]

    async def apply_application(
        self, manifest: dict[str, Any], *, upsert: bool = True
    ) -> dict[str, Any]:
        """Create or update an Application; returns it with its warnings.

        Invalid manifests raise ValidationError naming the field; an app whose project does
        not allow its repo or destination is refused before it is stored.
        """
        app, warnings = load_application(manifest)
        spec = AppSpec.from_manifest(app)
        check_source(spec)
        project = await self._project(spec.project)
        check_project(project, spec)
        existing = self._apps.get(spec.name)
        if existing is not None and not upsert and existing.manifest.get("spec") != app.get("spec"):
            raise ConflictError(
                f"application {spec.name!r} exists with a different spec; "
                "use --upsert to replace it"
            )
        await self.repo.save_app(spec.name, app)
        if existing is None:
            state = AppState(spec=spec, manifest=app, warnings=warnings)
            self._apps[spec.name] = state
        else:
            existing.spec, existing.manifest, existing.warnings = spec, app, warnings
            existing.refresh = True
        self._queue.add(spec.name)
        return {"application": app, "warnings": warnings}

    async def apply_project(self, manifest: dict[str, Any]) -> dict[str, Any]:
        project, warnings = load_project(manifest)
        name = str(project["metadata"]["name"])
        await self.repo.save_project(name, project)
        self._projects[name] = project_or_default(name, project)
        for state in self._apps.values():
            if state.spec.project == name:
                self._queue.add(state.spec.name)
        return {"project": project, "warnings": warnings}

    async def delete_project(self, name: str) -> bool:
        """Forget a stored project (False when there is none); its cached copy goes too."""
        self._projects.pop(name, None)
        deleted = await self.repo.delete_project(name)
        for state in self._apps.values():
            if state.spec.project == name:
                self._queue.add(state.spec.name)
        return deleted

    async def delete_application(self, name: str, *, cascade: bool = True) -> None:
        """Forget an app; with ``cascade`` (the default) its live objects are deleted too."""
        state = self._state(name)
        if state.operation is not None:
            state.operation.cancel()
        if cascade:
            options = SyncOptions.parse(f"{k}={v}" for k, v in state.spec.sync_options.items())
            for obj in sorted(self.live.app_objects(name), key=lambda o: -_delete_rank(o)):
                if kept_on_app_delete(obj, options):
                    continue  # Delete=false (or confirm): the resource outlives its app
                key = ObjectKey.of(obj)
                await self.target.delete(key)
                self.live.forget(key)
        self._queue.forget(name)
        del self._apps[name]
        await self.repo.delete_app(name)

    def refresh(self, name: str, *, hard: bool = False) -> None:
        """Look the revision up again (and with ``hard``, render again) at the next reconcile."""
        state = self._state(name)
        self.comparer.invalidate(state.spec.repo_url)
        state.refresh = True
        state.hard_refresh = state.hard_refresh or hard
        self._queue.add(name)

    def notify_push(self, repo_url: str, ref: str | None = None) -> list[str]:
        """A webhook says ``repo_url`` got a push (to ``ref``): refresh the apps it concerns."""
        touched = []
        wanted = _normalize_url(repo_url)
        for name, state in self._apps.items():
            if _normalize_url(state.spec.repo_url) != wanted:
                continue
            if ref is not None and not _revision_matches(state.spec.target_revision, ref):
                continue
            self.comparer.invalidate(state.spec.repo_url)
            state.refresh = True
            self._queue.add(name)
            touched.append(name)
        return sorted(touched)

    async def wait_reconciled(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for the next status change of ``name``; returns the Application."""
        state = self._state(name)
        state.changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.changed.wait(), timeout)
        return self.application(name)

    async def history(self, name: str) -> list[dict[str, Any]]:
        self._state(name)
        return [h.to_dict() for h in await self.repo.history(name)]

    # -- operations -------------------------------------------------------------------------

    async def sync(
        self,
        name: str,
        *,
        revision: str | None = None,
        prune: bool | None = None,
        dry_run: bool = False,
        resources: list[ObjectKey] | None = None,
        initiated_by: str = "admin",
        automated: bool = False,
        source: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a sync operation; returns its first operationState.

        Raises ConflictError when another operation is running on the app.
        """
        state = self._state(name)
        if state.operation is not None and not state.operation.done():
            raise ConflictError(f"another operation is already in progress on {name!r}")
        spec = state.spec
        operation = {
            "sync": {
                "revision": revision or "",
                "prune": spec.prune if prune is None else prune,
                "dryRun": dry_run,
                "syncOptions": [f"{k}={v}" for k, v in spec.sync_options.items()],
                "resources": [
                    {"group": k.group, "kind": k.kind, "namespace": k.namespace, "name": k.name}
                    for k in resources or []
                ],
                "source": source or spec.source,
            },
            "initiatedBy": {"automated": True} if automated else {"username": initiated_by},
            "retry": {"limit": spec.retry.limit},
        }
        record = await self.repo.create_operation(name, operation, self.clock.now())
        self._launch(state, record)
        return dict(state.status.get("operationState") or {})

    async def terminate(self, name: str) -> bool:
        """Stop the running operation of ``name``; False when none runs."""
        state = self._state(name)
        task = state.operation
        if task is None or task.done():
            return False
        self._set_operation_state(state, phase="Terminating", message="terminating")
        state.terminate_requested = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return True

    async def rollback(
        self, name: str, history_id: int, *, initiated_by: str = "admin"
    ) -> dict[str, Any]:
        """Sync to the revision of history entry ``history_id``.

        As Argo CD does, automated sync is turned off first (it would undo the rollback at
        once); the returned message says so.
        """
        state = self._state(name)
        entries = {h.id: h for h in await self.repo.history(name)}
        entry = entries.get(history_id)
        if entry is None:
            known = ", ".join(str(i) for i in sorted(entries)) or "none"
            raise NotFoundError(
                f"application {name!r} has no history id {history_id} (ids: {known})"
            )
        message = f"rolling back to history id {history_id} (revision {entry.revision})"
        if state.spec.automated:
            manifest = _without_automated(state.manifest)
            await self.apply_application(manifest)
            message += "; automated sync was disabled so that it does not undo the rollback"
        await self.sync(
            name,
            revision=entry.revision,
            prune=True,
            initiated_by=initiated_by,
            source=entry.source,
        )
        return {"message": message, "application": self.application(name)}

    # -- internals --------------------------------------------------------------------------

    def _state(self, name: str) -> AppState:
        state = self._apps.get(name)
        if state is None:
            raise NotFoundError(f"application {name!r} not found")
        return state

    async def _project(self, name: str) -> AppProject:
        """The app's project, from memory: every reconcile needs it, none may query for it."""
        cached = self._projects.get(name)
        if cached is None:
            stored = await self.repo.get_project(name)
            cached = project_or_default(name, stored.manifest if stored else None)
            self._projects[name] = cached
        return cached

    def _on_live_change(self, app: str) -> None:
        if app in self._apps:
            self._queue.add(app)

    def _emit(self, state: AppState) -> None:
        state.changed.set()
        if self._listeners:
            app = self.application(state.spec.name)
            for listener in self._listeners:
                listener(state.spec.name, app)

    async def _save_status(self, state: AppState, status: dict[str, Any]) -> None:
        if _comparable(status) == _comparable(state.status):
            return
        state.status = status
        await self.repo.save_status(state.spec.name, status)
        self._emit(state)

    def comparison(self, name: str) -> Comparison | None:
        """The last comparison of ``name`` (None until one succeeded)."""
        return self._state(name).comparison

    async def _reconcile(self, name: str) -> None:
        started = self.clock.monotonic()
        try:
            await self._reconcile_app(name)
        finally:
            if self.observer is not None and name in self._apps:
                self.observer.reconciled(name, self.clock.monotonic() - started)

    async def _reconcile_app(self, name: str) -> None:
        state = self._apps.get(name)
        if state is None:
            return
        spec = state.spec
        now = self.clock.monotonic()
        conditions: list[dict[str, Any]] = [
            {"type": "UnknownField", "message": w} for w in state.warnings
        ]  # warnings are conditions the UI shows; they never block a sync
        kind = "InvalidSpecError"  # until the project admits the app; then ComparisonError
        try:
            project = await self._project(spec.project)
            check_project(project, spec)
            kind = "ComparisonError"
            due = now - state.resolved_at >= self.options.poll_interval
            if state.refresh or due or state.revision is None:
                state.revision = await self.comparer.resolve(spec.repo_url, spec.target_revision)
                state.resolved_at = now
            comparison = await self.comparer.compare(
                spec,
                state.revision,
                self.live.app_objects(name),
                project=project,
                hard=state.hard_refresh,
            )
        except Exception as err:  # a bad manifest marks this app; it never vanishes silently
            state.refresh = state.hard_refresh = False
            state.comparison = None
            if isinstance(err, ConveyorError):
                message = str(err.args[0])
            else:
                log.warning("comparison failed", app=name, error=repr(err))
                message = f"cannot compare the rendered manifests: {type(err).__name__}: {err}"
            conditions.append({"type": kind, "message": message})
            await self._save_status(state, self._status(state, None, conditions))
            self._schedule_poll(name)
            return
        state.refresh = state.hard_refresh = False
        state.comparison = comparison
        conditions.extend(comparison.conditions)
        await self._save_status(state, self._status(state, comparison, conditions))
        self._maybe_auto_sync(state, comparison)
        self._schedule_poll(name)

    def _schedule_poll(self, name: str) -> None:
        jitter = 1.0 + self._rng.uniform(-0.1, 0.1)
        self._queue.add_after(name, self.options.poll_interval * jitter)

    def _status(
        self, state: AppState, comparison: Comparison | None, conditions: list[dict[str, Any]]
    ) -> dict[str, Any]:
        now = _now_iso(self.clock)
        previous = state.status
        status: dict[str, Any] = {
            "sync": {
                "status": comparison.sync_status if comparison else "Unknown",
                "revision": comparison.revision if comparison else (state.revision or ""),
                "comparedTo": {
                    "source": state.spec.source,
                    "destination": state.manifest.get("spec", {}).get("destination", {}),
                },
            },
            "health": comparison.health if comparison else {"status": "Unknown"},
            "resources": comparison.resources if comparison else previous.get("resources", []),
            "summary": comparison.summary if comparison else previous.get("summary", {}),
            "conditions": [
                {**c, "lastTransitionTime": _transition(previous, c, now)} for c in conditions
            ],
            "sourceType": comparison.source_type if comparison else previous.get("sourceType", ""),
            "reconciledAt": now,
        }
        if "operationState" in previous:
            status["operationState"] = previous["operationState"]
        if "history" in previous:
            status["history"] = previous["history"]
        if not status["conditions"]:
            del status["conditions"]
        return status

    def _maybe_auto_sync(self, state: AppState, comparison: Comparison) -> None:
        spec = state.spec
        if not spec.automated or comparison.sync_status != "OutOfSync":
            if comparison.sync_status == "Synced":
                state.self_heal_attempts = 0
            return
        if state.operation is not None and not state.operation.done():
            return
        if not comparison.desired_count and not spec.allow_empty:
            return  # would delete everything: Argo CD refuses unless allowEmpty
        last = state.status.get("operationState") or {}
        last_revision = ((last.get("syncResult") or {}).get("revision")) or (
            (last.get("operation") or {}).get("sync", {}).get("revision")
        )
        same_revision = last_revision == comparison.revision
        if same_revision and last.get("phase") in ("Failed", "Error"):
            return  # Argo CD does not retry a failed revision on its own (retry does)
        if same_revision and last.get("phase") == "Succeeded":
            if not spec.self_heal:
                return
            now = self.clock.monotonic()
            if now < state.next_self_heal:
                self._queue.add_after(spec.name, state.next_self_heal - now)
                return
            state.self_heal_attempts += 1
            delay = min(
                self.options.self_heal_backoff * 2 ** (state.self_heal_attempts - 1),
                self.options.self_heal_backoff_cap,
            )
            state.next_self_heal = now + delay
            log.info("self-healing drift", app=spec.name, attempt=state.self_heal_attempts)
        asyncio.get_running_loop().create_task(self._auto_sync(spec.name, comparison.revision))

    async def _auto_sync(self, name: str, revision: str) -> None:
        try:
            await self.sync(name, revision=revision, automated=True)
        except ConflictError:
            pass
        except ConveyorError as err:
            log.warning("automated sync could not start", app=name, error=str(err))

    def _launch(self, state: AppState, record: OperationRecord) -> None:
        state.operation_id = record.id
        self._set_operation_state(
            state, phase="Running", message="", record=record, started=rfc3339(record.started_at)
        )
        state.operation = asyncio.get_running_loop().create_task(
            self._run_operation(state, record), name=f"sync-{state.spec.name}"
        )

    def _set_operation_state(
        self,
        state: AppState,
        *,
        phase: str,
        message: str,
        record: OperationRecord | None = None,
        started: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        current = dict(state.status.get("operationState") or {})
        if record is not None:
            current = {"operation": record.operation, "startedAt": started, "retryCount": 0}
        current.update(phase=phase, message=message, **extra)
        state.status = {**state.status, "operationState": current}
        self._emit(state)
        return current

    async def _run_operation(self, state: AppState, record: OperationRecord) -> None:
        sync = record.operation.get("sync", {})
        attempt = 0
        started = self.clock.now()
        outcome = SyncOutcome("Error", "not started")
        revision = ""
        try:
            while True:
                try:
                    revision, request = await self._request(state, sync)
                    op_state = self._set_operation_state(
                        state, phase="Running", message="syncing", retryCount=attempt
                    )

                    async def progress(
                        resources: list[dict[str, Any]],
                        revision: str = revision,
                        attempt: int = attempt,
                    ) -> None:
                        result = {
                            "revision": revision,
                            "resources": resources,
                            "source": sync.get("source"),
                        }
                        self._set_operation_state(
                            state, phase="Running", message="syncing", syncResult=result
                        )
                        await self.repo.update_operation(
                            record.id, phase="Running", message="syncing",
                            state={"syncResult": result, "retryCount": attempt},
                        )  # fmt: skip

                    del op_state
                    outcome = await self.executor.run(request, progress)
                except ConveyorError as err:
                    outcome = SyncOutcome("Failed", str(err.args[0]))
                except Exception as err:  # never leave an operation Running
                    log.exception("sync error", app=state.spec.name)
                    outcome = SyncOutcome("Error", f"sync error: {type(err).__name__}: {err}")
                if outcome.phase == "Succeeded" or attempt >= state.spec.retry.limit:
                    break
                attempt += 1
                delay = state.spec.retry.delay(attempt)
                self._set_operation_state(
                    state,
                    phase="Running",
                    message=f"{outcome.message} (retrying attempt #{attempt} in {delay:.0f}s)",
                    retryCount=attempt,
                )
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            if not state.terminate_requested:
                raise  # controller shutting down: the store keeps it Running, to resume
            state.terminate_requested = False
            outcome = SyncOutcome("Failed", "Operation terminated")
        await self._finish(state, record, outcome, revision, started, attempt)

    async def _request(self, state: AppState, sync: dict[str, Any]) -> tuple[str, SyncRequest]:
        spec = state.spec
        source = sync.get("source") or spec.source
        project = await self._project(spec.project)
        check_project(project, spec)
        # A rollback deploys a history entry's source: it must still be allowed today.
        used = AppSpec.from_manifest(
            {"metadata": {"name": spec.name}, "spec": {**state.manifest["spec"], "source": source}}
        )
        check_source(used)
        check_project(project, used)
        revision = sync.get("revision") or ""
        if not revision or len(revision) != 40:
            revision = await self.comparer.resolve(
                str(source.get("repoURL", spec.repo_url)),
                revision or spec.target_revision,
                force=False,
            )
        comparison = await self.comparer.compare(
            spec, revision, self.live.app_objects(spec.name), project=project, source=source
        )
        if comparison.errors:
            raise ValidationError("; ".join(comparison.errors))
        selected = sync.get("resources") or []
        keys = frozenset(
            ObjectKey(r.get("group", ""), r["kind"], r.get("namespace", ""), r["name"])
            for r in selected
        )
        options = PlanOptions(
            prune=bool(sync.get("prune")),
            selected=keys or None,
            sync=SyncOptions.parse(sync.get("syncOptions") or []),
        )
        request = SyncRequest(
            app=spec.name,
            revision=revision,
            namespace=spec.namespace,
            desired=comparison.desired,
            out_of_sync=frozenset(comparison.out_of_sync),
            options=options,
            dry_run=bool(sync.get("dryRun")),
            ignore_rules=comparison.ignore_rules,
        )
        return revision, request

    async def _finish(
        self,
        state: AppState,
        record: OperationRecord,
        outcome: SyncOutcome,
        revision: str,
        started: Any,
        attempt: int,
    ) -> None:
        sync = record.operation.get("sync", {})
        result = {
            "revision": revision,
            "resources": outcome.resources,
            "source": sync.get("source"),
        }
        finished = self.clock.now()
        history = None
        if outcome.phase == "Succeeded" and not sync.get("dryRun"):
            history = HistoryInput(
                revision=revision,
                deploy_started_at=record.started_at,
                deployed_at=finished,
                initiated_by=record.operation.get("initiatedBy", {}),
                source=sync.get("source") or state.spec.source,
            )
        entry = await self.repo.finish_operation(
            record.id,
            phase=outcome.phase,
            message=outcome.message,
            state={"syncResult": result, "retryCount": attempt},
            finished_at=finished,
            history=history,
            history_limit=state.spec.history_limit,
        )
        if entry is not None:  # the store trimmed the same way; no need to read it back
            kept = [h for h in state.status.get("history", []) if h.get("id") != entry.id]
            kept.append(entry.to_dict())
            state.status = {**state.status, "history": kept[-max(state.spec.history_limit, 1) :]}
        state.operation = None  # before anyone hears of the end: a new sync may start at once
        self._set_operation_state(
            state,
            phase=outcome.phase,
            message=outcome.message,
            syncResult=result,
            finishedAt=rfc3339(finished),
            retryCount=attempt,
        )
        await self.repo.save_status(state.spec.name, state.status)
        log.info("sync finished", app=state.spec.name, phase=outcome.phase, revision=revision)
        if self.observer is not None:
            self.observer.sync_finished(state.spec.name, outcome.phase)
        self._queue.add(state.spec.name)

    async def _resume(self, record: OperationRecord) -> None:
        state = self._apps.get(record.app)
        if state is None:
            await self.repo.finish_operation(
                record.id, phase="Failed", message="application no longer exists",
                state=record.state, finished_at=self.clock.now(), history=None, history_limit=0,
            )  # fmt: skip
            return
        if record.phase == "Terminating":
            await self._finish(
                state, record, SyncOutcome("Failed", "Operation terminated"), "", None, 0
            )
            return
        log.info("resuming interrupted sync", app=record.app, operation=record.id)
        self._launch(state, record)


def _delete_rank(obj: dict[str, Any]) -> int:
    """Delete workloads before what they use, namespaces last."""
    order = {"Namespace": 0, "ConfigMap": 1, "Secret": 1, "Service": 2}
    return -order.get(str(obj.get("kind")), 3)


def _without_automated(manifest: dict[str, Any]) -> dict[str, Any]:
    out = {**manifest, "spec": dict(manifest.get("spec") or {})}
    policy = dict(out["spec"].get("syncPolicy") or {})
    policy.pop("automated", None)
    out["spec"]["syncPolicy"] = policy
    return out


def _comparable(status: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "reconciledAt"}


def _transition(previous: dict[str, Any], condition: dict[str, Any], now: str) -> str:
    for old in previous.get("conditions") or []:
        if old.get("type") == condition["type"] and old.get("message") == condition["message"]:
            return str(old.get("lastTransitionTime", now))
    return now


def _normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if url.endswith(".git"):
        url = url[:-4]
    return url.lower()


def _revision_matches(target_revision: str, ref: str) -> bool:
    """Does a push to ``ref`` (refs/heads/main, refs/tags/v1) concern ``target_revision``?"""
    short = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    return target_revision in ("HEAD", "", short, ref) or len(target_revision) == 40
