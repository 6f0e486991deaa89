"""``conveyor repo add|list|rm``: repositories and their credentials, as ``argocd repo``.

The password goes to the server, which stores it encrypted and gives it to git for every
fetch of that repository; nothing prints it back. ``--password-stdin`` keeps it out of the
shell history and the process list.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from conveyor.cli import output
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors

app = typer.Typer(
    name="repo", help="Repositories and their credentials.", no_args_is_help=True,
    add_completion=False,
)  # fmt: skip

RepoArg = Annotated[str, typer.Argument(help="The repository URL (no credentials in it).")]


@app.command("add")
@handle_errors
def add(
    repo: RepoArg,
    username: Annotated[str, typer.Option("--username", help="User name.")] = "",
    password: Annotated[str, typer.Option("--password", help="Password or token.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    name: Annotated[str, typer.Option("--name", help="A name for the repository.")] = "",
    project: Annotated[
        str, typer.Option("--project", help="Not supported yet: refused by the server.")
    ] = "",
    repo_type: Annotated[str, typer.Option("--type", help="git (helm is not supported).")] = "git",
    upsert: Annotated[bool, typer.Option("--upsert", help="Replace an existing entry.")] = False,
) -> None:
    """Add a repository (with credentials, used for every fetch of its apps)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    if password and not username:
        raise CliError("--password needs --username")
    body = {"repo": repo, "username": username, "password": password, "type": repo_type,
            "name": name, "project": project}  # fmt: skip
    with Client() as client:
        result = client.post("/api/v1/repositories", body, upsert=upsert)
    typer.echo(f"Repository '{repo}' {'added' if result['result'] == 'created' else 'updated'}")


@app.command("list")
@handle_errors
def list_(output_format: OutputOpt = Output.table) -> None:
    """List repositories (never their passwords)."""
    with Client() as client:
        items = client.get("/api/v1/repositories")["items"]
    if not output.dump(items, output_format):
        rows = [[r["type"], r["name"], r["repo"], r["username"], r["project"]] for r in items]
        output.print_table(["TYPE", "NAME", "REPO", "USER", "PROJECT"], rows)


@app.command("rm")
@handle_errors
def rm(repos: Annotated[list[str], typer.Argument(help="Repository URLs.")]) -> None:
    """Remove repositories and their credentials."""
    with Client() as client:
        for repo in repos:
            client.request("DELETE", "/api/v1/repositories", params={"repo": repo})
            typer.echo(f"Repository '{repo}' removed")
