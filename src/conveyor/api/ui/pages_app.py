"""The application page, its tabs, and what a person can do to the app from it.

``GET /ui/applications/NAME?tab=TAB`` is the whole page; ``GET .../NAME/TAB`` one tab, for
htmx. The actions are the API's, started the same way and checked by the same route table:
Sync (prune, dry run), Refresh (normal or hard), Rollback to a history entry, and Delete,
which asks for the app's name typed again. Each answers with a short message for the page;
the app's new state arrives through the page's live stream (``app_streams``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from conveyor.api.context import Ctx
from conveyor.api.masking import mask_document
from conveyor.api.schemas import DNS_SUBDOMAIN
from conveyor.api.ui import templating
from conveyor.api.ui.forms import read_form
from conveyor.api.ui.guard import PageCaller
from conveyor.api.ui.summary import summarize
from conveyor.api.ui.tabs import LABELS, TABS, TabParams, tab, tabs_of
from conveyor.errors import NotFoundError, ValidationError

router = APIRouter(include_in_schema=False)

AppName = Annotated[str, Path(max_length=253, pattern=DNS_SUBDOMAIN)]
Source = Annotated[str, Query(max_length=8)]
Pod = Annotated[str, Query(max_length=253)]


def _flash(message: str, *, kind: str = "ok", headers: dict[str, str] | None = None) -> Response:
    return templating.fragment("flash.html", message=message, kind=kind, headers=headers)


@router.get("/ui/applications/{name}")
async def application(
    ctx: Ctx,
    caller: PageCaller,
    request: Request,
    name: AppName,
    tab_name: Annotated[str, Query(alias="tab", max_length=20)] = "tree",
    source: Source = "git",
    pod: Pod = "",
) -> Response:
    try:
        app = mask_document(ctx.controller.application(name))
    except NotFoundError as err:
        return templating.page(
            request, "error.html", caller, title="No such application", message=str(err),
            back="/ui/applications", status_code=404,
        )  # fmt: skip
    available = tabs_of(app)
    chosen = tab_name if tab_name in available else "tree"
    shown = await tab(ctx, name, chosen, TabParams(source=source, pod=pod))
    return templating.page(
        request,
        "application.html",
        caller,
        **{
            **shown.values,
            "app": app,
            "s": summarize(app),
            "name": name,
            "tabs": [(t, LABELS[t]) for t in available],
            "tab": shown,
        },
    )


def _tab_route(which: str) -> None:
    async def one_tab(
        ctx: Ctx, caller: PageCaller, name: AppName, source: Source = "git", pod: Pod = ""
    ) -> Response:
        shown = await tab(ctx, name, which, TabParams(source=source, pod=pod))
        return templating.fragment(shown.template, tab=shown, **shown.values)

    one_tab.__name__ = f"tab_{which}"
    router.add_api_route(f"/ui/applications/{{name}}/{which}", one_tab, methods=["GET"])


for _which in TABS:
    _tab_route(_which)


@router.get("/ui/applications/{name}/sync")
async def sync_dialog(ctx: Ctx, caller: PageCaller, name: AppName) -> Response:
    app = mask_document(ctx.controller.application(name))
    return templating.fragment("dialogs/sync.html", s=summarize(app))


@router.post("/ui/applications/{name}/sync")
async def sync(ctx: Ctx, caller: PageCaller, request: Request, name: AppName) -> Response:
    form = await read_form(request)
    ctx.controller.application(name)
    dry_run = form.flag("dry_run")
    await ctx.controller.sync(
        name, prune=form.flag("prune"), dry_run=dry_run, initiated_by=caller.name
    )
    what = "A dry run" if dry_run else "A sync"
    return _flash(f"{what} of {name} started.")


@router.post("/ui/applications/{name}/refresh")
async def refresh(ctx: Ctx, caller: PageCaller, request: Request, name: AppName) -> Response:
    form = await read_form(request)
    hard = form.flag("hard")
    ctx.controller.refresh(name, hard=hard)
    return _flash(f"{'A hard refresh' if hard else 'A refresh'} of {name} was asked for.")


@router.post("/ui/applications/{name}/rollback")
async def rollback(ctx: Ctx, caller: PageCaller, request: Request, name: AppName) -> Response:
    form = await read_form(request)
    result = await ctx.controller.rollback(name, form.integer("id"), initiated_by=caller.name)
    return _flash(str(result["message"]).capitalize() + ".")


@router.get("/ui/applications/{name}/delete")
async def delete_dialog(ctx: Ctx, caller: PageCaller, name: AppName) -> Response:
    app = mask_document(ctx.controller.application(name))
    return templating.fragment("dialogs/delete.html", s=summarize(app))


@router.post("/ui/applications/{name}/delete")
async def delete(ctx: Ctx, caller: PageCaller, request: Request, name: AppName) -> Response:
    form = await read_form(request)
    ctx.controller.application(name)
    if form.text("confirm").strip() != name:
        raise ValidationError(f"type the application's name, {name}, to delete it")
    await ctx.controller.delete_application(name, cascade=form.flag("cascade"))
    return _flash(f"{name} was deleted.", headers={"HX-Redirect": "/ui/applications"})
