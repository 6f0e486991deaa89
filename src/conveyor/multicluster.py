"""Wiring of one server that deploys to several destinations (``engine.fleet``).

The primary target (the local runtime, or the cluster Conveyor runs in) and every cluster
added with ``conveyor cluster add`` each get a controller; all share the database, the Git
mirrors and the renderer, and each sees only the apps whose destination resolves to its
target (``OwnedStore``), as Argo CD resolves ``spec.destination.server`` or ``name``. The
cluster list is read again every few seconds: a cluster added while the server runs (or
unreachable until now) gets its controller, and the apps that waited for it on the primary
move there. A cluster removed while it runs keeps its controller until a restart (its apps'
destination no longer resolves, so nothing more is applied).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from conveyor.bootstrap import (
    build_controller,
    kubernetes_target,
    renderer_for,
    repo_cache,
)
from conveyor.engine.controller import Controller, ControllerObserver, ControllerOptions
from conveyor.engine.deployments import DeploymentRecorder
from conveyor.engine.fleet import Fleet, Route
from conveyor.engine.repository import OperationRecord, StoredApp
from conveyor.errors import ValidationError
from conveyor.logging import get_logger
from conveyor.render import RenderObserver
from conveyor.settings import Settings
from conveyor.source import GitRequestObserver
from conveyor.store import Database, EngineStore, open_database
from conveyor.store.clustercreds import ClusterStore
from conveyor.store.leases import Fence
from conveyor.targets.kubernetes import destinations
from conveyor.targets.kubernetes.credentials import ClusterCredentials
from conveyor.targets.protocol import Target

log = get_logger(component="multicluster")

CLUSTER_POLL = 5.0
"""How often the cluster list is read again for clusters to connect (seconds)."""

PRIMARY = ""
"""The primary member's id; the others are their clusters' server URLs."""


def other_clusters(
    listed: Sequence[ClusterCredentials], primary: ClusterCredentials | None
) -> list[ClusterCredentials]:
    """The added clusters besides the primary target (deployed to by the same server)."""
    return [
        c for c in listed if primary is None or c.server.rstrip("/") != primary.server.rstrip("/")
    ]


def router(
    primary: ClusterCredentials | None,
    served: Callable[[], set[str]],
    clusters: Callable[[], Sequence[ClusterCredentials]],
    in_cluster: destinations.InCluster,
) -> Route:
    """The member id a destination resolves to; PRIMARY for the primary target and for a
    destination that resolves to no connected member (its destination check says why)."""

    def route(server: str, name: str) -> str:
        try:
            wanted = destinations.resolve(server, name, clusters(), in_cluster)
        except ValidationError:
            return PRIMARY
        if wanted is None or (primary is not None and wanted.server == primary.server):
            return PRIMARY
        key = wanted.server.rstrip("/")
        return key if key in served() else PRIMARY

    return route


def _destination(manifest: dict[str, Any]) -> tuple[str, str]:
    dest = (manifest.get("spec") or {}).get("destination") or {}
    return str(dest.get("server") or ""), str(dest.get("name") or "")


class OwnedStore(EngineStore):
    """The store as one member sees it: the apps (and interrupted operations) whose
    destination routes to it. Everything else is the shared store."""

    def __init__(
        self, database: Database, member: str, route: Route, *, fence: Fence | None = None
    ) -> None:
        super().__init__(database, fence=fence)
        self._member = member
        self._route = route

    async def list_apps(self) -> list[StoredApp]:
        return [
            a for a in await super().list_apps()
            if self._route(*_destination(a.manifest)) == self._member
        ]  # fmt: skip

    async def running_operations(self) -> list[OperationRecord]:
        mine = {a.name for a in await self.list_apps()}
        return [op for op in await super().running_operations() if op.app in mine]


def primary_check(
    settings: Settings,
    primary: ClusterCredentials | None,
    served: Callable[[], set[str]],
    unreachable: dict[str, str],
    in_cluster: destinations.InCluster,
) -> Callable[[str, str], str | None]:
    """The primary's destination check when no CONVEYOR_CLUSTER narrows the server to one
    target: an app for a cluster this server does not deploy to learns why (left out at
    start, or added since) and what to do."""
    listed = ClusterStore(settings.home).list
    base = destinations.serves(primary, listed, in_cluster)

    def check(server: str, name: str) -> str | None:
        try:
            wanted = destinations.resolve(server, name, listed(), in_cluster)
        except ValidationError:
            wanted = None
        key = wanted.server.rstrip("/") if wanted is not None else ""
        if wanted is None or (primary is not None and wanted.server == primary.server):
            return base(server, name)
        if key in unreachable:
            return (
                f"{destinations.describe(wanted)} cannot be reached ({unreachable[key]}); "
                f"it is tried again every {CLUSTER_POLL:g} s"
            )
        if key not in served():
            return (
                f"{destinations.describe(wanted)} is not connected yet (the server looks "
                f"for added clusters every {CLUSTER_POLL:g} s)"
            )
        return base(server, name)

    return check


class _Members:
    """Builds the members on the shared parts, and connects clusters as they come."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        stack: AsyncExitStack,
        *,
        in_cluster: destinations.InCluster,
        options: ControllerOptions,
        observer: ControllerObserver | None,
        git_observer: GitRequestObserver | None,
        render_observer: RenderObserver | None,
        fence: Fence | None,
    ) -> None:
        self.settings, self.database, self.stack = settings, database, stack
        self.in_cluster, self.options, self.observer, self.fence = (
            in_cluster, options, observer, fence,
        )  # fmt: skip
        self.listed = ClusterStore(settings.home).list
        self.repos = repo_cache(settings, git_observer)
        self.renderer = renderer_for(render_observer)
        self.connected: dict[str, ClusterCredentials] = {}
        self.unreachable: dict[str, str] = {}
        self.route: Route = lambda _server, _name: PRIMARY

    def build(
        self, key: str, target: Target, check: Callable[[str, str], str | None]
    ) -> Controller:
        member = build_controller(
            self.settings, target,
            OwnedStore(self.database, key, lambda s, n: self.route(s, n), fence=self.fence),
            self.repos, self.renderer, options=self.options, observer=self.observer,
            destination_check=check, checkouts=_checkouts(self.settings, key),
        )  # fmt: skip
        recorder = DeploymentRecorder(member.repo)
        member.add_event_listener(recorder)
        recorder.start()
        self.stack.push_async_callback(recorder.close)
        return member

    async def connect(self, cluster: ClusterCredentials) -> Controller | None:
        """A member on ``cluster`` (not started), or None when it cannot be reached now."""
        key = cluster.server.rstrip("/")
        try:
            target = await self.stack.enter_async_context(kubernetes_target(cluster))
        except Exception as err:  # one cluster down never keeps the others from deploying
            if key not in self.unreachable:
                log.warning("cluster unreachable", cluster=cluster.name, error=str(err))
            self.unreachable[key] = f"{type(err).__name__}: {err}"
            return None
        self.unreachable.pop(key, None)
        self.connected[key] = cluster  # its apps route to it from now on
        check = destinations.serves(cluster, self.listed, self.in_cluster)
        return self.build(key, target, check)


@asynccontextmanager
async def fleet_engine(
    settings: Settings,
    primary_target: Target,
    primary: ClusterCredentials | None,
    *,
    in_cluster: destinations.InCluster,
    options: ControllerOptions | None = None,
    observer: ControllerObserver | None = None,
    git_observer: GitRequestObserver | None = None,
    render_observer: RenderObserver | None = None,
    fence: Fence | None = None,
    poll: float = CLUSTER_POLL,
) -> AsyncIterator[Fleet]:
    """A started fleet: a controller on ``primary_target`` (which deploys to ``primary``,
    None for the local runtime) and one on each added cluster, with the deployment record
    written from all of them. Every ``poll`` seconds the cluster list is read again: a
    cluster added since (or unreachable until now) gets its controller and its apps.
    Everything is stopped on exit."""
    options = dataclasses.replace(options or ControllerOptions(), namespace=settings.namespace)
    async with AsyncExitStack() as stack:
        database = await open_database(settings)
        stack.push_async_callback(database.close)
        parts = _Members(
            settings, database, stack, in_cluster=in_cluster, options=options,
            observer=observer, git_observer=git_observer, render_observer=render_observer,
            fence=fence,
        )  # fmt: skip
        parts.route = router(primary, lambda: set(parts.connected), parts.listed, in_cluster)
        members: dict[str, Controller] = {}
        for cluster in other_clusters(parts.listed(), primary):
            member = await parts.connect(cluster)
            if member is not None:
                members[cluster.server.rstrip("/")] = member
        check = primary_check(
            settings, primary, lambda: set(parts.connected), parts.unreachable, in_cluster
        )
        members = {PRIMARY: parts.build(PRIMARY, primary_target, check), **members}
        fleet = Fleet(members, PRIMARY, parts.route, EngineStore(database, fence=fence))
        later = await stack.enter_async_context(AsyncExitStack())  # closed after fleet.stop
        parts.stack = later
        await fleet.start()
        stack.push_async_callback(fleet.stop)
        watcher = asyncio.create_task(_watch(fleet, parts, primary, poll), name="clusters")
        stack.push_async_callback(_cancel, watcher)
        yield fleet


async def _watch(
    fleet: Fleet, parts: _Members, primary: ClusterCredentials | None, poll: float
) -> None:
    """Connect the clusters added (or reachable) since; hand each its waiting apps."""
    while True:
        await asyncio.sleep(poll)
        try:
            for cluster in other_clusters(parts.listed(), primary):
                key = cluster.server.rstrip("/")
                if key in fleet.members:
                    continue
                member = await parts.connect(cluster)
                if member is not None:
                    moved = await fleet.add_member(key, member)
                    log.info("cluster connected", cluster=cluster.name, apps=moved)
            for key in list(fleet.members):
                if key != PRIMARY:
                    await fleet.claim(key)  # apps that were busy at the last look
        except Exception as err:  # e.g. the cluster list is unreadable: look again later
            log.warning("cluster list check failed", error=repr(err))


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _checkouts(settings: Settings, key: str) -> Path:
    """The primary exports where a single controller does; each cluster's apart."""
    if key == PRIMARY:
        return settings.home / "checkouts"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return settings.home / "cluster-checkouts" / digest
