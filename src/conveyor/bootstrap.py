"""Wiring at the edge: the local runtime with its journal in the store and its images from
the artifact store, or a Kubernetes cluster from the encrypted cluster list, and the
application controller with its repository in the store. The runtime (layer 3) and the
engine (layer 4) cannot import the store (layer 5); this module, at the top beside the CLI
and the API, puts them together.
"""

from __future__ import annotations

import dataclasses
import fcntl
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from conveyor.artifacts import ArtifactStore
from conveyor.engine.compare import Comparer
from conveyor.engine.controller import Controller, ControllerObserver, ControllerOptions
from conveyor.engine.deployments import DeploymentRecorder
from conveyor.engine.livestate import LiveState
from conveyor.engine.repository import Repository
from conveyor.errors import ConflictError, ValidationError
from conveyor.logging import get_logger
from conveyor.render import RenderCache, Renderer, RenderObserver
from conveyor.settings import Settings
from conveyor.source import GitRequestObserver, RepoCache
from conveyor.store import EngineStore, RuntimeStateStore, open_database
from conveyor.store.clustercreds import ClusterStore
from conveyor.store.leases import Fence
from conveyor.store.repocreds import RepoCredentialStore
from conveyor.targets.kubernetes import destinations
from conveyor.targets.kubernetes.api import KubeApi
from conveyor.targets.kubernetes.credentials import (
    IN_CLUSTER_NAME,
    ClusterCredentials,
    in_cluster,
    running_in_cluster,
)
from conveyor.targets.kubernetes.target import KubernetesTarget
from conveyor.targets.local.addresses import PROMETHEUS_OFF
from conveyor.targets.local.images import ArtifactImages
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.monitoring.supervisor import (
    MISSING_BINARY,
    PrometheusSupervisor,
    find_binary,
)
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from conveyor.targets.protocol import Target

log = get_logger(component="bootstrap")


@asynccontextmanager
async def local_target(
    settings: Settings,
    kubelet_options: KubeletOptions | None = None,
    artifacts: ArtifactStore | None = None,
    *,
    fence: Fence | None = None,
) -> AsyncIterator[LocalTarget]:
    """A started local runtime journaled in the store; stopped (and flushed) on exit.

    One runtime per CONVEYOR_HOME: a second one would run every Pod twice and fight over the
    Service ports, so it is refused while the first holds the home's lock. Servers that share
    a database run it only under the ``local`` lease, and journal under its ``fence``.
    """
    with _home_lock(settings):
        async with _local_target(settings, kubelet_options, artifacts, fence) as target:
            yield target


@contextmanager
def _home_lock(settings: Settings) -> Iterator[None]:
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / "runtime.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise ConflictError(
                f"another Conveyor (server or demo) is already running on {settings.home}: "
                "stop it first, or set CONVEYOR_HOME to use another home"
            ) from err
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@asynccontextmanager
async def _local_target(
    settings: Settings,
    kubelet_options: KubeletOptions | None,
    artifacts: ArtifactStore | None,
    fence: Fence | None,
) -> AsyncIterator[LocalTarget]:
    database = await open_database(settings)
    # The runtime flushes it (write-behind, barriers).
    journal = RuntimeStateStore(database, fence=fence)
    runtime = LocalRuntime(
        runtime_dir=settings.runtime_dir,
        journal=journal,
        images=ArtifactImages(artifacts or ArtifactStore(settings.artifacts_dir)),
        kubelet_options=kubelet_options,
        rollouts_instance_id=settings.rollouts_instance_id,
    )
    try:
        await runtime.start()
        async with supervised_prometheus(settings, runtime):
            yield LocalTarget(runtime)
    finally:
        await runtime.stop()
        await journal.close()
        await database.close()


LOCAL_CLUSTER = "local"
"""CONVEYOR_CLUSTER's value for the local runtime."""


def own_cluster() -> ClusterCredentials | None:
    """The cluster Conveyor runs in (from its Pod's credentials), or None."""
    return in_cluster() if running_in_cluster() else None


def selected_cluster(settings: Settings) -> ClusterCredentials | None:
    """The cluster this server deploys to (CONVEYOR_CLUSTER), or None for the local runtime."""
    wanted = settings.cluster
    if wanted == LOCAL_CLUSTER:
        return None
    if not wanted:
        return own_cluster()
    for cluster in ClusterStore(settings.home).list():
        if wanted in (cluster.name, cluster.server):
            return cluster
    if wanted == IN_CLUSTER_NAME and running_in_cluster():
        return in_cluster()
    raise ValidationError(
        f"CONVEYOR_CLUSTER={wanted!r}: no cluster by that name or URL is added "
        "(conveyor cluster list; conveyor cluster add CONTEXT)"
    )


def destination_check(
    settings: Settings, served: ClusterCredentials | None
) -> Callable[[str, str], str | None]:
    """The engine's check that an app's destination is what this server deploys to."""
    return destinations.serves(served, ClusterStore(settings.home).list, own_cluster)


@asynccontextmanager
async def kubernetes_target(credentials: ClusterCredentials) -> AsyncIterator[KubernetesTarget]:
    """A Kubernetes target on ``credentials``' cluster: its resource types read and the
    usual ones watched before it is yielded; its watches stopped on exit."""
    target = KubernetesTarget(KubeApi(credentials))
    try:
        await target.start()
        yield target
    finally:
        await target.stop()


@asynccontextmanager
async def supervised_prometheus(
    settings: Settings, runtime: LocalRuntime
) -> AsyncIterator[PrometheusSupervisor | None]:
    """The Prometheus that ``http://prometheus:9090`` reaches, per CONVEYOR_PROMETHEUS:
    the one run here under ``auto`` (yielded), an existing one's URL, or none."""
    if settings.prometheus == "off":
        runtime.addresses.set_prometheus(None, PROMETHEUS_OFF)
        yield None
        return
    if settings.prometheus != "auto":
        runtime.addresses.set_prometheus(settings.prometheus)
        yield None
        return
    binary = find_binary()
    if binary is None:
        log.warning("no prometheus", reason=MISSING_BINARY)
        runtime.addresses.set_prometheus(None, MISSING_BINARY)
        yield None
        return
    supervisor = PrometheusSupervisor(
        binary,
        settings.prometheus_dir,
        runtime.prometheus_targets_dir,
        scrape_interval=settings.prometheus_scrape_interval,
    )
    await supervisor.start()
    runtime.addresses.set_prometheus(supervisor.url)
    try:
        yield supervisor
    finally:
        runtime.addresses.set_prometheus(None, "Conveyor is stopping its Prometheus")
        await supervisor.stop()


@asynccontextmanager
async def engine(
    settings: Settings,
    target: Target,
    *,
    options: ControllerOptions | None = None,
    observer: ControllerObserver | None = None,
    git_observer: GitRequestObserver | None = None,
    render_observer: RenderObserver | None = None,
    destination_check: Callable[[str, str], str | None] | None = None,
    fence: Fence | None = None,
) -> AsyncIterator[Controller]:
    """A started application controller on ``target``, its state in the store, and the
    deployment record written from its events.

    The observers receive what ``/metrics`` exports: reconciles and syncs, git requests,
    renders. ``destination_check`` (``bootstrap.destination_check``) refuses apps whose
    destination is another cluster than ``target``. ``fence``: the lease every write of the
    store is checked against (servers sharing a database).
    """
    options = dataclasses.replace(options or ControllerOptions(), namespace=settings.namespace)
    database = await open_database(settings)
    repos = repo_cache(settings, git_observer)
    renderer = renderer_for(render_observer)
    store = EngineStore(database, fence=fence)
    controller = build_controller(
        settings, target, store, repos, renderer, options=options, observer=observer,
        destination_check=destination_check,
    )  # fmt: skip
    recorder = DeploymentRecorder(store)
    controller.add_event_listener(recorder)
    recorder.start()
    try:
        await controller.start()
        yield controller
    finally:
        await controller.stop()
        await recorder.close()
        await database.close()


def repo_cache(settings: Settings, git_observer: GitRequestObserver | None = None) -> RepoCache:
    """The Git mirrors every controller of this process shares."""
    credentials = RepoCredentialStore(settings.home)  # `conveyor repo add`; re-read on change
    return RepoCache(
        settings.home / "repos", on_request=git_observer, credentials=credentials.lookup
    )


def renderer_for(render_observer: RenderObserver | None = None) -> Renderer:
    # Room for every app's render: an LRU smaller than the app count would miss on every
    # pass (each render of 10 objects is a few KiB).
    return Renderer(cache=RenderCache(max_entries=20_000), observer=render_observer)


def build_controller(
    settings: Settings,
    target: Target,
    store: Repository,
    repos: RepoCache,
    renderer: Renderer,
    *,
    options: ControllerOptions,
    observer: ControllerObserver | None = None,
    destination_check: Callable[[str, str], str | None] | None = None,
    checkouts: Path | None = None,
) -> Controller:
    """A controller (not started) on ``target``, its live state fed by ``target``'s watch.
    ``checkouts``: where its comparer exports trees (one directory per controller)."""
    live = LiveState(target)
    comparer = Comparer(
        repos,
        renderer,
        checkouts or settings.home / "checkouts",
        max_fetch_age=options.poll_interval,
        live_lookup=live.get,
        live_children=live.children,
        events=target.events,
        destination_check=destination_check,
        server_side_apply=isinstance(target, KubernetesTarget),
    )
    return Controller(store, target, comparer, live, options=options, observer=observer)
