"""``conveyor account generate-token|list-tokens|revoke-token``: API tokens.

A new token is printed once, alone on stdout (``TOKEN=$(conveyor account generate-token)``);
the server keeps only its hash.
"""

from __future__ import annotations

from typing import Annotated

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
) -> None:
    """Create a new API token and print it (it cannot be shown again)."""
    with Client() as client:
        result = client.post("/api/v1/account/token", {"name": name})
    typer.echo(f"token {result['id']} ({result['name']}) created", err=True)
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
            ["ID", "NAME", "CREATED"], [[t["id"], t["name"], t["createdAt"]] for t in items]
        )


@app.command("revoke-token")
@handle_errors
def revoke_token(token_id: Annotated[str, typer.Argument(help="The token's id.")]) -> None:
    """Revoke an API token."""
    with Client() as client:
        client.request("DELETE", f"/api/v1/account/tokens/{token_id}")
    typer.echo(f"token {token_id} revoked")
