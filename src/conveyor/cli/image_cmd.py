"""``conveyor image set APP NAME=TAG``: write a new tag back to the app's config repository.

The CI's last step, as Argo CD Image Updater does it: the Application's
``argocd-image-updater.argoproj.io/*`` annotations say where the tag lives; the tag is
committed (only that line changes) with trailers naming the app commit and the pipeline run,
and pushed, retrying on a concurrent push. A rolled-back app is skipped with a message.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from conveyor.ci.writeback import Author, WriteBackError, write_back_app
from conveyor.cli.client import Client, CliError, stored_credentials
from conveyor.cli.output import handle_errors, warn
from conveyor.errors import ConveyorError

app = typer.Typer(
    name="image",
    help="Image tags in config repositories (write-back).",
    no_args_is_help=True,
    add_completion=False,
)


def parse_tags(pairs: list[str]) -> dict[str, str]:
    """``alias=tag`` or ``image=tag`` pairs."""
    tags: dict[str, str] = {}
    for pair in pairs:
        name, sep, tag = pair.rpartition("=")
        if not sep or not name or not tag:
            raise CliError(f"{pair!r} is not NAME=TAG (NAME: an image-list alias or image name)")
        tags[name] = tag
    return tags


def load_application(name: str, app_file: Path | None) -> dict[str, Any]:
    if app_file is None:
        with Client() as client:
            return dict(client.get(f"/api/v1/applications/{name}"))
    try:
        data = yaml.safe_load(app_file.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CliError(f"cannot read {app_file}: {err}") from err
    if not isinstance(data, dict):
        raise CliError(f"{app_file} is not an Application manifest")
    return data


@app.command("set")
@handle_errors
def set_tag(
    name: Annotated[str, typer.Argument(help="Application name.")],
    tags: Annotated[list[str], typer.Argument(help="NAME=TAG, NAME an alias or image name.")],
    app_file: Annotated[
        Path | None,
        typer.Option("--app-file", help="Read the Application from a file, not the server."),
    ] = None,
    app_commit: Annotated[
        str, typer.Option("--app-commit", help="App repository commit the tag was built from.")
    ] = "",
    app_commit_date: Annotated[
        str,
        typer.Option("--app-commit-date", help="Its time, ISO 8601 (git show -s --format=%cI)."),
    ] = "",
    run_id: Annotated[str, typer.Option("--run", help="Pipeline run that built it.")] = "",
    author_name: Annotated[str, typer.Option("--author-name")] = "Conveyor",
    author_email: Annotated[str, typer.Option("--author-email")] = "conveyor@localhost",
) -> None:
    """Commit NAME=TAG to the config repository the app's annotations point at."""
    application = load_application(name, app_file)
    try:
        result = asyncio.run(
            write_back_app(
                application,
                parse_tags(tags),
                app_commit=app_commit,
                app_commit_date=app_commit_date,
                run_id=run_id,
                author=Author(author_name, author_email),
                credentials=stored_credentials(),
            )
        )
    except (WriteBackError, ConveyorError) as err:
        raise CliError(str(err)) from err
    if result.skipped:
        warn(result.skipped)
    elif not result.changed:
        typer.echo(f"{result.branch}: the tags are already set; nothing to commit")
    else:
        typer.echo(f"{result.branch}: {result.commit} (attempts: {result.attempts})")
