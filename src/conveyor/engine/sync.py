"""Carrying out a sync: hooks, waves, apply, prune, each step waiting for the one before.

The plan (``syncplan``) says what to do in which order; the executor does it against a
target and reports a result per resource in Argo CD's ``syncResult.resources`` shape. Before
anything is applied every object is applied as a dry run, so that one invalid object fails the
sync without leaving the others half done. A step waits until its objects are healthy (hooks:
completed) before the next step starts; a hook that fails or an object that turns Degraded
fails the sync, and then the SyncFail hooks run. Cancelling the task terminates the operation.

Sync options change how each object is written: Replace=true replaces instead of merging,
Force=true deletes and creates again, Validate=false skips the schema check,
RespectIgnoreDifferences=true keeps the live value of ignored fields, PrunePropagationPolicy
says what a pruned object's dependants do, SkipDryRunOnMissingResource skips the dry run of a
kind the target does not know yet (a CRD in the same sync does that on its own), and
FailOnSharedResource=true fails the sync before it starts when another app tracks a resource;
without it, such a resource is left as it is (never taken over, so never pruned or deleted by
this app), everything else is synced, and the sync ends Failed naming it.

A step's time limit is measured on the injected clock, so tests move time instead of waiting.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from conveyor.clock import Clock, SystemClock
from conveyor.diff import IgnoreRule, keep_ignored
from conveyor.engine import reasons
from conveyor.engine.livestate import LiveState
from conveyor.engine.syncoptions import shared_resource_failure, tracked_by
from conveyor.engine.syncplan import PlanOptions, SyncTask, groups, plan_sync, sync_fail_hooks
from conveyor.errors import ConveyorError, NotFoundError
from conveyor.health import assess
from conveyor.logging import get_logger
from conveyor.model.health import HealthStatus
from conveyor.model.objects import Object, ObjectKey, crd_defines
from conveyor.model.synccommon import HookDeletePolicy
from conveyor.targets.protocol import TRACKING_LABEL, ApplyOptions, Target, UnknownKindError

log = get_logger(component="sync")

Progress = Callable[[list[dict[str, Any]]], Awaitable[None]]

_RUN_TO_COMPLETION = frozenset({("batch", "Job"), ("", "Pod")})
"""Hook kinds a sync waits on until they finish (other hooks are done once created)."""
_REGISTERED_KINDS = frozenset({("argoproj.io", "Application"), ("argoproj.io", "AppProject")})
"""Kinds an app of apps puts into Conveyor's namespace (``engine.appofapps``)."""

RECHECK_SECONDS = 1.0
"""Longest a waiting step goes without looking again when no live object changes."""


@dataclass(frozen=True)
class SyncRequest:
    """Everything one sync needs, already rendered and compared."""

    app: str
    revision: str
    namespace: str
    desired: Sequence[Object]
    """Rendered objects, hooks included, tracking label set."""
    out_of_sync: frozenset[ObjectKey] = frozenset()
    options: PlanOptions = field(default_factory=PlanOptions)
    """What to sync, with the operation's sync options (``options.sync``)."""
    dry_run: bool = False
    ignore_rules: tuple[IgnoreRule, ...] = ()
    """The app's ignoreDifferences, for RespectIgnoreDifferences=true."""


@dataclass
class SyncOutcome:
    """How a sync ended."""

    phase: str
    """Succeeded, Failed or Error (Argo CD's operation phases)."""
    message: str
    resources: list[dict[str, Any]] = field(default_factory=list)


class SyncFailed(ConveyorError):
    """A step of the sync failed; the message says which object and why."""


def _result(task: SyncTask, status: str, message: str, hook_phase: str = "") -> dict[str, Any]:
    obj = task.desired or task.live or {}
    api_version = str(obj.get("apiVersion", ""))
    out: dict[str, Any] = {
        "group": task.key.group,
        "version": api_version.split("/")[-1] if api_version else "",
        "kind": task.key.kind,
        "namespace": task.key.namespace,
        "name": task.key.name,
        "status": status,
        "message": message,
        "syncPhase": task.phase,
    }
    if task.hook_type:
        out["hookType"] = task.hook_type
        out["hookPhase"] = hook_phase
    return out


def _apply_options(task: SyncTask, dry_run: bool) -> ApplyOptions:
    return ApplyOptions(
        dry_run=dry_run,
        replace=task.options.replace,
        validate=task.options.validate,
        client_side_apply_migration=task.options.client_side_apply_migration,
    )


def _describe(key: ObjectKey) -> str:
    kind = f"{key.kind.lower()}.{key.group}" if key.group else key.kind.lower()
    return f"{kind}/{key.name}"


class SyncExecutor:
    """Runs sync requests against one target."""

    def __init__(
        self,
        target: Target,
        live: LiveState,
        *,
        clock: Clock | None = None,
        step_timeout: float = 600.0,
        own_namespace: str | None = None,
    ) -> None:
        """``own_namespace`` is Conveyor's namespace, created on demand for the Applications
        and AppProjects an app of apps syncs there."""
        self.own_namespace = own_namespace
        self.target = target
        self.live = live
        self.clock = clock or SystemClock()
        self.step_timeout = step_timeout

    async def run(self, request: SyncRequest, progress: Progress | None = None) -> SyncOutcome:
        """Run the sync; returns its outcome (never raises but for cancellation)."""
        results: dict[ObjectKey, dict[str, Any]] = {}
        tasks: list[SyncTask] = []

        async def report() -> None:
            if progress is not None:
                await progress(list(results.values()))

        # generateName hooks are named per sync: revision, phase and the sync's start
        naming = (request.revision, int(self.clock.now().timestamp()))
        if request.options.sync.fail_on_shared_resource:
            shared = shared_resource_failure(request.app, request.desired, self.live.get)
            if shared is not None:
                return SyncOutcome("Failed", shared)
        try:
            live = {ObjectKey.of(o): o for o in self.live.app_objects(request.app)}
            tasks = plan_sync(
                request.desired, live, set(request.out_of_sync), request.options,
                namespace=request.namespace, naming=naming,
            )  # fmt: skip
            await self._validate(request, tasks)
            if request.dry_run:
                for task in tasks:
                    status = "PruneSkipped" if task.skip_reason else (
                        "Pruned" if task.action == "prune" else "Synced"
                    )  # fmt: skip
                    message = task.skip_reason or f"{_describe(task.key)} (dry run)"
                    results[task.key] = _result(task, status, message)
                return SyncOutcome(
                    "Succeeded", "successfully synced (dry run)", list(results.values())
                )
            if request.options.sync.create_namespace:
                await self._ensure_namespace(request.namespace)
            if self._own_namespace_needed(tasks):
                await self._ensure_namespace(str(self.own_namespace))
            steps = groups(tasks)
            for n, step in enumerate(steps):
                for task in step:
                    results[task.key] = await self._do(task, request)
                more = n + 1 < len(steps)
                if more or any(t.action == "hook" for t in step):
                    await report()  # a wait follows: show what runs (hooks Running) meanwhile
                await self._wait_step(step, results, wait_health=more, report=report)
                await report()
        except asyncio.CancelledError:
            raise
        except SyncFailed as failure:
            await self._run_sync_fail_hooks(request, results, naming)
            return SyncOutcome("Failed", str(failure.args[0]), list(results.values()))
        except ConveyorError as err:
            await self._run_sync_fail_hooks(request, results, naming)
            return SyncOutcome("Failed", str(err.args[0]), list(results.values()))
        except Exception as err:  # a bug or an unexpected target error: Error, not a crash
            log.exception("sync error", app=request.app)
            return SyncOutcome("Error", f"sync error: {err}", list(results.values()))
        left = [r for r in results.values() if r["status"] == "SyncFailed"]
        if left:  # resources another app tracks: everything else was synced
            names = "; ".join(r["message"] for r in left)
            return SyncOutcome("Failed", f"shared resources left as they are: {names}",
                               list(results.values()))  # fmt: skip
        pruned_skipped = sum(1 for r in results.values() if r["status"] == "PruneSkipped")
        message = "successfully synced (all tasks run)"
        if pruned_skipped:
            message = f"successfully synced ({pruned_skipped} resources require pruning)"
        return SyncOutcome("Succeeded", message, list(results.values()))

    # -- steps ------------------------------------------------------------------------------

    async def _validate(self, request: SyncRequest, tasks: list[SyncTask]) -> None:
        """Dry-run every object before touching anything: all or nothing for bad input."""
        created = {t.key.name for t in tasks if t.key.kind == "Namespace"}
        if request.options.sync.create_namespace:
            created.add(request.namespace)
        if self._own_namespace_needed(tasks):
            created.add(str(self.own_namespace))
        defined = {
            crd_defines(t.desired) for t in tasks if t.key.kind == "CustomResourceDefinition"
        }
        problems = []
        for task in tasks:
            if task.action == "prune" or task.desired is None:
                continue
            if task.options.force and self.live.get(task.key) is not None:
                continue  # re-created: the live object's immutable fields do not apply
            try:
                await self.target.apply(
                    await self._manifest(task, request), _apply_options(task, True)
                )
            except UnknownKindError as err:
                if (task.key.group, task.key.kind) in defined:
                    continue  # its CRD comes in this sync: Argo CD skips the dry run
                if task.options.skip_dry_run_on_missing_resource:
                    continue
                problems.append(f"{_describe(task.key)}: {err.args[0]}")
            except NotFoundError as err:
                if task.key.namespace in created and "namespace" in str(err):
                    continue
                problems.append(f"{_describe(task.key)}: {err.args[0]}")
            except ConveyorError as err:
                problems.append(f"{_describe(task.key)}: {err.args[0]}")
        if problems:
            raise SyncFailed("; ".join(problems))

    def _own_namespace_needed(self, tasks: list[SyncTask]) -> bool:
        """Whether the sync puts Applications or AppProjects into Conveyor's namespace."""
        return self.own_namespace is not None and any(
            t.action != "prune" and t.key.namespace == self.own_namespace
            and (t.key.group, t.key.kind) in _REGISTERED_KINDS
            for t in tasks
        )  # fmt: skip

    async def _manifest(self, task: SyncTask, request: SyncRequest) -> Object:
        """What to write for ``task``: its manifest, with ignored fields kept at their live
        value under RespectIgnoreDifferences=true (only when the object exists; read from the
        target, since another manager may have just changed it)."""
        assert task.desired is not None
        if task.action != "apply" or not task.options.respect_ignore_differences:
            return task.desired
        live = await self.target.get(task.key)
        if live is None:
            return task.desired
        return keep_ignored(task.key, task.desired, live, request.ignore_rules)

    async def _ensure_namespace(self, namespace: str) -> None:
        key = ObjectKey("", "Namespace", "", namespace)
        if self.live.get(key) is None and await self.target.get(key) is None:
            created = await self.target.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
            self.live.observe(created)

    async def _do(self, task: SyncTask, request: SyncRequest) -> dict[str, Any]:
        if task.skip_reason:
            return _result(task, "PruneSkipped", task.skip_reason)
        if task.action == "prune":
            policy = task.options.prune_propagation_policy
            await self.target.delete(task.key, propagation_policy=policy)
            self.live.forget(task.key)
            return _result(task, "Pruned", "pruned")
        assert task.desired is not None
        if task.action == "hook":
            return await self._start_hook(task, request)
        before = self.live.get(task.key)
        owner = tracked_by(before) if before is not None else None
        if owner is not None and owner != request.app:
            return _result(
                task, "SyncFailed",
                f"{task.key.kind}/{task.key.name} is part of application {owner}: not taken "
                "over (remove it from one of the applications)",
            )  # fmt: skip
        try:
            if task.options.force and before is not None:
                await self._delete_and_wait(task.key)
                before = None
            applied = await self.target.apply(
                await self._manifest(task, request), _apply_options(task, False)
            )
        except ConveyorError as err:
            raise SyncFailed(f"{_describe(task.key)}: {err.args[0]}") from err
        self.live.observe(applied)
        if before is None:
            verb = "created"
        elif (before.get("metadata") or {}).get("resourceVersion") == applied["metadata"].get(
            "resourceVersion"
        ):
            verb = "unchanged"
        else:
            verb = "configured"
        return _result(task, "Synced", f"{_describe(task.key)} {verb}")

    async def _start_hook(self, task: SyncTask, request: SyncRequest) -> dict[str, Any]:
        assert task.desired is not None
        if HookDeletePolicy.BEFORE_HOOK_CREATION in task.delete_policies:
            await self._delete_and_wait(task.key)
        hook = copy.deepcopy(task.desired)
        hook.setdefault("metadata", {}).setdefault("labels", {})[TRACKING_LABEL] = request.app
        try:
            applied = await self.target.apply(hook, _apply_options(task, False))
        except ConveyorError as err:
            raise SyncFailed(f"{_describe(task.key)}: {err.args[0]}") from err
        self.live.observe(applied)
        return _result(task, "Synced", f"{_describe(task.key)} created", "Running")

    async def _delete_and_wait(self, key: ObjectKey) -> None:
        if await self.target.get(key) is None:
            self.live.forget(key)
            return
        await self.target.delete(key)
        deadline = self.clock.monotonic() + self.step_timeout
        while await self.target.get(key) is not None:
            if not await self._wait_until(deadline):
                raise SyncFailed(
                    f"timed out after {self.step_timeout:.0f}s waiting for the previous "
                    f"{_describe(key)} to be deleted"
                )
        self.live.forget(key)

    async def _wait_until(self, deadline: float) -> bool:
        """Wait for the next live change (or a recheck); False once the clock passed deadline.

        The deadline is read from the injected clock, so a test decides when a step times out.
        """
        remaining = deadline - self.clock.monotonic()
        if remaining <= 0:
            return False
        await self.live.wait_for_change(min(remaining, RECHECK_SECONDS))
        return True

    async def _wait_step(
        self,
        step: list[SyncTask],
        results: dict[ObjectKey, dict[str, Any]],
        *,
        wait_health: bool,
        report: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Wait for hooks to finish and, before a later step, for objects to be healthy;
        ``report`` is called when a waiting hook's message changes (why it has not finished)."""
        pending = [
            t for t in step
            if not t.skip_reason and (t.action == "hook" or (wait_health and t.action != "prune"))
        ]  # fmt: skip
        deadline = self.clock.monotonic() + self.step_timeout
        while pending:
            still = []
            said = {t.key: results.get(t.key, {}).get("message") for t in pending}
            for task in pending:
                done = await self._check(task, results)
                if not done:
                    still.append(task)
            pending = still
            if report is not None and any(
                results.get(t.key, {}).get("message") != said[t.key] for t in pending
            ):
                await report()
            if pending and not await self._wait_until(deadline):
                names = ", ".join(_describe(t.key) for t in pending)
                why = "; ".join([w for w in [await self._why(t) for t in pending] if w])
                raise SyncFailed(
                    f"timed out after {self.step_timeout:.0f}s waiting for {names} "
                    "to become healthy" + (f": {why}" if why else "")
                )

    async def _why(self, task: SyncTask) -> str:
        """What the Pods under ``task``'s object say keeps it from being done, or ""."""
        obj = self.live.get(task.key) or await self.target.get(task.key)
        if obj is None:
            return ""
        said = await reasons.pod_reasons(obj, self.live.children, self.target.events)
        return f"{_describe(task.key)}: {'; '.join(said)}" if said else ""

    async def _check(self, task: SyncTask, results: dict[ObjectKey, dict[str, Any]]) -> bool:
        obj = self.live.get(task.key) or await self.target.get(task.key)
        if obj is None:
            return False
        if task.action == "hook":
            return await self._check_hook(task, obj, results)
        health = assess(obj)
        if health.status in (HealthStatus.HEALTHY, HealthStatus.SUSPENDED):
            return True
        if health.status is HealthStatus.DEGRADED:
            raise SyncFailed(f"{_describe(task.key)} is Degraded: {health.message}")
        return False

    async def _check_hook(
        self, task: SyncTask, obj: Object, results: dict[ObjectKey, dict[str, Any]]
    ) -> bool:
        if (task.key.group, task.key.kind) not in _RUN_TO_COMPLETION:
            results[task.key] = _result(task, "Synced", results[task.key]["message"], "Succeeded")
            return True
        health = assess(obj)
        if health.status is HealthStatus.HEALTHY:
            results[task.key] = _result(
                task, "Synced", health.message or f"{_describe(task.key)} completed", "Succeeded"
            )
            if HookDeletePolicy.HOOK_SUCCEEDED in task.delete_policies:
                await self.target.delete(task.key)
                self.live.forget(task.key)
            return True
        if health.status is HealthStatus.DEGRADED:
            message = health.message or "hook failed"
            results[task.key] = _result(task, "SyncFailed", message, "Failed")
            if HookDeletePolicy.HOOK_FAILED in task.delete_policies:
                await self.target.delete(task.key)
                self.live.forget(task.key)
            raise SyncFailed(f"{task.hook_type} hook {_describe(task.key)} failed: {message}")
        # still running: say why it has not finished (an image missing, a crash loop...)
        said = await reasons.pod_reasons(obj, self.live.children, self.target.events)
        if said:
            results[task.key] = _result(task, "Synced", "; ".join(said), "Running")
        return False

    async def _run_sync_fail_hooks(
        self,
        request: SyncRequest,
        results: dict[ObjectKey, dict[str, Any]],
        naming: tuple[str, int],
    ) -> None:
        hooks = sync_fail_hooks(request.desired, request.namespace, request.options.sync, naming)
        if not hooks or request.dry_run or request.options.selected is not None:
            return  # a selective sync runs no hooks, SyncFail ones included
        try:
            for task in hooks:
                results[task.key] = await self._start_hook(task, request)
            await self._wait_step(hooks, results, wait_health=False)
        except ConveyorError as err:
            log.warning("SyncFail hook failed", app=request.app, error=str(err))
