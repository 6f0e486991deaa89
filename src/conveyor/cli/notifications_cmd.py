"""``conveyor notifications list [--dead]`` and ``conveyor notifications config``.

``list`` shows the outbox, newest first: what each trigger sent to which service and
recipient, how many attempts it took, and the last error (``--dead`` for the dead letters,
which are kept until they are looked at). ``config`` shows the configuration in force and its
warnings (service types, never their options or secret values).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client
from conveyor.cli.output import Output, OutputOpt, handle_errors

app = typer.Typer(
    name="notifications",
    help="Notifications: the outbox (sent, pending, dead letters) and the configuration.",
    no_args_is_help=True,
    add_completion=False,
)

COLUMNS = ["ID", "CREATED", "SUBJECT", "TRIGGER", "SERVICE", "RECIPIENT", "STATUS", "ATTEMPTS"]


def _row(item: dict[str, Any]) -> list[str]:
    return [
        str(item.get("id", "")),
        str(item.get("createdAt") or ""),
        str(item.get("subject", "")),
        str(item.get("trigger", "")),
        str(item.get("service", "")),
        str(item.get("recipient", "")),
        str(item.get("status", "")),
        str(item.get("attempts", "")),
    ]


@app.command("list")
@handle_errors
def list_(
    dead: Annotated[bool, typer.Option("--dead", help="Only the dead letters.")] = False,
    status: Annotated[
        str | None, typer.Option("--status", help="Only this status: pending, sent, dead.")
    ] = None,
    app_name: Annotated[str | None, typer.Option("--app", help="Only this app's.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest.")] = 100,
    output_format: OutputOpt = Output.table,
) -> None:
    """List notifications, newest first."""
    with Client() as client:
        answer = client.get(
            "/api/v1/notifications",
            dead=dead or None, status=status, app=app_name, limit=limit,
        )  # fmt: skip
    items = answer["items"]
    if output.dump(items, output_format):
        return
    wide = output_format is Output.wide
    rows = [_row(i) + ([str(i.get("lastError") or "")] if wide else []) for i in items]
    output.print_table(COLUMNS + (["LAST ERROR"] if wide else []), rows)
    if not wide:
        for item in items:
            if item.get("status") == "dead" and item.get("lastError"):
                typer.echo(f"{item['id']}: {item['lastError']}", err=True)
    for warning in answer.get("warnings") or []:
        output.warn(warning)


@app.command("config")
@handle_errors
def config(output_format: OutputOpt = Output.yaml) -> None:
    """Show the notification configuration in force and its warnings."""
    with Client() as client:
        answer = client.get("/api/v1/notifications/config")
    if output.dump(answer, output_format):
        return
    output.dump(answer, Output.yaml)
