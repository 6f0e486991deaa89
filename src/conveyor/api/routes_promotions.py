"""``/api/v1/promotions``: every promotion, promoted or refused, with the gates it met.

``conveyor promote`` checks the gates and commits the tag itself (in the config checkout it
runs in), then records the attempt here, refusals included, so that the server keeps which
tag went where, who asked, when, and what each gate saw. Recording a promotion into an app
needs the right to sync that app (``conveyor.api.access``); the token that recorded it is
kept next to the user the CLI names.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from conveyor.api.access import app_object, enforce
from conveyor.api.auth import Caller
from conveyor.api.context import ApiContext, Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import DNS_SUBDOMAIN
from conveyor.errors import NotFoundError, ValidationError
from conveyor.store import PromotionStore

router = APIRouter(prefix="/api/v1/promotions", tags=["promotions"], responses=ERROR_RESPONSES)

LIMIT_MAX = 10_000
_TEXT = 4096


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    held: bool
    detail: str = Field(default="", max_length=_TEXT)


class PromotionBody(BaseModel):
    """A promotion as ``PromotionRecord.to_dict`` writes it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    pipeline: str = Field(min_length=1, max_length=253)
    app: str = Field(pattern=DNS_SUBDOMAIN, max_length=253)
    source: str = Field(alias="from", min_length=1, max_length=253)
    target: str = Field(alias="to", min_length=1, max_length=253)
    image: str = Field(min_length=1, max_length=1024)
    tag: str = Field(default="", max_length=255)
    promotedBy: str = Field(min_length=1, max_length=253)
    promotedAt: datetime
    outcome: Literal["promoted", "refused"]
    failedGates: list[str] = Field(default_factory=list, max_length=50)
    message: str = Field(default="", max_length=_TEXT)
    gates: list[Gate] = Field(default_factory=list, max_length=50)
    commit: str = Field(default="", pattern=r"^([0-9a-f]{40}|[0-9a-f]{64})?$")
    branch: str = Field(default="", max_length=255)
    appCommit: str = Field(default="", max_length=255)


def _promotions(ctx: ApiContext) -> PromotionStore:
    if ctx.promotions is None:
        raise NotFoundError("this server keeps no promotions")
    return ctx.promotions


@router.get("", summary="Promotions, oldest first (the newest `limit` that match)")
async def list_promotions(
    ctx: Ctx,
    app: Annotated[
        str | None,
        Query(max_length=253, description="Only this pipeline's, or this target app's."),
    ] = None,
    env: Annotated[
        str | None, Query(max_length=253, description="Only those into this environment.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX, description="At most this many.")] = 1000,
) -> dict[str, Any]:
    items = await _promotions(ctx).list(app=app, env=env, limit=limit)
    return {"items": items}


@router.post("", status_code=201, summary="Record a promotion (promoted or refused)")
async def record_promotion(ctx: Ctx, caller: Caller, body: PromotionBody) -> dict[str, Any]:
    if body.outcome == "promoted" and (not body.commit or not all(g.held for g in body.gates)):
        raise ValidationError("a promotion that went through names its commit and held gates")
    if body.outcome == "refused" and not body.failedGates:
        raise ValidationError("a refused promotion names the gates that failed (failedGates)")
    obj = f"default/{body.app}"
    with contextlib.suppress(NotFoundError):
        obj = app_object(ctx.controller.application(body.app))
    enforce(caller, "applications", "sync", obj)
    data = body.model_dump(by_alias=True, mode="json")
    data["gates"] = [g.model_dump() for g in body.gates]
    stored: dict[str, Any] = await _promotions(ctx).add(data, recorded_by=caller.name)
    return stored
