"""The API app around a controller on the in-memory target: no process, no port.

For the UI's unit tests (sessions, cookies, Origin and HX-Request rules, pages that need no
running workload), driven by Starlette's TestClient in process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from conveyor.api.app import EngineHooks, create_app
from conveyor.api.discovery import read_admin_token
from conveyor.bootstrap import engine
from conveyor.engine.controller import Controller
from conveyor.settings import Settings
from support.fake_target import FakeTarget


def fake_app(home: Path) -> FastAPI:
    settings = Settings.from_env(home=home)

    @asynccontextmanager
    async def factory(hooks: EngineHooks) -> AsyncIterator[Controller]:
        async with engine(settings, FakeTarget(), observer=hooks.observer) as controller:
            yield controller

    return create_app(settings, controller_factory=factory, webhook_secret="unused")


def admin_token(home: Path) -> str:
    token = read_admin_token(home)
    assert token is not None
    return token
