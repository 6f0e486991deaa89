"""``conveyor deployments list``: every deployment the server recorded, kept for good.

The table shows when each one started, finished and began serving (Healthy and Synced at its
revision); ``-o wide`` adds the project, destination and app commit, ``-o json|yaml`` gives
the API's records unchanged for scripts (DORA figures).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client
from conveyor.cli.output import Output, OutputOpt, handle_errors

app = typer.Typer(
    name="deployments",
    help="The deployment record: every sync, kept after history trimming and app deletion.",
    no_args_is_help=True,
    add_completion=False,
)

COLUMNS = ["APP", "REVISION", "PHASE", "INITIATOR", "USER", "STARTED", "FINISHED", "SERVED"]
WIDE = ["OPERATION", "PROJECT", "DESTINATION", "APP COMMIT"]


def _row(item: dict[str, Any], *, wide: bool) -> list[str]:
    revision = str(item.get("revision") or "")
    row = [
        str(item.get("app", "")),
        revision if wide else revision[:7],
        str(item.get("phase", "")),
        str(item.get("initiator", "")),
        str(item.get("username") or ""),
        str(item.get("startedAt") or ""),
        str(item.get("finishedAt") or ""),
        str(item.get("servedAt") or ""),
    ]
    if wide:
        dest = item.get("destination") or {}
        where = f"{dest.get('server') or dest.get('name') or ''},{dest.get('namespace') or ''}"
        row += [
            str(item.get("operationId", "")),
            str(item.get("project", "")),
            where,
            str(item.get("appCommit") or ""),
        ]
    return row


@app.command("list")
@handle_errors
def list_(
    app_name: Annotated[
        str | None, typer.Option("--app", help="Only this application's deployments.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only those started at or after this RFC 3339 time."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, the newest.")] = 1000,
    output_format: OutputOpt = Output.table,
) -> None:
    """List deployments, oldest first."""
    with Client() as client:
        items = client.get("/api/v1/deployments", app=app_name, since=since, limit=limit)["items"]
    if output.dump(items, output_format):
        return
    wide = output_format is Output.wide
    output.print_table(COLUMNS + (WIDE if wide else []), [_row(i, wide=wide) for i in items])
