"""The web UI served by ``conveyor server``: server-rendered pages, live through htmx and SSE.

Pages are Jinja2 templates (``templates/``) drawn from the same views as the API; htmx and its
SSE extension (``static/vendor``, pinned and checked by hash) swap in fragments and live
updates, with no build step and no node toolchain. A browser signs in with a token and then
holds a session cookie (``conveyor.api.sessions``); every page is checked against the API's
route table (``conveyor.api.access.ROUTES``). ``install`` adds it all to the app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from conveyor.api.ui import (
    app_streams,
    login,
    pages_app,
    pages_apps,
    pages_delivery,
    pages_records,
    pages_reports,
    rollout_actions,
)
from conveyor.api.ui.guard import LoginRequired, login_redirect

ROUTERS = (
    login,
    pages_apps,
    pages_app,
    app_streams,
    rollout_actions,
    pages_delivery,
    pages_reports,
    pages_records,
)
"""Each module's ``router``; a new page is a module here (see docs/ui.md)."""


def install(app: FastAPI) -> None:
    """Add the UI's routes, static files and login redirect to ``app``."""
    app.add_exception_handler(LoginRequired, login_redirect)
    app.mount(
        "/ui/static",
        StaticFiles(packages=[("conveyor.api.ui", "static")]),
        name="ui-static",
    )
    for module in ROUTERS:
        app.include_router(module.router)
