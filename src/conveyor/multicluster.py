"""Wiring of one server that deploys to several destinations (``engine.fleet``).

The primary target (the local runtime, or the cluster Conveyor runs in) and every cluster
added with ``conveyor cluster add`` each get a controller; all share the database, the Git
mirrors and the renderer, and each sees only the apps whose destination resolves to its
target (``OwnedStore``), as Argo CD resolves ``spec.destination.server`` or ``name``. The
cluster list is read when the server starts: a cluster added or removed later is used after
a restart (until then an app for it shows why it is not deployed). A cluster that cannot be
reached at start is left out, and its apps say so.
"""

from __future__ import annotations

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

PRIMARY = ""
"""The primary member's id; the others are their clusters' server URLs."""


def other_clusters(
    settings: Settings, primary: ClusterCredentials | None
) -> list[ClusterCredentials]:
    """The added clusters besides the primary target (deployed to by the same server)."""
    return [
        c
        for c in ClusterStore(settings.home).list()
        if primary is None or c.server.rstrip("/") != primary.server.rstrip("/")
    ]


def router(
    primary: ClusterCredentials | None,
    members: Sequence[ClusterCredentials],
    clusters: Callable[[], Sequence[ClusterCredentials]],
    in_cluster: destinations.InCluster,
) -> Route:
    """The member id a destination resolves to; PRIMARY for the primary target and for a
    destination that resolves to no member (its destination check then says why)."""
    served = {c.server.rstrip("/") for c in members}

    def route(server: str, name: str) -> str:
        try:
            wanted = destinations.resolve(server, name, clusters(), in_cluster)
        except ValidationError:
            return PRIMARY
        if wanted is None or (primary is not None and wanted.server == primary.server):
            return PRIMARY
        key = wanted.server.rstrip("/")
        return key if key in served else PRIMARY

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
                f"{destinations.describe(wanted)} could not be reached when this server "
                f"started ({unreachable[key]}); restart the server once it is reachable"
            )
        if key not in served():
            return (
                f"{destinations.describe(wanted)} was added after this server started: "
                "restart the server to deploy to it"
            )
        return base(server, name)

    return check


@asynccontextmanager
async def fleet_engine(
    settings: Settings,
    primary_target: Target,
    primary: ClusterCredentials | None,
    clusters: Sequence[ClusterCredentials],
    *,
    in_cluster: destinations.InCluster,
    options: ControllerOptions | None = None,
    observer: ControllerObserver | None = None,
    git_observer: GitRequestObserver | None = None,
    render_observer: RenderObserver | None = None,
    fence: Fence | None = None,
) -> AsyncIterator[Fleet]:
    """A started fleet: a controller on ``primary_target`` (which deploys to ``primary``,
    None for the local runtime) and one on each of ``clusters``, with the deployment record
    written from all of them; everything stopped on exit."""
    options = dataclasses.replace(options or ControllerOptions(), namespace=settings.namespace)
    listed = ClusterStore(settings.home).list
    async with AsyncExitStack() as stack:
        database = await open_database(settings)
        stack.push_async_callback(database.close)
        targets: dict[str, tuple[ClusterCredentials, Target]] = {}
        unreachable: dict[str, str] = {}
        for cluster in clusters:
            try:
                connected = await stack.enter_async_context(kubernetes_target(cluster))
            except Exception as err:  # one cluster down never keeps the others from deploying
                log.warning("cluster unreachable", cluster=cluster.name, error=str(err))
                unreachable[cluster.server.rstrip("/")] = f"{type(err).__name__}: {err}"
                continue
            targets[cluster.server.rstrip("/")] = (cluster, connected)
        route = router(primary, [c for c, _ in targets.values()], listed, in_cluster)
        repos = repo_cache(settings, git_observer)
        renderer = renderer_for(render_observer)

        def member(key: str, target: Target, check: Callable[[str, str], str | None]) -> Controller:
            return build_controller(
                settings, target, OwnedStore(database, key, route, fence=fence), repos,
                renderer, options=options, observer=observer, destination_check=check,
                checkouts=_checkouts(settings, key),
            )  # fmt: skip

        check = primary_check(settings, primary, lambda: set(targets), unreachable, in_cluster)
        members = {PRIMARY: member(PRIMARY, primary_target, check)}
        for key, (cluster, on) in targets.items():
            members[key] = member(key, on, destinations.serves(cluster, listed, in_cluster))
        fleet = Fleet(members, PRIMARY, route, EngineStore(database, fence=fence))
        for part in members.values():
            recorder = DeploymentRecorder(part.repo)
            part.add_event_listener(recorder)
            recorder.start()
            stack.push_async_callback(recorder.close)
        await fleet.start()
        stack.push_async_callback(fleet.stop)
        yield fleet


def _checkouts(settings: Settings, key: str) -> Path:
    """The primary exports where a single controller does; each cluster's apart."""
    if key == PRIMARY:
        return settings.home / "checkouts"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return settings.home / "cluster-checkouts" / digest
