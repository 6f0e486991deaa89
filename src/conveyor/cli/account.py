"""``conveyor account generate-token|list-tokens|revoke-token|reset-admin-token``: API tokens.

A new token is printed once, alone on stdout (``TOKEN=$(conveyor account generate-token)``);
the server keeps only its hash. A token acts as one role (see docs/api.md): ``--role admin``
(the default), ``--role readonly``, or a role of its own limited to ``--project`` or written
as Argo CD RBAC policy CSV (``--policy-file``). Only an admin token makes or revokes tokens.
``reset-admin-token`` needs no token: it writes to the database of CONVEYOR_HOME's settings
directly, as the owner of that home (the way to replace a lost admin token when several
servers share one database, docs/ha.md).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client
from conveyor.cli.output import OUTPUT_HELP, Output, handle_errors

app = typer.Typer(name="account", help="API tokens.", no_args_is_help=True, add_completion=False)


@app.command("generate-token")
@handle_errors
def generate_token(
    name: Annotated[
        str, typer.Option("--name", help="What the token is for (shown as who synced).")
    ] = "token",
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="admin (default), readonly, or a name for the token's own role"
            " (with --project or --policy-file).",
        ),
    ] = None,
    project: Annotated[
        list[str] | None,
        typer.Option("--project", help="Limit the token to this project's apps (repeatable)."),
    ] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy-file",
            help="Argo CD RBAC policy CSV for the role, e.g."
            " 'p, role:NAME, applications, sync, team-a/*, allow'.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
) -> None:
    """Create a new API token and print it (it cannot be shown again)."""
    body: dict[str, Any] = {"name": name}
    if role is not None:
        body["role"] = role
    if project:
        body["projects"] = project
    if policy_file is not None:
        body["policy"] = policy_file.read_text(encoding="utf-8")
    with Client() as client:
        result = client.post("/api/v1/account/token", body)
    typer.echo(f"token {result['id']} ({result['name']}, {result['role']}) created", err=True)
    typer.echo(result["token"])


@app.command("list-tokens")
@handle_errors
def list_tokens(
    output_format: Annotated[Output, typer.Option("--output", "-o", help=OUTPUT_HELP)] = (
        Output.table
    ),
) -> None:
    """List API tokens (their ids and names, never the tokens)."""
    with Client() as client:
        items = client.get("/api/v1/account/tokens")["items"]
    if not output.dump(items, output_format):
        output.print_table(
            ["ID", "NAME", "ROLE", "CREATED"],
            [[t["id"], t["name"], t.get("role", ""), t["createdAt"]] for t in items],
        )


@app.command("revoke-token")
@handle_errors
def revoke_token(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke an API token."""
    with Client() as client:
        client.request("DELETE", f"/api/v1/account/tokens/{token_id}")
    typer.echo(f"token {token_id} revoked")


@app.command("reset-admin-token")
@handle_errors
def reset_admin_token() -> None:
    """Replace the admin token (in the database) by a new one, in CONVEYOR_HOME/admin.token."""
    from conveyor.api.auth import new_admin_token
    from conveyor.api.discovery import ADMIN_TOKEN_FILE
    from conveyor.settings import Settings
    from conveyor.store import TokenStore, open_database

    settings = Settings.from_env()

    async def reset() -> None:
        database = await open_database(settings)
        try:
            await new_admin_token(TokenStore(database), settings.home)
        finally:
            await database.close()

    asyncio.run(reset())
    typer.echo(
        f"admin token replaced: {settings.home / ADMIN_TOKEN_FILE}. The old one no longer "
        "works; copy this file to the other servers' homes that share the database",
        err=True,
    )
