"""The ``conveyor`` entry point: one Typer app, sub-commands registered from their modules."""

from __future__ import annotations

import typer

from conveyor import __version__
from conveyor.cli import artifact

app = typer.Typer(
    name="conveyor",
    help="GitOps continuous delivery: Git says what runs; Conveyor makes it so and keeps it so.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(artifact.app, name="artifact")


@app.callback()
def root() -> None:
    """Conveyor: GitOps continuous delivery."""


@app.command()
def version() -> None:
    """Print Conveyor's version."""
    typer.echo(f"conveyor {__version__}")


def main() -> None:
    """Console-script entry point."""
    app()
