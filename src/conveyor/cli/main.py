"""The ``conveyor`` entry point: one Typer app, sub-commands registered from their modules."""

from __future__ import annotations

import os

import typer

from conveyor import __version__
from conveyor.cli import artifact
from conveyor.logging import configure as configure_logging

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
    configure_logging(os.environ.get("CONVEYOR_LOG_LEVEL", "INFO"))


@app.command()
def version() -> None:
    """Print Conveyor's version."""
    typer.echo(f"conveyor {__version__}")


@app.command()
def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving until interrupted."),
) -> None:
    """Deploy the example app on the local runtime and serve it."""
    from conveyor.cli import demo as demo_cmd  # imported here: keeps `conveyor --help` fast

    demo_cmd.run(serve)


def main() -> None:
    """Console-script entry point."""
    app()
