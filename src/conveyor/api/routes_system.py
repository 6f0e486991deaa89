"""Unauthenticated endpoints for machines: liveness, Prometheus metrics, the version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from conveyor import __version__
from conveyor.api.context import Ctx

router = APIRouter(tags=["system"])


@router.get("/healthz", summary="Liveness", response_class=PlainTextResponse)
async def healthz() -> str:
    return "ok"


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(ctx: Ctx) -> Response:
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/version", summary="The server's version")
async def version() -> dict[str, Any]:
    return {"Version": __version__}
