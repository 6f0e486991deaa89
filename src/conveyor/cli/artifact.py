"""``conveyor artifact build|list``: make immutable artifacts and see what the store holds.

A thin face over ``conveyor.artifacts``: progress goes to stderr, and the one thing scripts
want (``NAME:TAG`` after a build, the list as JSON or YAML) goes to stdout. Errors are a
message on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from conveyor.artifacts import Artifact, ArtifactStore, parse_command
from conveyor.errors import ConveyorError
from conveyor.settings import Settings

app = typer.Typer(
    name="artifact",
    help="Immutable artifacts: a source tree at one commit plus its virtualenv, as NAME:TAG.",
    no_args_is_help=True,
    add_completion=False,
)


class Output(StrEnum):
    """Formats of ``conveyor artifact list``."""

    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _store() -> ArtifactStore:
    try:
        return ArtifactStore(Settings.from_env().artifacts_dir)
    except OSError as err:
        raise _fail(f"cannot use Conveyor's data directory: {err}") from err


@app.command("build")
def build(
    name: Annotated[str, typer.Argument(help="Artifact name, e.g. hello-app.")],
    source: Annotated[
        str,
        typer.Option(
            "--source", "-s", help="A directory, a git repository or a git URL (https, ssh, file)."
        ),
    ],
    revision: Annotated[
        str | None,
        typer.Option("--revision", "-r", help="Branch, tag or commit to build (default: HEAD)."),
    ] = None,
    tag: Annotated[
        str | None,
        typer.Option(
            "--tag",
            "-t",
            help="Tag to give it (default: the full commit SHA; required for a "
            "plain directory). Tags are immutable.",
        ),
    ] = None,
    command: Annotated[
        str | None,
        typer.Option(
            "--command",
            help='Default command of containers, e.g. "uvicorn app:app --port $(PORT)" '
            "(default: the Procfile's web: line).",
        ),
    ] = None,
) -> None:
    """Build NAME from SOURCE at REVISION: the tree at that commit plus its own virtualenv."""
    store = _store()
    console = Console(stderr=True, highlight=False)
    try:
        argv = parse_command(command) if command is not None else None
        with console.status(f"building {name} from {source}") as status:

            def progress(message: str) -> None:
                console.print(f"  {message}", markup=False)
                status.update(message)

            artifact = asyncio.run(
                store.build(
                    name,
                    source=source,
                    revision=revision,
                    tag=tag,
                    command=argv,
                    progress=progress,
                )
            )
    except ConveyorError as err:
        raise _fail(str(err)) from err
    except OSError as err:
        raise _fail(f"building {name} failed: {err}") from err
    typer.echo(artifact.image)


@app.command("list")
def list_(
    name: Annotated[str | None, typer.Argument(help="Only the artifacts of this name.")] = None,
    output: Annotated[
        Output, typer.Option("--output", "-o", help="table, wide, json or yaml.")
    ] = Output.table,
) -> None:
    """List the artifacts in the store, by name and then by age."""
    artifacts = [a for a in _store().list() if name is None or a.name == name]
    if output is Output.json:
        typer.echo(json.dumps([a.to_dict() for a in artifacts], indent=2))
    elif output is Output.yaml:
        typer.echo(yaml.safe_dump([a.to_dict() for a in artifacts], sort_keys=False), nl=False)
    else:
        console = Console(highlight=False)
        if not console.is_terminal:  # piped: one line per artifact, however long
            console = Console(highlight=False, width=100_000)
        console.print(_table(artifacts, wide=output is Output.wide))


def _table(artifacts: list[Artifact], *, wide: bool) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("NAME", "TAG", "REVISION", "CREATED", "SOURCE"):
        table.add_column(column, overflow="fold")
    if wide:
        table.add_column("COMMAND", overflow="fold")
        table.add_column("PATH", overflow="fold")
    for artifact in artifacts:
        revision = artifact.revision or "-"
        row = [
            artifact.name,
            artifact.tag,
            revision if wide else revision[:12],
            artifact.created,
            artifact.source,
        ]
        if wide:
            row += [" ".join(artifact.command or []) or "-", str(artifact.path)]
        table.add_row(*(Text(cell) for cell in row))
    return table
