"""Signing in and out of the web UI with an API token.

``POST /ui/login`` takes the token from a form (``token=``), checks it, and answers with a
session cookie (``conveyor.api.sessions``: HttpOnly, SameSite=Strict, Secure over https) and
a redirect to the page that was asked for. It takes no cookie and no bearer token, so it
checks the Origin itself: another site cannot sign a browser in to its own token.
``POST /ui/logout`` ends the session, from the UI only (Origin and HX-Request). Both name
their token to the audit trail (``api.audit``: ``session.login``, ``session.logout``).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from conveyor.api.bodyguard import CALLER_STATE
from conveyor.api.context import Ctx
from conveyor.api.sessions import (
    COOKIE,
    browser_refusal,
    cookie_caller,
    is_https,
    origin_refusal,
    session_id,
)
from conveyor.api.ui.guard import LOGIN
from conveyor.api.ui.templating import page

router = APIRouter(include_in_schema=False)

HOME = "/ui/applications"
MAX_FORM = 4096


def _next(wanted: str | None) -> str:
    """Where to go after signing in: a UI path of this server, never another site."""
    if wanted and wanted.startswith("/ui/") and "//" not in wanted and "\\" not in wanted:
        return wanted
    return HOME


@router.get("/")
@router.get("/ui")
@router.get("/ui/")
async def root() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get(LOGIN)
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    return page(request, "login.html", None, next=_next(next), error="")


@router.post(LOGIN)
async def login(ctx: Ctx, request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:MAX_FORM].decode("utf-8", "replace")) if len(body) <= MAX_FORM else {}
    wanted = _next((form.get("next") or [""])[0])
    refusal = origin_refusal(request.scope)
    if refusal is not None:
        return page(request, "login.html", None, next=wanted, error=refusal, status_code=403)
    token = (form.get("token") or [""])[0].strip()
    info = await ctx.tokens.verify(token) if token else None
    if info is None:
        return page(
            request,
            "login.html",
            None,
            next=wanted,
            error="That token is not valid (or was revoked).",
            status_code=401,
        )
    setattr(request.state, CALLER_STATE, info)  # the audit trail's actor (api.audit)
    answer = RedirectResponse(wanted, status_code=303)
    answer.set_cookie(
        COOKIE,
        ctx.sessions.create(token),
        max_age=int(ctx.sessions.seconds),
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_https(request.scope),
    )
    return answer


@router.post("/ui/logout")
async def logout(ctx: Ctx, request: Request) -> Response:
    refusal = browser_refusal(request.scope)
    if refusal is not None:
        return Response(refusal, status_code=403, media_type="text/plain")
    found = session_id(request.scope)
    if found:
        caller = await cookie_caller(request.scope, ctx.sessions, ctx.tokens)
        if caller is not None:  # the audit trail's actor (api.audit)
            setattr(request.state, CALLER_STATE, caller)
        ctx.sessions.end(found)
    answer = Response(status_code=204, headers={"HX-Redirect": LOGIN})
    answer.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="strict", secure=is_https(request.scope)
    )
    return answer
