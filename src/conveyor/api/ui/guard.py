"""Who may see a UI page: the session cookie (or a bearer token), then the route table.

``PageCaller`` is the dependency of every UI route but login and logout. It authenticates as
the API does (``conveyor.api.auth.require_token``: cookie rules included) and authorizes
through ``conveyor.api.access`` (the UI's routes are in its table). A browser without a
session is sent to the login page instead of getting a JSON 401: a plain navigation by a
303, an htmx request by ``HX-Redirect``. An EventSource gets the 401 as it is.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from conveyor.api.access import authorize
from conveyor.api.auth import require_token
from conveyor.store import TokenInfo

LOGIN = "/ui/login"

_bearer = HTTPBearer(auto_error=False)


class LoginRequired(Exception):
    """No valid session: the answer sends the browser to the login page."""

    def __init__(self, wanted: str) -> None:
        super().__init__(wanted)
        self.wanted = wanted


def login_url(wanted: str) -> str:
    return f"{LOGIN}?next={quote(wanted, safe='/')}" if wanted.startswith("/ui/") else LOGIN


async def page_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> TokenInfo:
    try:
        caller = await require_token(request, credentials)
    except HTTPException as err:
        accepts = request.headers.get("accept", "")
        if err.status_code != 401 or "text/event-stream" in accepts:
            raise
        raise LoginRequired(request.url.path) from err
    return await authorize(request, caller)


PageCaller = Annotated[TokenInfo, Depends(page_caller)]


async def login_redirect(request: Request, exc: Exception) -> Response:
    """The exception handler of ``LoginRequired``."""
    assert isinstance(exc, LoginRequired)
    target = login_url(exc.wanted)
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
