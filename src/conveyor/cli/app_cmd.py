"""``conveyor app create|list|get|set|delete``: applications, with argocd's verbs and flags.

``create`` and ``set`` build the Application (or a merge patch of its spec) from flags, as
``argocd app create`` does; the server validates it and answers with its warnings, which go
to stderr. ``get`` prints argocd's summary and resources table, or Argo CD's Application
JSON with ``-o json``.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from conveyor.cli import app_view, output
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors

app = typer.Typer(no_args_is_help=True, add_completion=False)

NameArg = Annotated[str, typer.Argument(help="The application's name.")]
RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Look the revision up again first.")]
HardRefreshOpt = Annotated[
    bool, typer.Option("--hard-refresh", help="Also render the manifests again.")
]
SyncOption = Annotated[
    list[str] | None,
    typer.Option("--sync-option", help="A sync option, e.g. CreateNamespace=true (repeatable)."),
]


def refresh_mode(refresh: bool, hard_refresh: bool) -> str | None:
    """The ``refresh`` query value the flags ask for: hard, normal or none."""
    return "hard" if hard_refresh else "normal" if refresh else None


def _warnings(result: dict[str, Any]) -> None:
    for warning in result.get("warnings") or []:
        output.warn(warning)


def _policy(
    sync_policy: str | None, auto_prune: bool | None, self_heal: bool | None
) -> dict[str, Any] | None:
    """``syncPolicy.automated`` from the flags: a dict, None (turn off), or {} (no change)."""
    if sync_policy is not None and sync_policy not in ("automated", "auto", "automatic", "none"):
        raise CliError(f"--sync-policy must be automated or none, not {sync_policy!r}")
    if sync_policy == "none":
        if auto_prune or self_heal:
            raise CliError("--auto-prune and --self-heal need --sync-policy automated")
        return None
    automated: dict[str, Any] = {}
    if auto_prune is not None:
        automated["prune"] = auto_prune
    if self_heal is not None:
        automated["selfHeal"] = self_heal
    return automated


@app.command("create")
@handle_errors
def create(
    name: NameArg,
    repo: Annotated[str, typer.Option("--repo", help="Repository URL of the manifests.")],
    path: Annotated[str, typer.Option("--path", help="Path in the repository.")],
    dest_namespace: Annotated[
        str, typer.Option("--dest-namespace", help="Namespace to deploy into.")
    ],
    revision: Annotated[
        str, typer.Option("--revision", help="Branch, tag or commit to track.")
    ] = "HEAD",
    dest_server: Annotated[
        str | None,
        typer.Option(
            "--dest-server", help=f"Destination cluster URL (default {app_view.IN_CLUSTER})."
        ),
    ] = None,
    dest_name: Annotated[
        str | None, typer.Option("--dest-name", help="Destination cluster name.")
    ] = None,
    project: Annotated[str, typer.Option("--project", help="The app's project.")] = "default",
    sync_policy: Annotated[
        str | None, typer.Option("--sync-policy", help="automated, or none (manual syncs).")
    ] = None,
    auto_prune: Annotated[
        bool, typer.Option("--auto-prune", help="Automated sync deletes what left Git.")
    ] = False,
    self_heal: Annotated[
        bool, typer.Option("--self-heal", help="Automated sync reverts live changes.")
    ] = False,
    sync_option: SyncOption = None,
    upsert: Annotated[
        bool, typer.Option("--upsert", help="Replace the app if it exists with another spec.")
    ] = False,
) -> None:
    """Create an application."""
    if dest_server and dest_name:
        raise CliError("give --dest-server or --dest-name, not both")
    if (auto_prune or self_heal) and sync_policy not in ("automated", "auto", "automatic"):
        raise CliError("--auto-prune and --self-heal need --sync-policy automated")
    destination: dict[str, Any] = {"namespace": dest_namespace}
    if dest_name:
        destination["name"] = dest_name
    else:
        destination["server"] = dest_server or app_view.IN_CLUSTER
    policy: dict[str, Any] = {}
    automated = _policy(sync_policy, auto_prune or None, self_heal or None)
    if sync_policy is not None and automated is not None:
        policy["automated"] = automated
    if sync_option:
        policy["syncOptions"] = list(sync_option)
    spec: dict[str, Any] = {
        "project": project,
        "source": {"repoURL": repo, "path": path, "targetRevision": revision},
        "destination": destination,
    }
    if policy:
        spec["syncPolicy"] = policy
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": spec,
    }
    with Client() as client:
        result = client.post("/api/v1/applications", manifest, upsert=upsert)
    _warnings(result)
    typer.echo(f"application '{name}' {result.get('result', 'created')}")


@app.command("list")
@handle_errors
def list_(
    output_format: OutputOpt = Output.table,
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="Only these projects.")
    ] = None,
) -> None:
    """List applications."""
    with Client() as client:
        apps = client.get("/api/v1/applications", projects=project)["items"]
    if output.dump(apps, output_format):
        return
    columns, rows = app_view.list_rows(apps, wide=output_format is Output.wide)
    output.print_table(columns, rows)


@app.command("get")
@handle_errors
def get(
    name: NameArg,
    output_format: OutputOpt = Output.table,
    refresh: RefreshOpt = False,
    hard_refresh: HardRefreshOpt = False,
) -> None:
    """Show an application: its source, destination, status and resources."""
    mode = refresh_mode(refresh, hard_refresh)
    with Client() as client:
        application = client.get(f"/api/v1/applications/{name}", refresh=mode)
    if not output.dump(application, output_format):
        app_view.print_app(application)


@app.command("set")
@handle_errors
def set_(
    name: NameArg,
    repo: Annotated[str | None, typer.Option("--repo", help="Repository URL.")] = None,
    path: Annotated[str | None, typer.Option("--path", help="Path in the repository.")] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Branch, tag or commit to track.")
    ] = None,
    dest_server: Annotated[str | None, typer.Option("--dest-server")] = None,
    dest_name: Annotated[str | None, typer.Option("--dest-name")] = None,
    dest_namespace: Annotated[str | None, typer.Option("--dest-namespace")] = None,
    project: Annotated[str | None, typer.Option("--project")] = None,
    sync_policy: Annotated[
        str | None, typer.Option("--sync-policy", help="automated, or none (manual syncs).")
    ] = None,
    auto_prune: Annotated[
        bool | None, typer.Option("--auto-prune/--no-auto-prune", show_default=False)
    ] = None,
    self_heal: Annotated[
        bool | None, typer.Option("--self-heal/--no-self-heal", show_default=False)
    ] = None,
    sync_option: SyncOption = None,
) -> None:
    """Change an application's spec (only the fields given)."""
    spec: dict[str, Any] = {}
    source = {
        k: v for k, v in (("repoURL", repo), ("path", path), ("targetRevision", revision)) if v
    }
    if source:
        spec["source"] = source
    destination: dict[str, Any] = {}
    if dest_server:
        destination.update(server=dest_server, name=None)
    if dest_name:
        destination.update(name=dest_name, server=None)
    if dest_namespace:
        destination["namespace"] = dest_namespace
    if destination:
        spec["destination"] = destination
    if project:
        spec["project"] = project
    policy: dict[str, Any] = {}
    if sync_policy is not None or auto_prune is not None or self_heal is not None:
        policy["automated"] = _policy(sync_policy, auto_prune, self_heal)
    if sync_option is not None:
        policy["syncOptions"] = list(sync_option)
    if policy:
        spec["syncPolicy"] = policy
    if not spec:
        raise CliError("nothing to set: give at least one flag (see --help)")
    with Client() as client:
        result = client.request("PATCH", f"/api/v1/applications/{name}", json={"spec": spec})
    _warnings(result)
    typer.echo(f"application '{name}' {result.get('result', 'configured')}")


@app.command("delete")
@handle_errors
def delete(
    name: NameArg,
    cascade: Annotated[
        bool, typer.Option("--cascade/--no-cascade", help="Delete the app's live objects too.")
    ] = True,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete an application (and, by default, what it deployed)."""
    if not yes and sys.stdin.isatty():
        what = "and its resources " if cascade else ""
        typer.confirm(f"Delete application '{name}' {what}?", abort=True)
    with Client() as client:
        client.request(
            "DELETE", f"/api/v1/applications/{name}", params={"cascade": str(cascade).lower()}
        )
    typer.echo(f"application '{name}' deleted")
