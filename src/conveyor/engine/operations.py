"""Sync operations from start to end: launch, run, retry, finish, resume, terminate.

An operation is written to the store before it starts (so that a restarted controller resumes
it), runs as a task the ``TaskOwner`` holds, retries with the app's backoff, and is finished
together with its history entry in one transaction. Its state is the model's
``OperationState``, replaced at each step; listeners hear ``OperationStarted`` and
``OperationFinished``. An automated sync hands over the comparison that triggered it, so the
first attempt neither renders nor checks the project again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from conveyor.clock import Clock
from conveyor.engine.appstate import AppState, RunningOperation
from conveyor.engine.compare import Comparer, Comparison
from conveyor.engine.events import EngineEvent, Initiator, OperationFinished, OperationStarted
from conveyor.engine.livestate import LiveState
from conveyor.engine.repository import HistoryInput, OperationRecord, Repository
from conveyor.engine.status import with_history, with_operation
from conveyor.engine.statuswriter import StatusWriter
from conveyor.engine.sync import SyncExecutor, SyncOutcome, SyncRequest
from conveyor.engine.syncplan import PlanOptions
from conveyor.engine.tasks import TaskOwner
from conveyor.engine.validation import check_project, check_source
from conveyor.errors import ConveyorError, ValidationError
from conveyor.logging import get_logger
from conveyor.model import trailers
from conveyor.model.application import Application
from conveyor.model.appproject import AppProject
from conveyor.model.objects import ObjectKey
from conveyor.model.source import Source
from conveyor.model.status import (
    INITIATOR_INFO,
    HistoryEntry,
    Info,
    InitiatedBy,
    Operation,
    OperationPhase,
    OperationState,
    ResourceResult,
    RetryLimit,
    SyncOperation,
    SyncOperationResource,
    SyncResult,
)
from conveyor.model.syncoptions import SyncOptions
from conveyor.model.trailers import AppCommit
from conveyor.source import is_full_sha

log = get_logger(component="operations")


@dataclass(frozen=True)
class SyncAsk:
    """What a sync was asked to do (``app sync`` flags, a rollback, the auto-sync policy)."""

    initiator: Initiator
    username: str = ""
    """Who asked (user and rollback operations); "" when the controller did."""
    revision: str = ""
    prune: bool | None = None
    """None: the app's ``automated.prune``."""
    dry_run: bool = False
    resources: Sequence[ObjectKey] = ()
    source: dict[str, Any] | None = None
    """A source other than the app's (a rollback's history entry), as Argo CD writes it."""
    sync_options: Sequence[str] = ()
    """Options for this operation only (``app sync --replace``, ``--force``), laid over the
    app's ``syncOptions`` key by key."""
    retry_limit: int | None = None
    """Retries for this operation only (``app sync --retry-limit``); None: the app's."""


def retry_limit(app: Application) -> int:
    retry = app.spec.sync_policy.retry if app.spec.sync_policy else None
    return retry.limit if retry else 0


def operation_retry_limit(app: Application, operation: Operation) -> int:
    """The retries an operation gets: what it recorded (``--retry-limit``), else the app's."""
    if operation.retry is not None:
        return operation.retry.limit
    return retry_limit(app)


def retry_delay(app: Application, attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1-based), from ``syncPolicy.retry.backoff``."""
    retry = app.spec.sync_policy.retry if app.spec.sync_policy else None
    if retry is None:
        return 0.0
    return retry.delay(attempt - 1).total_seconds()


def _sync_options(app: Application, extra: Sequence[str] = ()) -> list[str]:
    """``syncOptions`` as ``Key=value``, one per key (the last one given wins), with the
    operation's own options laid over the app's."""
    given: dict[str, str] = {}
    app_options = (app.spec.sync_policy.sync_options if app.spec.sync_policy else None) or []
    for option in [*app_options, *extra]:
        key, _, value = option.partition("=")
        given[key.strip()] = value.strip()
    return [f"{k}={v}" for k, v in given.items()]


class OperationRunner:
    """Runs the sync operations of every app of one controller."""

    def __init__(
        self,
        repo: Repository,
        comparer: Comparer,
        executor: SyncExecutor,
        live: LiveState,
        clock: Clock,
        *,
        tasks: TaskOwner,
        project: Callable[[str], Awaitable[AppProject]],
        publish: Callable[[AppState], None],
        emit: Callable[[EngineEvent], None],
        requeue: Callable[[str], None],
        statuses: StatusWriter,
    ) -> None:
        self.repo = repo
        self.comparer = comparer
        self.executor = executor
        self.live = live
        self.clock = clock
        self._tasks = tasks
        self._project = project
        self._publish = publish
        self._emit = emit
        self._requeue = requeue
        self._statuses = statuses

    # -- start ------------------------------------------------------------------------------

    async def start(
        self, state: AppState, ask: SyncAsk, *, comparison: Comparison | None = None
    ) -> OperationRecord:
        """Record an operation and launch it. ``comparison`` (automated syncs) is the one
        that decided it: it is used as it is, its project already checked."""
        app = state.app
        automated = app.automated
        prune = ask.prune if ask.prune is not None else bool(automated and automated.prune)
        operation = Operation(
            sync=SyncOperation(
                revision=ask.revision,
                prune=prune,
                dry_run=ask.dry_run,
                sync_options=_sync_options(app, ask.sync_options),
                resources=[
                    SyncOperationResource(
                        group=k.group, kind=k.kind, namespace=k.namespace, name=k.name
                    )
                    for k in ask.resources
                ],
                source=ask.source or state.compared_to["source"],
            ),
            initiated_by=InitiatedBy(automated=True)
            if ask.initiator in (Initiator.AUTOMATED, Initiator.SELF_HEAL)
            else InitiatedBy(username=ask.username),
            info=[Info(name=INITIATOR_INFO, value=ask.initiator.value)],
            retry=RetryLimit(
                limit=retry_limit(app) if ask.retry_limit is None else ask.retry_limit
            ),
        )
        record = await self.repo.create_operation(state.name, operation.to_dict(), self.clock.now())
        self.launch(state, record, ask.initiator, ask.username, comparison=comparison)
        return record

    def launch(
        self,
        state: AppState,
        record: OperationRecord,
        initiator: Initiator,
        username: str,
        *,
        comparison: Comparison | None = None,
        resumed: bool = False,
    ) -> None:
        operation = Operation.from_dict(record.operation)
        state.failures.clear()  # a new operation: what failed before is history
        running = OperationState(
            operation=operation,
            phase=OperationPhase.RUNNING,
            message="",
            started_at=record.started_at,
            retry_count=0,
        )
        state.set_status(with_operation(state.status, running))
        self._publish(state)
        task = self._tasks.start(
            state.name,
            self._run(state, record, operation, comparison, resumed=resumed),
            name=f"sync-{state.name}",
        )
        state.operation = RunningOperation(task, record.id, initiator, username)
        self._emit(
            OperationStarted(
                app=state.name,
                project=state.project,
                destination=state.destination,
                operation_id=record.id,
                revision=operation.sync.revision,
                initiator=initiator,
                username=username,
                dry_run=operation.sync.dry_run,
                at=record.started_at,
            )
        )

    async def resume(self, state: AppState | None, record: OperationRecord) -> None:
        """Carry on an operation that was Running when the last process stopped."""
        if state is None:
            await self.repo.finish_operation(
                record.id, phase="Failed", message="application no longer exists",
                state=record.state, finished_at=self.clock.now(), history=None, history_limit=0,
            )  # fmt: skip
            return
        operation = Operation.from_dict(record.operation)
        initiated = operation.initiated_by
        kept = operation.info_value(INITIATOR_INFO)  # how it started, kept across the restart
        if kept in set(Initiator):
            initiator = Initiator(kept)
        else:  # recorded before the info entry existed
            initiator = Initiator.AUTOMATED if initiated.automated else Initiator.USER
        if record.phase == OperationPhase.TERMINATING:
            state.operation = None
            outcome = SyncOutcome("Failed", "Operation terminated")
            await self._finish(state, record, outcome, "", 0, initiator, initiated.username)
            return
        log.info("resuming interrupted sync", app=record.app, operation=record.id)
        self.launch(state, record, initiator, initiated.username, resumed=True)

    async def terminate(self, state: AppState) -> bool:
        """Stop the running operation of ``state``; False when none runs."""
        running = state.operation
        if running is None or running.task.done():
            return False
        self._update(state, phase=OperationPhase.TERMINATING, message="terminating")
        running.terminate_requested = True
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        return True

    # -- run --------------------------------------------------------------------------------

    def _update(self, state: AppState, **changes: Any) -> None:
        current = state.status.operation_state
        if current is None:
            return
        state.set_status(with_operation(state.status, current.model_copy(update=changes)))
        self._publish(state)

    async def _run(
        self,
        state: AppState,
        record: OperationRecord,
        operation: Operation,
        comparison: Comparison | None,
        *,
        resumed: bool = False,
    ) -> None:
        sync = operation.sync
        attempt = 0
        outcome = SyncOutcome("Error", "not started")
        revision = ""
        running = state.operation
        try:
            while True:
                try:
                    revision, request = await self._request(
                        state, sync, comparison if attempt == 0 else None,
                        look_up=resumed and attempt == 0,
                    )  # fmt: skip
                    self._update(
                        state, phase=OperationPhase.RUNNING, message="syncing", retry_count=attempt
                    )
                    outcome = await self.executor.run(
                        request, self._progress(state, record, sync, revision, attempt)
                    )
                except ConveyorError as err:
                    outcome = SyncOutcome("Failed", str(err.args[0]))
                except Exception as err:  # never leave an operation Running
                    log.exception("sync error", app=state.name)
                    outcome = SyncOutcome("Error", f"sync error: {type(err).__name__}: {err}")
                limit = operation_retry_limit(state.app, operation)
                if outcome.phase == "Succeeded" or attempt >= limit:
                    break
                attempt += 1
                delay = retry_delay(state.app, attempt)
                self._update(
                    state,
                    phase=OperationPhase.RUNNING,
                    message=f"{outcome.message} (retrying attempt #{attempt} in {delay:.0f}s)",
                    retry_count=attempt,
                )
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            running = state.operation or running
            if running is None or not running.terminate_requested:
                raise  # controller shutting down: the store keeps it Running, to resume
            outcome = SyncOutcome("Failed", "Operation terminated")
        running = state.operation or running
        initiator = running.initiator if running else Initiator.USER
        username = running.username if running else ""
        state.operation = None  # before anyone hears of the end: a new sync may start at once
        await self._finish(state, record, outcome, revision, attempt, initiator, username)

    def _progress(
        self, state: AppState, record: OperationRecord, sync: SyncOperation, revision: str,
        attempt: int,
    ) -> Callable[[list[dict[str, Any]]], Awaitable[None]]:  # fmt: skip
        async def progress(resources: list[dict[str, Any]]) -> None:
            result = SyncResult(
                revision=revision,
                resources=[ResourceResult.from_dict(r) for r in resources],
                source=sync.source,
            )
            self._update(state, phase=OperationPhase.RUNNING, message="syncing", sync_result=result)
            await self.repo.update_operation(
                record.id, phase="Running", message="syncing",
                state={"syncResult": result.to_dict(), "retryCount": attempt},
            )  # fmt: skip

        return progress

    async def _request(
        self,
        state: AppState,
        sync: SyncOperation,
        comparison: Comparison | None,
        *,
        look_up: bool = False,
    ) -> tuple[str, SyncRequest]:
        """What to sync. ``look_up``: resolve even a full SHA (fetching the repository when
        the mirror lacks it): a resumed operation may run in another server's home."""
        app = state.app
        own = sync.source is None or sync.source == state.compared_to["source"]
        revision = sync.revision
        if comparison is None or not own or comparison.revision != revision:
            source = app.spec.source if own else _source(sync.source)
            project = await self._project(app.project)
            check_project(project, app)
            if not own:  # a rollback deploys a history entry's source: still allowed today?
                check_source(source)
                check_project(project, app, source)
            if look_up or not revision or not is_full_sha(revision):
                revision = await self.comparer.resolve(
                    source.repo_url, revision or app.spec.source.revision, force=False
                )
            comparison = await self.comparer.compare(
                app, revision, self.live.app_objects(app.name), project=project,
                source=None if own else source,
            )  # fmt: skip
        if comparison.errors:
            raise ValidationError("; ".join(comparison.errors))
        keys = frozenset(ObjectKey(r.group, r.kind, r.namespace, r.name) for r in sync.resources)
        options = PlanOptions(
            prune=sync.prune, selected=keys or None, sync=SyncOptions.parse(sync.sync_options)
        )
        request = SyncRequest(
            app=app.name,
            revision=revision,
            namespace=app.spec.destination.namespace,
            desired=comparison.desired,
            out_of_sync=frozenset(comparison.out_of_sync),
            options=options,
            dry_run=sync.dry_run,
            ignore_rules=comparison.ignore_rules,
        )
        return revision, request

    # -- finish -----------------------------------------------------------------------------

    async def _finish(
        self,
        state: AppState,
        record: OperationRecord,
        outcome: SyncOutcome,
        revision: str,
        attempt: int,
        initiator: Initiator,
        username: str,
    ) -> None:
        sync = Operation.from_dict(record.operation).sync
        app_commit = await self._app_commit(state, sync, revision)
        result = SyncResult(
            revision=revision,
            resources=[ResourceResult.from_dict(r) for r in outcome.resources],
            source=sync.source,
        )
        finished = self.clock.now()
        history = None
        if outcome.phase == "Succeeded" and not sync.dry_run:
            history = HistoryInput(
                revision=revision,
                deploy_started_at=record.started_at,
                deployed_at=finished,
                initiated_by=dict(record.operation.get("initiatedBy") or {}),
                source=sync.source or state.compared_to["source"],
            )
        limit = state.app.revision_history_limit
        entry = await self.repo.finish_operation(
            record.id,
            phase=outcome.phase,
            message=outcome.message,
            state={"syncResult": result.to_dict(), "retryCount": attempt},
            finished_at=finished,
            history=history,
            history_limit=limit,
        )
        status = state.status
        before = status.history[-1].revision if status.history else ""
        if entry is not None:  # the store trimmed the same way; no need to read it back
            status = with_history(status, HistoryEntry.from_dict(entry.to_dict()), limit)
        state.set_status(status)
        self._update(
            state,
            phase=OperationPhase(outcome.phase),
            message=outcome.message,
            sync_result=result,
            finished_at=finished,
            retry_count=attempt,
        )
        self._statuses.put(state)
        await self._statuses.flush()  # stored before anyone hears of the end
        log.info("sync finished", app=state.name, phase=outcome.phase, revision=revision)
        self._emit(
            OperationFinished(
                app=state.name,
                project=state.project,
                destination=state.destination,
                operation_id=record.id,
                phase=outcome.phase,
                message=outcome.message,
                revision=revision,
                initiator=initiator,
                username=username,
                dry_run=sync.dry_run,
                started_at=record.started_at,
                finished_at=finished,
                app_commit=app_commit,
                revision_before=before,
                pruned=result.pruned(),
            )
        )
        self._requeue(state.name)

    async def _app_commit(self, state: AppState, sync: SyncOperation, revision: str) -> AppCommit:
        """The app commit the synced config commit names in its trailers (CI write-back)."""
        if not revision:
            return AppCommit()
        try:
            own = sync.source is None or sync.source == state.compared_to["source"]
            source = state.app.spec.source if own else _source(sync.source)
            if source.chart:
                return AppCommit()  # a Helm repository's chart version: no commit
            return trailers.app_commit(
                await self.comparer.repos.commit_trailers(source.repo_url, revision)
            )
        except Exception as err:  # never keeps the operation from ending: recorded without it
            log.warning("could not read the commit's trailers", app=state.name, error=str(err))
            return AppCommit()


def _source(raw: dict[str, Any] | None) -> Source:
    try:
        return Source.model_validate(raw or {})
    except pydantic.ValidationError as err:
        raise ValidationError(f"the operation's source is invalid: {err}") from None
