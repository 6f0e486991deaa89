"""The render stage's front: cache first, then the one renderer the app needs, timed.

The engine calls ``Renderer.render`` once per app per reconcile. With a CacheKey (repo URL and
resolved commit SHA known) a repeat costs a dictionary lookup and a copy: no subprocess, no
YAML parse, no filesystem access at all, so it works even after the checkout is gone. Every
call, hit or miss, is reported to an observer (the metrics edge turns it into render-duration
histograms) and counted in ``stats``, so tests and benchmarks can see what a call cost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from conveyor.clock import Clock, SystemClock
from conveyor.logging import get_logger
from conveyor.model.objects import Object
from conveyor.render.cache import CacheKey, RenderCache
from conveyor.render.directory import render_directory
from conveyor.render.errors import RenderError
from conveyor.render.helm import render_helm
from conveyor.render.kustomize import render_kustomize
from conveyor.render.paths import resolve_app_dir
from conveyor.render.request import RenderRequest, SourceType, detect

DEFAULT_TIME_LIMIT = 90.0
"""Seconds one render may take (Argo CD's exec timeout for kustomize and helm is 90s)."""


@dataclass(frozen=True)
class RenderResult:
    """The manifests of one app, and what producing them cost."""

    manifests: list[Object]
    """Owned by the caller: a cache hit hands out a fresh copy."""
    source_type: SourceType
    duration: float
    """Seconds, from the call to the result; a hit's is the lookup and the copy."""
    cached: bool


class RenderObserver(Protocol):
    """Told about every render; the metrics edge records durations by type and outcome."""

    def __call__(
        self, *, source_type: SourceType, duration: float, cached: bool, failed: bool
    ) -> None: ...


@dataclass
class RenderStats:
    """Running counts: how many calls the cache answered and how many ran a renderer."""

    hits: int = 0
    renders: int = 0
    """Calls that read files or ran kustomize/helm (cache misses and uncached calls)."""
    failures: int = 0


class Renderer:
    """Renders apps through a shared cache; one per controller process."""

    def __init__(
        self,
        *,
        cache: RenderCache | None = None,
        observer: RenderObserver | None = None,
        clock: Clock | None = None,
        kubectl: str | None = None,
        helm: str | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
    ) -> None:
        self.cache = cache if cache is not None else RenderCache()
        self.stats = RenderStats()
        self._observer = observer
        self._clock = clock or SystemClock()
        self._kubectl = kubectl
        self._helm = helm
        self._time_limit = time_limit

    async def render(self, request: RenderRequest, key: CacheKey | None = None) -> RenderResult:
        """The app's manifests; RenderError (naming file and line) when it cannot render.

        Without ``key`` nothing is cached (a local directory that is not a commit).
        """
        started = self._clock.monotonic()
        entry = self.cache.get(key) if key is not None else None
        if entry is not None:
            self.stats.hits += 1
            try:
                manifests = entry.manifests()
            finally:
                failed = entry.error is not None
                self._observe(entry.source_type, started, cached=True, failed=failed)
            return RenderResult(manifests, entry.source_type, self._since(started), True)

        self.stats.renders += 1
        source_type = request.source_type or SourceType.DIRECTORY
        try:
            with _filesystem_errors():
                if request.source_type is None:
                    source_type = await asyncio.to_thread(_detect, request)
                manifests = await self._render(source_type, request)
        except RenderError as err:
            self.stats.failures += 1
            if key is not None:
                self.cache.put_error(key, source_type, err)
            self._observe(source_type, started, cached=False, failed=True)
            raise
        if key is not None:
            self._remember(key, source_type, manifests)
        self._observe(source_type, started, cached=False, failed=False)
        return RenderResult(manifests, source_type, self._since(started), False)

    async def _render(self, source_type: SourceType, request: RenderRequest) -> list[Object]:
        """Run the renderer for ``source_type`` within the time limit.

        Past the limit kustomize and helm are killed; a directory render, which runs in a
        worker thread, is abandoned to finish on its own.
        """
        try:
            async with asyncio.timeout(self._time_limit):
                if source_type is SourceType.KUSTOMIZE:
                    return await render_kustomize(request, kubectl=self._kubectl)
                if source_type is SourceType.HELM:
                    return await render_helm(request, helm=self._helm)
                return await asyncio.to_thread(render_directory, request)
        except TimeoutError:
            raise RenderError(
                f"rendering did not finish within {self._time_limit:g} seconds; the next "
                "reconcile tries again",
                cacheable=False,
            ) from None

    def _remember(self, key: CacheKey, source_type: SourceType, manifests: list[Object]) -> None:
        try:
            self.cache.put(key, source_type, manifests)
        except ValueError as err:  # a value marshal cannot hold; render again next time
            get_logger(path=key.path).warning("render not cached", error=str(err))

    def _since(self, started: float) -> float:
        return max(0.0, self._clock.monotonic() - started)

    def _observe(
        self, source_type: SourceType, started: float, *, cached: bool, failed: bool
    ) -> None:
        if self._observer is not None:
            self._observer(
                source_type=source_type, duration=self._since(started), cached=cached, failed=failed
            )


@contextlib.contextmanager
def _filesystem_errors() -> Iterator[None]:
    """A failing filesystem (permissions, a vanished checkout) as a RenderError that may pass."""
    try:
        yield
    except OSError as err:
        raise RenderError(
            f"cannot read the exported repository: {err.strerror or err}", cacheable=False
        ) from err


def _detect(request: RenderRequest) -> SourceType:
    _, app_dir = resolve_app_dir(request.root, request.path)
    return detect(app_dir)
