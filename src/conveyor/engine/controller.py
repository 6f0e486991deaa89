"""The application controller: keeps every app as Git says, and runs its syncs.

One work queue keyed by app name (one reconcile per app at a time) is fed by a jittered poll,
explicit refreshes, webhook notices of a push, and the target's watch (an app's object
changed). A reconcile reads like gitops-engine's ``Sync()``: resolve the revision (from the
shared mirror, fetched at most once per poll period unless a refresh asks), get the live
objects (cached from the watch), compare (rendering is cached by commit), record the status,
then ``decide`` (``engine.autosync``) and sync. The parts live next to this module, one object
each: ``appstate`` (what is known about one app), ``operations`` (launch, run, retry, finish,
resume, terminate), ``autosync`` (the pure policy decision), ``status`` (pure status and
condition transitions) and ``tasks`` (every background task owned). Listeners hear typed
engine events (``engine.events``).
"""

from __future__ import annotations

import random
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic

from conveyor.clock import Clock, SystemClock
from conveyor.engine.appofapps import AppOfApps, Registry
from conveyor.engine.appstate import AppState
from conveyor.engine.autosync import AutoSyncState, Decision, SelfHealBackoff, Verdict, decide
from conveyor.engine.compare import Comparer, Comparison
from conveyor.engine.events import (
    AppCreated,
    AppDeleted,
    AppUpdated,
    EngineEvent,
    EngineListener,
    Initiator,
)
from conveyor.engine.livestate import LiveState
from conveyor.engine.operations import OperationRunner, SyncAsk
from conveyor.engine.repository import Repository
from conveyor.engine.status import reconciled, same_but_time, status_events, with_condition
from conveyor.engine.statuswriter import StatusWriter
from conveyor.engine.sync import SyncExecutor
from conveyor.engine.tasks import TaskOwner
from conveyor.engine.teardown import delete_all
from conveyor.engine.validation import (
    check_project,
    check_source,
    load_application,
    load_project,
    project_or_default,
)
from conveyor.errors import (
    ConflictError,
    ConveyorError,
    NotFoundError,
    TemporaryError,
    ValidationError,
)
from conveyor.logging import get_logger
from conveyor.model.application import Application
from conveyor.model.appproject import AppProject
from conveyor.model.objects import ObjectKey
from conveyor.model.repourls import repo_identity
from conveyor.model.revisions import push_concerns
from conveyor.model.status import ApplicationStatus, Condition, ConditionType
from conveyor.targets.protocol import Target
from conveyor.workqueue import WorkQueue

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
    namespace: str = "argocd"
    """Conveyor's own namespace: Applications and AppProjects synced there are registered
    (app of apps); it is created when a sync first puts one there."""
    status_write_interval: float = 0.1
    """Statuses are written behind, all changed apps together, this long after a change."""
    live_debounce: float = 1.0
    """While an app's operation runs, a change of its live objects (mostly the sync's own
    writes) reconciles it at most this often; the operation's end reconciles it at once."""


class ControllerObserver(Protocol):
    """What the controller reports for metrics besides events (``/metrics`` implements it)."""

    def reconciled(self, app: str, duration: float) -> None: ...


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
            target, live, clock=self.clock, step_timeout=self.options.step_timeout,
            own_namespace=self.options.namespace,
        )  # fmt: skip
        self._backoff = SelfHealBackoff(
            self.options.self_heal_backoff, self.options.self_heal_backoff_cap
        )
        self._rng = rng or random.Random()
        self._apps: dict[str, AppState] = {}
        self._projects: dict[str, AppProject] = {}
        self._queue: WorkQueue[str] = WorkQueue(self._reconcile, workers=self.options.workers)
        self._event_listeners: list[EngineListener] = []
        self._tasks = TaskOwner(self._task_failed)
        self.statuses = StatusWriter(
            repository.save_statuses, interval=self.options.status_write_interval
        )
        self.operations = OperationRunner(
            repository, comparer, self.executor, live, self.clock,
            tasks=self._tasks, project=self._project, publish=self._publish,
            emit=self._emit, requeue=self._requeue_now, statuses=self.statuses,
        )  # fmt: skip
        self.children = AppOfApps(
            live,
            Registry(self.apply_application, self.apply_project, self._delete_child,
                     self._registered),
            self._tasks,
            namespace=self.options.namespace,
        )  # fmt: skip

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the apps, watch the target, resume interrupted syncs, start reconciling."""
        await self.live.start()
        self.live.add_listener(lambda app, _key: self._on_live_change(app))
        self.live.add_listener(self.children.on_change)
        for stored in await self.repo.list_apps():
            try:
                app, warnings = load_application(stored.manifest)
            except ValidationError as err:
                log.warning("stored application is invalid", app=stored.name, error=str(err))
                continue
            state = AppState(app, warnings)
            state.set_status(_stored_status(stored.name, stored.status))
            self._apps[stored.name] = state
            # Listeners that follow status (the deployment record's servedAt) learn where each
            # app stands from the same events as later changes: from "" to what was stored.
            for event in status_events(
                stored.name, ApplicationStatus(), state.status, self.clock.now()
            ):
                self._emit(event)
        self.statuses.start()
        self._queue.start()
        for op in await self.repo.running_operations():
            await self.operations.resume(self._apps.get(op.app), op)
        for name in self._apps:
            self._queue.add(name)

    async def stop(self) -> None:
        """Stop reconciling; running syncs are cancelled and stay Running in the store,
        to be resumed by the next start (as after a crash)."""
        await self._queue.stop()
        await self._tasks.cancel_all()
        await self.statuses.stop()
        await self.live.stop()

    def add_event_listener(self, listener: EngineListener) -> None:
        """Called with every engine event (``engine.events``), in order, on the event loop.
        ``AppDeleted`` is delivered while the app can still be read."""
        self._event_listeners.append(listener)

    async def settle(self) -> None:
        """Wait until no reconcile is pending (tests, benchmarks)."""
        await self._queue.drain()

    def requeue_all(self) -> None:
        """Reconcile every app now, as a poll pass does (without forcing a git fetch)."""
        for name in self._apps:
            self._queue.add(name)

    def operation_running(self, name: str) -> bool:
        return self._state(name).running

    # -- applications -----------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._apps)

    def application(self, name: str) -> dict[str, Any]:
        """The Application in Argo CD's shape, status included."""
        return self._state(name).to_dict()

    def app_model(self, name: str) -> Application:
        """The typed Application ``name`` (NotFoundError when there is none)."""
        return self._state(name).app

    def applications(self) -> list[dict[str, Any]]:
        return [self.application(n) for n in self.names()]

    def comparison(self, name: str) -> Comparison | None:
        """The last comparison of ``name`` (None until one succeeded)."""
        return self._state(name).comparison

    async def apply_application(
        self, manifest: dict[str, Any], *, upsert: bool = True
    ) -> dict[str, Any]:
        """Create or update an Application; returns it with its warnings.

        Invalid manifests raise ValidationError naming the field; an app whose project does
        not allow its repo or destination is refused before it is stored.
        """
        app, warnings = load_application(manifest)
        check_source(app.spec.source)
        project = await self._project(app.project)
        check_project(project, app)
        existing = self._apps.get(app.name)
        stored = app.to_manifest()
        if existing is not None and not upsert and existing.manifest.get("spec") != stored["spec"]:
            raise ConflictError(
                f"application {app.name!r} exists with a different spec; use --upsert to replace it"
            )
        await self.repo.save_app(app.name, stored)
        if existing is None:
            self._apps[app.name] = AppState(app, warnings)
            self._emit(AppCreated(app.name, app.project, self.clock.now()))
        else:
            existing.replace(app, warnings)
            existing.refresh = True
        self._queue.add(app.name)
        return {"application": stored, "warnings": warnings}

    async def apply_project(self, manifest: dict[str, Any]) -> dict[str, Any]:
        project, warnings = load_project(manifest)
        name = str(project["metadata"]["name"])
        await self.repo.save_project(name, project)
        self._projects[name] = project_or_default(name, project)
        self._requeue_project(name)
        return {"project": project, "warnings": warnings}

    async def delete_project(self, name: str) -> bool:
        """Forget a stored project (False when there is none); its cached copy goes too."""
        self._projects.pop(name, None)
        deleted = await self.repo.delete_project(name)
        self._requeue_project(name)
        return deleted

    async def delete_application(self, name: str, *, cascade: bool = True) -> None:
        """Forget an app; with ``cascade`` (the default) its live objects are deleted too,
        in the reverse of the order a sync applies them (Namespaces last)."""
        state = self._state(name)
        if state.operation is not None:
            state.operation.task.cancel()
        state.deleting = True  # no reconcile from now on: it would see the objects go
        try:
            if cascade:
                await delete_all(
                    self.target, self.live, self.live.app_objects(name), state.app.sync_options
                )
            self._queue.forget(name)
            self.statuses.drop(name)
            await self.repo.delete_app(name)
        except BaseException:
            state.deleting = False
            self._queue.add(name)
            raise
        self._emit(AppDeleted(name, state.project, self.clock.now()))
        del self._apps[name]
        state.gone()

    async def _delete_child(self, name: str, cascade: bool) -> None:
        if name in self._apps:
            await self.delete_application(name, cascade=cascade)

    def _registered(self, name: str) -> dict[str, Any] | None:
        state = self._apps.get(name)
        return state.manifest if state is not None else None

    def refresh(self, name: str, *, hard: bool = False) -> None:
        """Look the revision up again (and with ``hard``, render again) at the next reconcile."""
        state = self._state(name)
        self.comparer.invalidate(state.app.spec.source.repo_url)
        state.refresh = True
        state.hard_refresh = state.hard_refresh or hard
        self._queue.add(name)

    def notify_push(self, repo_url: str, ref: str | None = None) -> list[str]:
        """A webhook says ``repo_url`` got a push (to ``ref``): refresh the apps it concerns."""
        touched = []
        wanted = repo_identity(repo_url)
        for name, state in self._apps.items():
            source = state.app.spec.source
            if repo_identity(source.repo_url) != wanted:
                continue
            if ref is not None and not push_concerns(source.revision, ref):
                continue
            self.comparer.invalidate(source.repo_url)
            state.refresh = True
            self._queue.add(name)
            touched.append(name)
        return sorted(touched)

    def wait_reconciled(self, name: str, timeout: float = 30.0) -> Coroutine[Any, Any, bool]:
        """Wait for a reconcile of ``name`` that starts after this call to end.

        The wait begins when this is called (so ``wait = wait_reconciled(n); refresh(n);
        await wait`` cannot miss the refresh's reconcile); True when it ended, False after
        ``timeout`` seconds or when the app was deleted meanwhile.
        """
        return self._state(name).wait_reconciled(timeout)

    def wait_changed(self, name: str, timeout: float = 30.0) -> Coroutine[Any, Any, bool]:
        """Wait for the next change of ``name``'s status after this call (a reconcile's
        result, an operation's progress); True when it came, False after ``timeout``."""
        return self._state(name).wait_changed(timeout)

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
        initiator: Initiator | None = None,
        sync_options: list[str] | None = None,
        retry_limit: int | None = None,
    ) -> dict[str, Any]:
        """Start a sync operation; returns its first operationState. ``sync_options`` and
        ``retry_limit`` apply to this operation only (``argocd app sync --replace``, ...).

        Raises ConflictError when another operation is running on the app.
        """
        state = self._state(name)
        if state.running:
            raise ConflictError(f"another operation is already in progress on {name!r}")
        who = initiator or (Initiator.AUTOMATED if automated else Initiator.USER)
        ask = SyncAsk(
            initiator=who,
            username="" if automated else initiated_by,
            revision=revision or "",
            prune=prune,
            dry_run=dry_run,
            resources=tuple(resources or ()),
            source=source,
            sync_options=tuple(sync_options or ()),
            retry_limit=retry_limit,
        )
        await self.operations.start(state, ask)
        return dict(state.to_dict()["status"].get("operationState") or {})

    async def terminate(self, name: str) -> bool:
        """Stop the running operation of ``name``; False when none runs."""
        return await self.operations.terminate(self._state(name))

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
        if state.app.automated is not None:
            await self.apply_application(_without_automated(state.manifest))
            message += "; automated sync was disabled so that it does not undo the rollback"
        await self.sync(
            name,
            revision=entry.revision,
            prune=True,
            initiated_by=initiated_by,
            source=entry.source,
            initiator=Initiator.ROLLBACK,
        )
        return {"message": message, "application": self.application(name)}

    # -- reconcile --------------------------------------------------------------------------

    async def _reconcile(self, name: str) -> None:
        started = self.clock.monotonic()
        state = self._apps.get(name)
        if state is None or state.deleting:
            return
        number = state.reconcile_started()
        try:
            await self._reconcile_app(state)
        except Exception:
            self._schedule_poll(name)  # e.g. the store failed: look again, never give up
            raise
        finally:
            state.reconcile_ended(number)
            if self.observer is not None and name in self._apps:
                self.observer.reconciled(name, self.clock.monotonic() - started)

    async def _reconcile_app(self, state: AppState) -> None:
        """Guard, get the revision and the live objects, compare, record, decide, sync."""
        conditions = [
            Condition(type=ConditionType.UNKNOWN_FIELD, message=w) for w in state.warnings
        ]  # warnings are conditions the UI shows; they never block a sync
        conditions += [Condition(type=c.type, message=c.message) for c in self.target.conditions()]
        conditions += state.failures
        kind = ConditionType.INVALID_SPEC_ERROR  # until the project admits the app
        try:
            project = await self._project(state.project)
            check_project(project, state.app)
            kind = ConditionType.COMPARISON_ERROR
            revision = await self._revision(state)
            live = self.live.app_objects(state.name)
            comparison = await self.comparer.compare(
                state.app, revision, live, project=project, hard=state.hard_refresh,
                previous=state.comparison,
            )  # fmt: skip
        except Exception as err:  # a bad manifest marks this app; it never vanishes silently
            state.refresh = state.hard_refresh = False
            state.comparison = None
            conditions.append(Condition(type=kind, message=_message(state.name, err)))
            await self._record(state, None, conditions)
            delay = max(err.delay, 0.1) if isinstance(err, TemporaryError) else None
            self._schedule_poll(state.name, delay)
            return
        state.refresh = state.hard_refresh = False
        state.comparison = comparison
        conditions.extend(comparison.conditions)
        decision = self._decide(state, comparison)
        if decision.sync_error:
            conditions.append(Condition(type=ConditionType.SYNC_ERROR, message=decision.sync_error))
        await self._record(state, comparison, conditions)
        await self._auto_sync(state, comparison, decision)
        self._schedule_poll(state.name)

    async def _revision(self, state: AppState) -> str:
        """The commit the app's targetRevision names, looked up again when due."""
        now = self.clock.monotonic()
        due = now - state.resolved_at >= self.options.poll_interval
        if state.refresh or due or state.revision is None:
            source = state.app.spec.source
            state.revision = await self.comparer.resolve(source.repo_url, source.revision)
            state.resolved_at = now
        return state.revision

    async def _record(
        self, state: AppState, comparison: Comparison | None, conditions: list[Condition]
    ) -> None:
        status = reconciled(
            state.status,
            comparison=comparison,
            revision=state.revision,
            compared_to=state.compared_to,
            conditions=conditions,
            now=self.clock.now(),
        )
        await self._save_status(state, status)

    def _decide(self, state: AppState, comparison: Comparison) -> Decision:
        """Whether the policy asks for an automated sync of ``comparison`` now."""
        return decide(
            AutoSyncState(
                policy=state.app.automated,
                operation_running=state.running,
                last_operation=state.status.operation_state,
                self_heal_attempts=state.self_heal_attempts,
                next_self_heal=state.next_self_heal,
            ),
            comparison,
            self.clock.monotonic(),
            backoff=self._backoff,
        )

    async def _auto_sync(self, state: AppState, comparison: Comparison, decision: Decision) -> None:
        """Start the sync ``decision`` asks for, with the comparison in hand."""
        state.self_heal_attempts = decision.self_heal_attempts
        state.next_self_heal = decision.next_self_heal
        if decision.verdict is Verdict.WAIT:
            self._queue.add_after(state.name, decision.retry_after)
            return
        if decision.verdict is not Verdict.SYNC or decision.initiator is None:
            return
        log.info("automated sync", app=state.name, reason=decision.reason)
        ask = SyncAsk(initiator=decision.initiator, revision=decision.revision)
        try:
            await self.operations.start(state, ask, comparison=comparison)
        except Exception as err:  # shown on the app, not lost in a log
            log.warning("automated sync could not start", app=state.name, error=repr(err))
            self._task_failed(state.name, err, what="automated sync could not start")

    def _schedule_poll(self, name: str, delay: float | None = None) -> None:
        """The next look at ``name``: after the poll interval (jittered), or after the delay
        a temporary error asked for."""
        if delay is None:
            delay = self.options.poll_interval * (1.0 + self._rng.uniform(-0.1, 0.1))
        self._queue.add_after(name, delay)

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

    def _requeue_project(self, project: str) -> None:
        for state in self._apps.values():
            if state.project == project:
                self._queue.add(state.name)

    def _on_live_change(self, app: str) -> None:
        state = self._apps.get(app)
        if state is None or state.deleting:
            return
        if state.running:  # the sync's own writes: look later, or when it ends
            self._queue.add_after(app, self.options.live_debounce)
        else:
            self._queue.add(app)

    def _requeue_now(self, app: str) -> None:
        """Reconcile ``app`` at once, in place of any look scheduled for later (an
        operation ended: the debounced looks of its own writes are not needed any more;
        the reconcile schedules the next poll)."""
        self._queue.forget(app)
        self._queue.add(app)

    def _task_failed(
        self, app: str, error: BaseException, *, what: str = "a background task failed"
    ) -> None:
        """Show a failed task on its app at once (the next reconcile recomputes conditions)."""
        state = self._apps.get(app)
        if state is None:
            return
        message = f"{what}: {type(error).__name__}: {error}"
        condition = Condition(type=ConditionType.SYNC_ERROR, message=message)
        state.set_status(with_condition(state.status, condition, self.clock.now()))
        if condition not in state.failures:
            state.failures.append(condition)
        self._publish(state)

    def _publish(self, state: AppState) -> None:
        """Tell the listeners that ``state``'s status changed."""
        state.changed()
        if self._event_listeners:
            self._emit(AppUpdated(state.name, self.clock.now()))

    def _emit(self, event: EngineEvent) -> None:
        for listener in self._event_listeners:
            try:
                listener(event)
            except Exception:  # a listener's bug never stops the engine
                log.exception("event listener failed", event=type(event).__name__)

    async def _save_status(self, state: AppState, status: ApplicationStatus) -> None:
        old = state.status
        if state.deleting or same_but_time(status, old):
            return
        state.set_status(status)
        self.statuses.put(state)
        self._publish(state)
        for event in status_events(state.name, old, status, self.clock.now()):
            self._emit(event)


def _message(app: str, err: Exception) -> str:
    if isinstance(err, ConveyorError):
        return str(err.args[0])
    log.warning("comparison failed", app=app, error=repr(err))
    return f"cannot compare the rendered manifests: {type(err).__name__}: {err}"


def _stored_status(name: str, raw: dict[str, Any]) -> ApplicationStatus:
    try:
        return ApplicationStatus.from_dict(raw)
    except pydantic.ValidationError as err:
        log.warning("stored status is unreadable; starting afresh", app=name, error=str(err))
        return ApplicationStatus()


def _without_automated(manifest: dict[str, Any]) -> dict[str, Any]:
    out = {**manifest, "spec": dict(manifest.get("spec") or {})}
    policy = dict(out["spec"].get("syncPolicy") or {})
    policy.pop("automated", None)
    out["spec"]["syncPolicy"] = policy
    return out
