"""The FastAPI application: routers, auth, error answers, and the engine in its lifespan.

``create_app`` builds the app; its lifespan opens the token store (creating the admin token
on first start), starts the controller on the local target through ``conveyor.bootstrap``
with the metrics observers wired in, and stops everything in reverse order. Tests pass a
``controller_factory`` to run the API around a controller they built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI

from conveyor import __version__
from conveyor.api import (
    errors,
    ha,
    routes_account,
    routes_actions,
    routes_apps,
    routes_artifacts,
    routes_audit,
    routes_ci,
    routes_clusters,
    routes_deployments,
    routes_dora,
    routes_logs,
    routes_notifications,
    routes_operations,
    routes_projects,
    routes_promotions,
    routes_repos,
    routes_resources,
    routes_rollouts,
    routes_stream,
    routes_system,
    ui,
    webhook,
)
from conveyor.api.access import require_access
from conveyor.api.accesslog import AccessLog
from conveyor.api.audit import AuditTrail
from conveyor.api.auth import ensure_admin_token
from conveyor.api.bodyguard import BodyGuard
from conveyor.api.context import ApiContext
from conveyor.api.dora_figures import DoraFigures
from conveyor.api.events import AppEvents
from conveyor.api.masking import MaskedJSONResponse
from conveyor.api.metrics import Metrics
from conveyor.api.statuswatch import StatusWatch
from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import (
    destination_check,
    engine,
    kubernetes_target,
    local_target,
    own_cluster,
    selected_cluster,
)
from conveyor.engine.activity import ActivityRecorder
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.engine.records import Retention
from conveyor.errors import NotFoundError
from conveyor.multicluster import fleet_engine
from conveyor.notify.delivery import DeliveryOptions
from conveyor.notify.service import NotificationService
from conveyor.settings import Settings
from conveyor.store import CiRunStore, Database, PromotionStore, TokenStore, open_database
from conveyor.store.leases import Fence
from conveyor.targets.kubernetes.credentials import ClusterCredentials
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.protocol import Target


class _Observer:
    """The controller's observer: reconcile durations for metrics (the rest of what the
    server hears from the engine comes as engine events)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def reconciled(self, app: str, duration: float) -> None:
        self.metrics.reconciled(app, duration)


@dataclass(frozen=True)
class EngineHooks:
    """What a controller factory must wire into the engine it builds."""

    observer: _Observer
    metrics: Metrics
    fence: Fence | None = None
    """The lease the engine writes under when servers share the database (else None)."""


ControllerFactory = Callable[[EngineHooks], AbstractAsyncContextManager[Controller]]


def local_engine(
    settings: Settings,
    options: ControllerOptions | None = None,
    kubelet_options: KubeletOptions | None = None,
) -> ControllerFactory:
    """The default: a controller in this process, on the local runtime or, when
    CONVEYOR_CLUSTER names one (or Conveyor runs in a Pod), on a Kubernetes cluster."""

    @asynccontextmanager
    async def factory(hooks: EngineHooks) -> AsyncIterator[Controller]:
        cluster = selected_cluster(settings)  # CONVEYOR_CLUSTER, or the Pod's own cluster
        if cluster is not None:
            async with (
                kubernetes_target(cluster) as cluster_target,
                _engine_on(settings, cluster_target, cluster, options, hooks) as controller,
            ):
                yield controller
            return
        async with (
            local_target(settings, kubelet_options, fence=hooks.fence) as target,
            _engine_on(settings, target, None, options, hooks) as controller,
        ):
            hooks.metrics.bind_service_traffic(target.runtime.all_service_stats)
            yield controller

    return factory


@asynccontextmanager
async def _engine_on(
    settings: Settings,
    target: Target,
    cluster: ClusterCredentials | None,
    options: ControllerOptions | None,
    hooks: EngineHooks,
) -> AsyncIterator[Controller]:
    """The engine on ``target``: without CONVEYOR_CLUSTER, a fleet that also deploys to
    every added cluster; with it, one controller on that one target."""
    if not settings.cluster:
        async with fleet_engine(
            settings, target, cluster, in_cluster=own_cluster, options=options,
            observer=hooks.observer, git_observer=hooks.metrics.git_request,
            render_observer=hooks.metrics.render, fence=hooks.fence,
        ) as fleet:  # fmt: skip
            yield fleet
        return
    async with engine(
        settings, target, options=options, observer=hooks.observer,
        git_observer=hooks.metrics.git_request, render_observer=hooks.metrics.render,
        destination_check=destination_check(settings, cluster), fence=hooks.fence,
    ) as controller:  # fmt: skip
        yield controller


def create_app(
    settings: Settings,
    *,
    controller_factory: ControllerFactory | None = None,
    webhook_secret: str | None = None,
    notification_options: DeliveryOptions | None = None,
    url: str | None = None,
) -> FastAPI:
    """The API server's app. ``webhook_secret`` defaults to ``webhook.load_secret``;
    ``notification_options`` say how hard notifications are retried; ``url`` is where it
    listens (the other servers forward there while it holds the lease)."""
    factory = controller_factory or local_engine(settings)

    @asynccontextmanager
    async def serving(
        app: FastAPI, database: Database, tokens: TokenStore, fence: Fence | None
    ) -> AsyncIterator[None]:
        """The engine up and the handlers' context set, until the server stops."""
        metrics = Metrics()
        async with factory(EngineHooks(_Observer(metrics), metrics, fence)) as controller:
            events = AppEvents(_lookup(controller))
            controller.add_event_listener(events.on_event)
            controller.add_event_listener(metrics.on_event)
            metrics.bind(controller.applications, _lookup(controller))
            metrics.bind_live_objects(_live_objects(controller))
            notifications = NotificationService(database, controller, options=notification_options)
            await notifications.start()
            activity = ActivityRecorder(
                controller.repo, retention=_retention(settings), clock=controller.clock
            )
            controller.add_event_listener(activity)
            activity.record_initial_health(controller.applications())  # no await: none missed
            controller.add_event_listener(
                StatusWatch(_lookup(controller), controller.live.app_objects, activity)
            )
            activity.start()
            dora = DoraFigures(controller, clock=controller.clock)
            controller.add_event_listener(dora.on_event)
            metrics.bind_dora(lambda: dora.latest)
            dora.start()
            context = ApiContext(
                settings=settings,
                controller=controller,
                tokens=tokens,
                metrics=metrics,
                events=events,
                artifacts=ArtifactStore(settings.artifacts_dir),
                ci_runs=CiRunStore(database),
                promotions=PromotionStore(database),
                webhook_secret=webhook_secret or webhook.load_secret(settings),
                notifications=notifications,
                activity=activity,
                dora=dora,
            )
            app.state.context = context
            try:
                yield
            finally:
                context.stopping.set()
                for task in list(context.ci_tasks):
                    task.cancel()
                events.close()
                await notifications.close()
                await dora.close()
                await activity.close()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = await open_database(settings)
        try:
            tokens = TokenStore(database)
            await ensure_admin_token(tokens, settings.home, shared=settings.leases)
            if settings.leases:  # several servers share the database (docs/ha.md)
                async with ha.elected(
                    app,
                    settings,
                    database,
                    url or "",
                    lambda fence: serving(app, database, tokens, fence),
                ):
                    yield
            else:
                async with serving(app, database, tokens, None):
                    yield
        finally:
            await database.close()

    app = FastAPI(
        title="Conveyor",
        version=__version__,
        description="GitOps continuous delivery: the REST API behind the `conveyor` CLI. "
        "Paths and shapes follow Argo CD's API where it has one.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        default_response_class=MaskedJSONResponse,
    )
    errors.install(app)
    app.add_middleware(BodyGuard)
    app.add_middleware(AuditTrail)  # outside BodyGuard: a refused token is audited too
    app.add_middleware(ha.Forwarder)  # a standby's requests go to the lease holder
    app.add_middleware(AccessLog)  # outermost: 401s and 413s of BodyGuard are logged too
    authenticated = [Depends(require_access)]
    for module in (
        routes_apps,
        routes_operations,
        routes_deployments,
        routes_notifications,
        routes_audit,
        routes_dora,
        routes_resources,
        routes_actions,
        routes_rollouts,
        routes_logs,
        routes_projects,
        routes_repos,
        routes_artifacts,
        routes_ci,
        routes_promotions,
        routes_clusters,
        routes_stream,
        routes_account,
    ):
        app.include_router(module.router, dependencies=authenticated)
    app.include_router(webhook.router)
    app.include_router(routes_system.router)
    ui.install(app)  # the web UI: its routes check access themselves (conveyor.api.ui.guard)
    return app


def _retention(settings: Settings) -> Retention:
    """CONVEYOR_AUDIT_MAX_AGE_DAYS and CONVEYOR_AUDIT_MAX_ROWS (0: no bound)."""
    return Retention(
        max_age=timedelta(days=settings.audit_max_age_days)
        if settings.audit_max_age_days
        else None,
        max_rows=settings.audit_max_rows or None,
    )


def _lookup(controller: Controller) -> Callable[[str], dict[str, Any] | None]:
    def lookup(name: str) -> dict[str, Any] | None:
        try:
            return controller.application(name)
        except NotFoundError:
            return None

    return lookup


def _live_objects(controller: Controller) -> Callable[[], list[dict[str, Any]]]:
    """Every object the controller's live cache holds for some app (Rollouts, runs...)."""

    def objects() -> list[dict[str, Any]]:
        return [
            obj
            for app in sorted(controller.live.apps())
            for obj in controller.live.app_objects(app)
        ]

    return objects
