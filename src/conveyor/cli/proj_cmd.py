"""``conveyor proj list|get|delete``: AppProjects (``conveyor apply -f`` creates them)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client
from conveyor.cli.output import Output, OutputOpt, handle_errors

app = typer.Typer(name="proj", help="AppProjects.", no_args_is_help=True, add_completion=False)


def _row(project: dict[str, Any]) -> list[str]:
    spec = project.get("spec") or {}
    destinations = [
        f"{d.get('server') or d.get('name') or '*'},{d.get('namespace') or '*'}"
        for d in spec.get("destinations") or []
    ]
    return [
        str((project.get("metadata") or {}).get("name", "")),
        str(spec.get("description") or ""),
        ";".join(destinations),
        ",".join(spec.get("sourceRepos") or []),
    ]


@app.command("list")
@handle_errors
def list_(output_format: OutputOpt = Output.table) -> None:
    """List projects."""
    with Client() as client:
        items = client.get("/api/v1/projects")["items"]
    if not output.dump(items, output_format):
        output.print_table(
            ["NAME", "DESCRIPTION", "DESTINATIONS", "SOURCES"], [_row(p) for p in items]
        )


@app.command("get")
@handle_errors
def get(
    name: Annotated[str, typer.Argument(help="The project's name.")],
    output_format: OutputOpt = Output.table,
) -> None:
    """Show a project."""
    with Client() as client:
        project = client.get(f"/api/v1/projects/{name}")
    if not output.dump(project, output_format):
        output.print_table(["NAME", "DESCRIPTION", "DESTINATIONS", "SOURCES"], [_row(project)])


@app.command("delete")
@handle_errors
def delete(name: Annotated[str, typer.Argument(help="The project's name.")]) -> None:
    """Delete a project that no application uses."""
    with Client() as client:
        client.request("DELETE", f"/api/v1/projects/{name}")
    typer.echo(f"project '{name}' deleted")
