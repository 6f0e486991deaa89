"""``/api/v1/audit``: the audit trail, filtered, as JSON, JSON lines or CSV.

Every mutating API request and every operation of the controller's own is there
(``api.audit``, ``engine.activity``). ``?format=jsonl`` streams one JSON object a line,
``?format=csv`` a spreadsheet with a header row; a CSV cell that a spreadsheet would read as
a formula (``=``, ``+``, ``-``, ``@``) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from conveyor.api.context import Ctx
from conveyor.api.errors import ERROR_RESPONSES
from conveyor.api.schemas import DNS_SUBDOMAIN
from conveyor.engine.records import AUDIT_FIELDS, AuditEntry, AuditQuery
from conveyor.errors import ValidationError

FLUSH_WAIT = 5.0
"""Seconds a read waits for audit rows still queued (a failing store: answer without)."""

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)

LIMIT_MAX = 100_000


class Format(StrEnum):
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def utc(moment: datetime | None, what: str) -> datetime | None:
    """An RFC 3339 query time as UTC (UTC when it has no offset); 400 when out of range."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except OverflowError as err:
        raise ValidationError(f"{what} {moment.isoformat()} is out of range") from err


@router.get(
    "",
    summary="The audit trail, oldest first (the newest `limit` that match)",
    responses={
        200: {
            "content": {
                "application/json": {},
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            }
        }
    },
)
async def list_audit(
    ctx: Ctx,
    user: Annotated[str | None, Query(max_length=253, description="Only this actor's.")] = None,
    app: Annotated[
        str | None, Query(pattern=DNS_SUBDOMAIN, max_length=253, description="Only this app's.")
    ] = None,
    action: Annotated[
        str | None, Query(max_length=253, description="Only this action (applications.sync).")
    ] = None,
    since: Annotated[datetime | None, Query(description="At or after (RFC 3339).")] = None,
    until: Annotated[datetime | None, Query(description="Before (RFC 3339).")] = None,
    limit: Annotated[int, Query(ge=1, le=LIMIT_MAX)] = 1000,
    format: Annotated[Format, Query(description="json, jsonl or csv.")] = Format.json,
) -> Any:
    query = AuditQuery(
        actor=user,
        app=app,
        action=action,
        since=utc(since, "since"),
        until=utc(until, "until"),
        limit=limit,
    )
    if ctx.activity is not None:  # what was done before this request is in the answer
        await ctx.activity.flush(timeout=FLUSH_WAIT)
    entries = await ctx.controller.repo.audit(query)
    if format is Format.jsonl:
        text = "".join(json.dumps(e.to_dict(), sort_keys=True) + "\n" for e in entries)
        return Response(text, media_type="application/x-ndjson")
    if format is Format.csv:
        return Response(
            to_csv(entries),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
        )
    return {"items": [e.to_dict() for e in entries]}


def to_csv(entries: list[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(AUDIT_FIELDS)
    for entry in entries:
        row = entry.to_dict()
        writer.writerow(_cell(row[field]) for field in AUDIT_FIELDS)
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text
