"""``conveyor preview --base main --head BRANCH``: what a config change does to every app.

Run in a checkout of the config repository (or name it with ``--repo``); conveyor.ci.preview
renders each Application at both revisions and prints the objects that change, Secrets
masked, as text or as Markdown for a pull-request comment. Needs no server.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from conveyor.ci.preview import preview, to_markdown, to_text
from conveyor.cli.client import CliError
from conveyor.cli.output import handle_errors
from conveyor.errors import ConveyorError


class Format(StrEnum):
    text = "text"
    markdown = "markdown"


@handle_errors
def preview_cmd(
    base: Annotated[str, typer.Option("--base", help="The revision the change starts from.")],
    head: Annotated[str, typer.Option("--head", help="The revision with the change.")],
    repo: Annotated[Path, typer.Option("--repo", help="The config repository.")] = Path("."),
    output: Annotated[Format, typer.Option("--output", "-o", help="text or markdown.")] = (
        Format.text
    ),
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 2 when some app's manifests change.")
    ] = False,
) -> None:
    """Render every app at --base and --head and print what changes."""
    try:
        previews = asyncio.run(preview(repo.resolve(), base, head))
    except ConveyorError as err:
        raise CliError(str(err)) from err
    typer.echo(to_markdown(previews) if output is Format.markdown else to_text(previews), nl=False)
    if any(p.error for p in previews):
        raise typer.Exit(code=1)
    if exit_code and previews:
        raise typer.Exit(code=2)
