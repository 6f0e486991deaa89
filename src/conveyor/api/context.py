"""What the handlers share, held on ``app.state`` for the life of the server.

Handlers receive it through the ``Ctx`` dependency, so that tests can build an app around
any controller and nothing is a module-level global.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from conveyor.api.dora_figures import DoraFigures
from conveyor.api.events import AppEvents
from conveyor.api.metrics import Metrics
from conveyor.api.sessions import SessionStore
from conveyor.artifacts import ArtifactStore
from conveyor.engine.activity import ActivityRecorder
from conveyor.engine.controller import Controller
from conveyor.notify.service import NotificationService
from conveyor.settings import Settings
from conveyor.store import CiRunStore, PromotionStore, TokenStore


@dataclass
class ApiContext:
    """The running server's parts."""

    settings: Settings
    controller: Controller
    tokens: TokenStore
    metrics: Metrics
    events: AppEvents
    artifacts: ArtifactStore
    ci_runs: CiRunStore | None = None
    """Where CI runs are recorded (``/api/v1/ci/runs``)."""
    promotions: PromotionStore | None = None
    """Where promotions are recorded (``/api/v1/promotions``)."""
    ci_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    """CI runs in progress, owned until they end."""
    webhook_secret: str | None = None
    """HMAC secret (GitHub, Gitea) or shared token (GitLab) of webhooks; None accepts any."""
    notifications: NotificationService | None = None
    """The notifier and its outbox (``/api/v1/notifications``)."""
    activity: ActivityRecorder | None = None
    """Writes the audit trail (requests, the controller's operations) and health events."""
    dora: DoraFigures | None = None
    """DORA's four keys (``/api/v1/dora``, ``conveyor_dora_*``)."""
    sessions: SessionStore = field(default_factory=SessionStore)
    """The web UI's browser sessions (``conveyor.api.sessions``)."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the server shuts down, so that streams (SSE, log follow) end."""


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Ctx = Annotated[ApiContext, Depends(_context)]
