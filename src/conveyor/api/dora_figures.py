"""DORA figures for the API and /metrics: the store's records and git's commits, put together.

``engine.dora`` computes; this module feeds it. It reads the deployment record and the health
events, names each app's environment (its ``conveyor.dev/environment`` or ``environment``
label, as the policy gate reads it, else its destination namespace), and finds each
deployment's changes in the app's repository mirror (``source.commit_log``: the commits since
the app's previous deployment, the app commit of a write-back commit standing for it), cached
by commit, which never changes.

``/metrics`` cannot wait on the store at scrape time, so ``DoraFigures.latest`` holds the
figures of the metrics window, recomputed a second after an operation ends or an app's health
changes, and once a minute as the window slides (reads only: nothing is written).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from conveyor.clock import Clock, SystemClock
from conveyor.engine import dora
from conveyor.engine.controller import Controller
from conveyor.engine.events import EngineEvent, HealthStatusChanged, OperationFinished
from conveyor.engine.records import iso
from conveyor.engine.repository import DeploymentRecord
from conveyor.errors import NotFoundError
from conveyor.logging import get_logger
from conveyor.policy.gate import ENVIRONMENT_LABEL, PLAIN_ENVIRONMENT_LABEL
from conveyor.source import RepoCache, commit_log

log = get_logger(component="dora")

METRICS_WINDOW = timedelta(days=30)
"""The window of the ``conveyor_dora_*`` gauges."""
LOOKBACK = timedelta(days=90)
"""How far before the window records are read: whether a revision is new, and what an app
ran before a deployment, is judged from this much history (so a query's cost stays bounded
as the record grows)."""
MAX_CACHED = 10_000


class DoraFigures:
    """Computes the four keys from the controller's store and mirrors."""

    def __init__(
        self,
        controller: Controller,
        *,
        clock: Clock | None = None,
        refresh_every: float = 60.0,
        debounce: float = 1.0,
    ) -> None:
        self._controller = controller
        self._clock = clock or SystemClock()
        self._refresh_every = refresh_every
        self._debounce = debounce
        self._changes: dict[tuple[str, str, str], list[datetime]] = {}
        self._envs: dict[str, str] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.latest: list[dora.Figures] = []
        """Per app and environment over ``METRICS_WINDOW``, for /metrics."""

    # -- figures -------------------------------------------------------------------------------

    async def compute(
        self, *, window: timedelta, app: str | None = None, env: str | None = None
    ) -> tuple[dora.Figures, list[dora.Figures]]:
        """The figures of everything selected, and of each app and environment."""
        repo = self._controller.repo
        now = self._clock.now()
        horizon = now - window - LOOKBACK
        records = await repo.deployments(app=app, since=horizon)
        health = await repo.health_events(app=app, since=horizon)
        deployments = dora.classify(records, health, self.env_of)
        if env is not None:
            deployments = [d for d in deployments if d.env == env]
        changes = await self._changes_of([d for d in deployments if d.at > now - window])
        total = dora.figures(
            deployments, changes, window=window, now=now, app=app or "*", env=env or "*"
        )
        return total, dora.per_app_env(deployments, changes, window=window, now=now)

    async def report(
        self, *, window: timedelta, window_text: str, app: str | None, env: str | None
    ) -> dict[str, Any]:
        """``GET /api/v1/dora``'s answer."""
        total, groups = await self.compute(window=window, app=app, env=env)
        now = self._clock.now()
        return {
            "window": window_text,
            "windowSeconds": window.total_seconds(),
            "from": iso(now - window),
            "until": iso(now),
            "total": total.to_dict(),
            "items": [g.to_dict() for g in groups],
        }

    def env_of(self, record: DeploymentRecord) -> str:
        try:
            app = self._controller.application(record.app)
        except NotFoundError:
            return self._envs.get(record.app) or dora.environment(record)
        labels = (app.get("metadata") or {}).get("labels") or {}
        env = labels.get(ENVIRONMENT_LABEL) or labels.get(PLAIN_ENVIRONMENT_LABEL)
        found = env if isinstance(env, str) and env else dora.environment(record)
        self._envs[record.app] = found
        return found

    async def _changes_of(self, deployments: list[dora.Deployment]) -> dict[int, list[datetime]]:
        found: dict[int, list[datetime]] = {}
        for d in deployments:
            url = self._repo_url(d.app)
            key = (url, d.previous_revision, d.record.revision)
            if key not in self._changes:
                if not url:
                    continue
                if len(self._changes) >= MAX_CACHED:
                    self._changes.clear()
                self._changes[key] = await self._commit_times(url, *key[1:])
            found[d.record.id] = self._changes[key]
        return found

    async def _commit_times(self, url: str, old: str, new: str) -> list[datetime]:
        repos: RepoCache = self._controller.comparer.repos
        try:
            commits = await commit_log(repos, url, old, new)
        except Exception as err:  # a gone mirror, a bad URL: no changes known, say why
            log.warning("commits of a deployment unreadable", url=url, error=str(err))
            return []
        return list(dict(c.change() for c in commits).values())

    def _repo_url(self, app: str) -> str:
        try:
            spec = self._controller.application(app).get("spec") or {}
        except NotFoundError:
            return ""
        url = (spec.get("source") or {}).get("repoURL")
        return url if isinstance(url, str) else ""

    # -- the metrics' figures, kept fresh ------------------------------------------------------

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, OperationFinished | HealthStatusChanged):
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="dora-figures")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> None:
        _, self.latest = await self.compute(window=METRICS_WINDOW)

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as err:  # the store is busy or gone: the next round tries again
                log.warning("DORA figures not refreshed", error=str(err))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._refresh_every):
                    await self._wake.wait()
                await asyncio.sleep(self._debounce)  # the recorder's writes land meanwhile
            self._wake.clear()
