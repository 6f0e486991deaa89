"""One engine for several destinations: a controller per target, one face for the API.

Argo CD's one instance deploys to the cluster it runs in and to every registered cluster,
side by side. Conveyor runs one ``Controller`` per destination target (the local runtime or
in-cluster, and each added cluster), all in one process and on one store; each owns the apps
whose ``spec.destination`` resolves to its target. ``Fleet`` is what the API holds in their
place: a ``Controller`` whose every public call goes to the controller that owns the app
named (lists and notices go to all of them, events come from all of them). An app whose
destination is edited moves to the controller of its new target with its status and history
(its objects on the old target are left there, as Argo CD leaves them). An app whose
destination resolves to no target stays with the first (primary) controller, whose
destination check shows why as a condition.

Each member keeps its own reconcile loop, live state and store view; a member is reached
through the private parts of ``Controller`` only here, to hand an app over. The fleet's own
``Controller`` parts (queue, status writer) are built but never started: every public
method is overridden to reach the members.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from conveyor.engine.appofapps import Registry
from conveyor.engine.compare import Comparison
from conveyor.engine.controller import Controller
from conveyor.engine.events import EngineListener, Initiator
from conveyor.engine.fleetstate import FleetLive, FleetTarget
from conveyor.engine.repository import Repository
from conveyor.engine.validation import check_project, check_source, load_application
from conveyor.errors import ConflictError, NotFoundError
from conveyor.model.application import Application
from conveyor.model.objects import ObjectKey

_HANDOVER_WAIT = 30.0
"""Longest wait for the old member's reconcile of a moving app to end."""

Route = Callable[[str, str], str]
"""The member (by id) that deploys to a destination ``(server, name)``; the primary's id
when the destination resolves to no member."""


class Fleet(Controller):
    """Several controllers, one per destination target, behind one controller's face."""

    def __init__(
        self,
        members: dict[str, Controller],
        primary: str,
        route: Route,
        repository: Repository,
    ) -> None:
        """``members`` by id (not started; ``start`` starts them), ``primary`` among them;
        ``repository`` the whole store (each member has a view of its own apps)."""
        self.members = members
        self.primary = primary
        self.route = route
        self._listeners: list[EngineListener] = []
        first = members[primary]
        target = FleetTarget(self._parts)
        super().__init__(
            repository,
            target,
            first.comparer,
            FleetLive(target, self._parts, self._owner_of),
            clock=first.clock,
            options=first.options,
        )
        for member in members.values():
            self._adopt(member)

    def _adopt(self, member: Controller) -> None:
        # An app of apps may register a child for any target: through the fleet.
        member.children.registry = Registry(
            self.apply_application, self.apply_project, self._delete_child, self._registered
        )
        for listener in self._listeners:
            member.add_event_listener(listener)

    async def add_member(self, key: str, member: Controller) -> list[str]:
        """Start ``member`` (a target connected while the fleet runs): it loads the apps of
        its destination from the store, and the member that held them meanwhile (refusing
        to deploy them elsewhere) lets them go. Returns the apps it took."""
        self._adopt(member)
        await member.start()
        self.members[key] = member
        for name in list(member._apps):
            for old in self._parts():
                if old is not member and name in old._apps:
                    await self._release(name, old)
        return sorted(member._apps) + await self.claim(key)

    async def claim(self, key: str) -> list[str]:
        """Move to member ``key`` the apps whose destination now routes to it (idle ones)."""
        new = self.members[key]
        moved = []
        for old in self._parts():
            if old is new:
                continue
            for name, state in list(old._apps.items()):
                if old._apps.get(name) is not state:  # gone or moved meanwhile
                    continue
                wanted = self.members[self.member_for(state.app)]
                if wanted is new and await self._hand_over(name, old, new):
                    new._queue.add(name)
                    moved.append(name)
        return sorted(moved)

    # -- members ----------------------------------------------------------------------------

    def _parts(self) -> list[Controller]:
        """The members, the primary first."""
        return [self.members[self.primary]] + [
            m for key, m in self.members.items() if key != self.primary
        ]

    def _owner_of(self, name: str) -> Controller | None:
        for member in self.members.values():
            if name in member._apps:
                return member
        return None

    def owner(self, name: str) -> Controller:
        """The member that owns app ``name`` (NotFoundError when none does)."""
        member = self._owner_of(name)
        if member is None:
            raise NotFoundError(f"application {name!r} not found")
        return member

    def member_for(self, app: Application) -> str:
        dest = app.spec.destination
        key = self.route(dest.server or "", dest.name or "")
        return key if key in self.members else self.primary

    def names_by_member(self) -> dict[str, list[str]]:
        return {key: m.names() for key, m in self.members.items()}

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        started: list[Controller] = []
        try:
            for member in self._parts():
                await member.start()
                started.append(member)
        except BaseException:
            for member in reversed(started):
                await member.stop()
            raise

    async def stop(self) -> None:
        for member in reversed(self._parts()):
            await member.stop()

    def add_event_listener(self, listener: EngineListener) -> None:
        self._listeners.append(listener)
        for member in self._parts():
            member.add_event_listener(listener)

    async def settle(self) -> None:
        for member in self._parts():
            await member.settle()

    def requeue_all(self) -> None:
        for member in self._parts():
            member.requeue_all()

    # -- applications -----------------------------------------------------------------------

    def operation_running(self, name: str) -> bool:
        return self.owner(name).operation_running(name)

    def names(self) -> list[str]:
        return sorted(n for m in self._parts() for n in m._apps)

    def application(self, name: str) -> dict[str, Any]:
        return self.owner(name).application(name)

    def app_model(self, name: str) -> Application:
        return self.owner(name).app_model(name)

    def comparison(self, name: str) -> Comparison | None:
        return self.owner(name).comparison(name)

    async def apply_application(
        self, manifest: dict[str, Any], *, upsert: bool = True
    ) -> dict[str, Any]:
        """Create or update an app on the member its destination names; an app whose
        destination changed moves there first (refused while an operation runs)."""
        app, _ = load_application(manifest)
        wanted = self.members[self.member_for(app)]
        current = self._owner_of(app.name)
        if current is not None and current is not wanted:
            await self._move(app, current, wanted, upsert=upsert)
        return await wanted.apply_application(manifest, upsert=upsert)

    async def _move(
        self, app: Application, old: Controller, new: Controller, *, upsert: bool
    ) -> None:
        if not upsert:
            raise ConflictError(
                f"application {app.name!r} exists with a different spec; use --upsert to replace it"
            )
        if old.operation_running(app.name):
            raise ConflictError(
                f"an operation is running on {app.name!r}: wait for it (or terminate it) "
                "before changing its destination"
            )
        check_source(app.spec.source)  # refused before anything moves, as apply would
        check_project(await new._project(app.project), app)
        if not await self._hand_over(app.name, old, new):
            raise ConflictError(
                f"an operation is running on {app.name!r}: wait for it (or terminate it) "
                "before changing its destination"
            )

    async def _hand_over(self, name: str, old: Controller, new: Controller) -> bool:
        """Move app ``name``'s state from ``old`` to ``new``; False (nothing moved) while an
        operation runs on it."""
        state = old._apps[name]
        if not await self._release(name, old):
            return False
        state.comparison = None
        state.refresh = True
        new._apps[name] = state
        return True

    async def _release(self, name: str, old: Controller) -> bool:
        """Take app ``name`` out of ``old`` (its store row stays); False while an operation
        runs on it. A reconcile in flight on ``old`` ends first (it may start a sync)."""
        state = old._apps[name]
        if state.running:
            return False
        state.deleting = True  # the old member starts no reconcile of it any more
        old._queue.forget(name)
        if old._queue.busy(name):
            ended: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            state.waiters.append((state.reconciles_started - 1, ended))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ended, _HANDOVER_WAIT)
        state.deleting = False
        if state.running or old._queue.busy(name):
            old._queue.add(name)
            return False
        del old._apps[name]
        old.statuses.drop(name)
        return True

    async def apply_project(self, manifest: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for member in self._parts():  # each caches projects; each must hear of a change
            result = await member.apply_project(manifest)
        return result

    async def delete_project(self, name: str) -> bool:
        deleted = False
        for member in self._parts():
            deleted = await member.delete_project(name) or deleted
        return deleted

    async def delete_application(self, name: str, *, cascade: bool = True) -> None:
        await self.owner(name).delete_application(name, cascade=cascade)

    async def _delete_child(self, name: str, cascade: bool) -> None:
        member = self._owner_of(name)
        if member is not None:
            await member.delete_application(name, cascade=cascade)

    def _registered(self, name: str) -> dict[str, Any] | None:
        member = self._owner_of(name)
        return member._registered(name) if member is not None else None

    def refresh(self, name: str, *, hard: bool = False) -> None:
        self.owner(name).refresh(name, hard=hard)

    def notify_push(self, repo_url: str, ref: str | None = None) -> list[str]:
        return sorted(n for m in self._parts() for n in m.notify_push(repo_url, ref))

    def wait_reconciled(self, name: str, timeout: float = 30.0) -> Coroutine[Any, Any, bool]:
        return self.owner(name).wait_reconciled(name, timeout)

    def wait_changed(self, name: str, timeout: float = 30.0) -> Coroutine[Any, Any, bool]:
        return self.owner(name).wait_changed(name, timeout)

    async def history(self, name: str) -> list[dict[str, Any]]:
        return await self.owner(name).history(name)

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
        return await self.owner(name).sync(
            name, revision=revision, prune=prune, dry_run=dry_run, resources=resources,
            initiated_by=initiated_by, automated=automated, source=source,
            initiator=initiator, sync_options=sync_options, retry_limit=retry_limit,
        )  # fmt: skip

    async def terminate(self, name: str) -> bool:
        return await self.owner(name).terminate(name)

    async def rollback(
        self, name: str, history_id: int, *, initiated_by: str = "admin"
    ) -> dict[str, Any]:
        return await self.owner(name).rollback(name, history_id, initiated_by=initiated_by)


def owner(controller: Controller, name: str) -> Controller:
    """The controller that deploys app ``name``: its member in a fleet, else ``controller``
    itself (what works on one app's live objects and target goes through this)."""
    return controller.owner(name) if isinstance(controller, Fleet) else controller
