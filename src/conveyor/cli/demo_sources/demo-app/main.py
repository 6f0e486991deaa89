"""demo-app: the seeds' small FastAPI service, the app Conveyor's demo builds and deploys.

Endpoints:
  /         a greeting with the version (the git SHA this build came from), the environment and
            the Pod that answered; a share ERROR_RATE of these requests fail with 500 on purpose,
            so a canary can be seen to go bad
  /health   liveness: the process answers
  /ready    readiness: 503 from the moment shutdown begins, so traffic is drained before exit
  /metrics  Prometheus metrics from prometheus-fastapi-instrumentator (``http_requests_total``
            by handler, method and status, latency histograms) plus process metrics and
            ``demo_app_info{version,environment}``

Settings come from the environment (the config repo's ConfigMap), all optional:
  VERSION                 overrides the version; otherwise it is the ``revision`` in the
                          ``artifact.json`` beside this directory (the Conveyor artifact this
                          runs from), else ``git rev-parse HEAD`` here, else "unknown"
  ENVIRONMENT             dev / staging / prod, reported at / and in demo_app_info
  ERROR_RATE              0.0-1.0: the share of / requests that fail with 500 (default 0)
  LOG_LEVEL               debug, info, warning or error (default info); applies to uvicorn's
                          loggers too, so "error" also silences the access log (which leaves
                          out probes and scrapes unless at debug)
  SHUTDOWN_DELAY_SECONDS  after SIGTERM, keep serving (not ready) this long before uvicorn's
                          graceful shutdown, so load balancers stop sending first (default 0)
  POD_NAME                the Pod's name (downward API), reported at /

Run it as the local runtime does: ``uvicorn main:app --host 127.0.0.1 --port $PORT``.
A bad setting stops the process at startup with a message naming it (CrashLoopBackOff).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Info,
)
from prometheus_fastapi_instrumentator import Instrumentator

APP_NAME = "demo-app"
HERE = Path(__file__).resolve().parent
ARTIFACT_FILE = "artifact.json"
"""Written by ``conveyor artifact build`` beside the source tree (``<artifact>/src``)."""
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
UNINSTRUMENTED = ["/metrics", "/health", "/ready"]
"""Probes and scrapes stay out of http_requests_total, so its error share is the users' one."""

log = logging.getLogger(APP_NAME)


class ConfigError(ValueError):
    """A setting from the environment is not usable; the message names it and the fix."""


@dataclass(frozen=True)
class Settings:
    """What the environment configures; read once at startup."""

    version: str
    environment: str = "local"
    pod: str = ""
    error_rate: float = 0.0
    log_level: str = "info"
    shutdown_delay: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, here: Path = HERE) -> Settings:
        """The settings in ``env`` (default ``os.environ``); ConfigError for a bad value."""
        env = os.environ if env is None else env
        level = env.get("LOG_LEVEL", "").strip().lower() or "info"
        if level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL={level!r} is not one of {', '.join(LOG_LEVELS)}")
        return cls(
            version=env.get("VERSION", "").strip() or built_revision(here),
            environment=env.get("ENVIRONMENT", "").strip() or "local",
            pod=env.get("POD_NAME", "").strip(),
            error_rate=_number(env, "ERROR_RATE", high=1.0),
            log_level=level,
            shutdown_delay=_number(env, "SHUTDOWN_DELAY_SECONDS", high=3600.0),
        )


def _number(env: Mapping[str, str], name: str, *, high: float) -> float:
    text = env.get(name, "").strip()
    if not text:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= high:  # also refuses NaN
        raise ConfigError(f"{name}={text!r} must be a number from 0 to {high:g}")
    return value


def built_revision(here: Path = HERE) -> str:
    """The git SHA this code was built from: the artifact's metadata, else git, else unknown.

    An artifact's source is a git export without ``.git``, so its SHA is read from the
    ``artifact.json`` that the artifact store writes beside ``src/``; a plain checkout asks git.
    """
    try:
        metadata = json.loads((here.parent / ARTIFACT_FILE).read_text(encoding="utf-8"))
        revision = metadata.get("revision") if isinstance(metadata, dict) else None
        if isinstance(revision, str) and revision:
            return revision
    except (OSError, ValueError):
        pass
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


class Lifecycle:
    """Readiness across shutdown: SIGTERM turns /ready to 503, then uvicorn drains and exits.

    uvicorn handles SIGTERM by closing its socket at once. Wrapping its handler lets the Pod
    report not-ready first and keep serving for ``shutdown_delay`` seconds (the time a load
    balancer needs to notice); a second SIGTERM skips the rest of the delay.
    """

    def __init__(self, shutdown_delay: float) -> None:
        self.shutting_down = False
        self._delay = shutdown_delay
        self._handed_over = False

    def begin_shutdown(self) -> None:
        """From now on /ready answers 503."""
        if not self.shutting_down:
            log.info("shutting down: readiness now fails")
        self.shutting_down = True

    def install(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        """Wrap the server's SIGTERM handler; returns a function that restores it.

        Does nothing off the main thread (signals cannot be set there, as under a test
        client) or when no server handles SIGTERM (nobody to hand the shutdown to).
        """
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        server_handler = signal.getsignal(signal.SIGTERM)
        if not callable(server_handler):
            return lambda: None

        def hand_over(signum: int, frame: FrameType | None) -> None:
            if not self._handed_over:
                self._handed_over = True
                server_handler(signum, frame)

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            first = not self.shutting_down
            self.begin_shutdown()
            if first and self._delay > 0:
                log.info("serving %.1fs more before closing", self._delay)
                loop.call_soon_threadsafe(loop.call_later, self._delay, hand_over, signum, None)
            else:
                hand_over(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)

        def restore() -> None:
            if signal.getsignal(signal.SIGTERM) is on_sigterm:
                signal.signal(signal.SIGTERM, server_handler)

        return restore


class _QuietProbes(logging.Filter):
    """Keeps probe and scrape requests (one every few seconds per Pod) out of the access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        path = args[2] if isinstance(args, tuple) and len(args) > 2 else None
        return not (isinstance(path, str) and path.split("?")[0] in UNINSTRUMENTED)


def _configure_logging(level: str) -> None:
    """Our logger to stdout like uvicorn's; LOG_LEVEL for uvicorn's loggers as well.

    At debug level the probes' requests are logged too.
    """
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(f"%(levelname)s: {APP_NAME} %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    numeric = logging.getLevelName(level.upper())
    for name in (APP_NAME, "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(numeric)
    access = logging.getLogger("uvicorn.access")
    for old in [f for f in access.filters if isinstance(f, _QuietProbes)]:
        access.removeFilter(old)
    if level != "debug":
        access.addFilter(_QuietProbes())


def _metrics_registry(settings: Settings) -> CollectorRegistry:
    """A registry per app (two apps in one process, as in tests, never collide)."""
    registry = CollectorRegistry()
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    info = Info("demo_app", "The running build of demo-app.", registry=registry)
    info.info({"version": settings.version, "environment": settings.environment})
    return registry


def create_app(settings: Settings | None = None, *, rng: random.Random | None = None) -> FastAPI:
    """The service configured by ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()
    chance = rng or random.Random()  # picks injected failures: no secrets involved
    lifecycle = Lifecycle(settings.shutdown_delay)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _configure_logging(settings.log_level)
        restore = lifecycle.install(asyncio.get_running_loop())
        log.info(
            "version %s starting in %s (error rate %g)",
            settings.version,
            settings.environment,
            settings.error_rate,
        )
        try:
            yield
        finally:
            restore()
            log.info("stopped")

    app = FastAPI(title=APP_NAME, version=settings.version, lifespan=lifespan)
    app.state.settings = settings
    app.state.lifecycle = lifecycle

    @app.get("/")
    async def root() -> JSONResponse:
        body: dict[str, Any] = {
            "app": APP_NAME,
            "version": settings.version,
            "environment": settings.environment,
            "pod": settings.pod,
        }
        if settings.error_rate > 0 and chance.random() < settings.error_rate:
            log.error("injected failure (ERROR_RATE=%g)", settings.error_rate)
            return JSONResponse(
                {**body, "error": f"injected failure (ERROR_RATE={settings.error_rate:g})"},
                status_code=500,
            )
        log.debug("served / as %s", settings.version)
        return JSONResponse({**body, "message": f"Hello from {APP_NAME}"})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        if lifecycle.shutting_down:
            return JSONResponse({"ready": False, "reason": "shutting down"}, status_code=503)
        return JSONResponse({"ready": True})

    Instrumentator(
        excluded_handlers=UNINSTRUMENTED, registry=_metrics_registry(settings)
    ).instrument(app).expose(app, include_in_schema=False)
    return app


app = create_app()
