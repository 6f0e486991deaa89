"""``conveyor app create|list|get|set|delete``: applications, with argocd's verbs and flags.

``create`` and ``set`` build the Application (or a merge patch of its spec) from flags, as
``argocd app create`` does; the server validates it and answers with its warnings, which go
to stderr. ``get`` prints argocd's summary and resources table, or Argo CD's Application
JSON with ``-o json``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli import app_source, app_view, output
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, handle_errors
from conveyor.model.yamldocs import YamlError, split_documents

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


class ListOutput(StrEnum):
    """``app list -o``: the common formats and argocd's ``name``."""

    table = "table"
    wide = "wide"
    name = "name"
    json = "json"
    yaml = "yaml"


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


def _read_manifest(file: str, name: str | None) -> dict[str, Any]:
    """The one Application in ``file`` (``-`` for stdin), named ``name`` if given."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as err:
        raise CliError(f"cannot read {file}: {err.strerror}") from err
    try:
        docs = [d for d in split_documents(text) if d.data is not None or d.error]
    except YamlError as err:
        raise CliError(f"{file}: {err.message}") from err
    if len(docs) != 1 or docs[0].error or not isinstance(docs[0].data, dict):
        problem = docs[0].error if len(docs) == 1 and docs[0].error else "one Application"
        raise CliError(f"{file}: expected {problem} (found {len(docs)} documents)")
    manifest: dict[str, Any] = docs[0].data
    if manifest.get("kind") != "Application":
        raise CliError(f"{file}: kind {manifest.get('kind')!r} is not Application")
    if name:
        manifest.setdefault("metadata", {})["name"] = name
    return manifest


@app.command("create")
@handle_errors
def create(
    name: Annotated[
        str | None, typer.Argument(help="The application's name (or the file's).")
    ] = None,
    file: Annotated[
        str | None,
        typer.Option("--file", "-f", help="An Application manifest (flags override it)."),
    ] = None,
    repo: Annotated[str | None, typer.Option("--repo", help="Repository URL.")] = None,
    path: Annotated[str | None, typer.Option("--path", help="Path in the repository.")] = None,
    dest_namespace: Annotated[
        str | None, typer.Option("--dest-namespace", help="Namespace to deploy into.")
    ] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Branch, tag or commit (default HEAD).")
    ] = None,
    dest_server: Annotated[
        str | None,
        typer.Option(
            "--dest-server", help=f"Destination cluster URL (default {app_view.IN_CLUSTER})."
        ),
    ] = None,
    dest_name: Annotated[
        str | None, typer.Option("--dest-name", help="Destination cluster name.")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="The app's project (default: default).")
    ] = None,
    sync_policy: Annotated[
        str | None, typer.Option("--sync-policy", help="automated, or none (manual syncs).")
    ] = None,
    auto_prune: Annotated[
        bool,
        typer.Option("--auto-prune/--no-auto-prune", help="Automated sync deletes what left Git."),
    ] = False,
    self_heal: Annotated[
        bool,
        typer.Option("--self-heal/--no-self-heal", help="Automated sync reverts live changes."),
    ] = False,
    sync_option: SyncOption = None,
    upsert: Annotated[
        bool, typer.Option("--upsert", help="Replace the app if it exists with another spec.")
    ] = False,
    helm_set: app_source.HelmSetOpt = None,
    helm_set_string: app_source.HelmSetStringOpt = None,
    values: app_source.ValuesOpt = None,
    release_name: app_source.ReleaseNameOpt = None,
    kustomize_image: app_source.KustomizeImageOpt = None,
    name_prefix: app_source.NamePrefixOpt = None,
    name_suffix: app_source.NameSuffixOpt = None,
    directory_recurse: app_source.DirectoryRecurseOpt = None,
    label: app_source.LabelOpt = None,
    sync_retry_limit: app_source.RetryLimitOpt = None,
    revision_history_limit: app_source.HistoryLimitOpt = None,
) -> None:
    """Create an application from flags, or from a manifest with -f."""
    if dest_server and dest_name:
        raise CliError("give --dest-server or --dest-name, not both")
    if (auto_prune or self_heal) and sync_policy not in ("automated", "auto", "automatic"):
        raise CliError("--auto-prune and --self-heal need --sync-policy automated")
    if file is not None:
        manifest = _read_manifest(file, name)
    else:
        missing = [
            f
            for f, v in (("--repo", repo), ("--path", path), ("--dest-namespace", dest_namespace))
            if not v
        ]
        if not name or missing:
            raise CliError(f"give the app's name and {', '.join(missing) or 'flags'} (or -f FILE)")
        manifest = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": name, "namespace": "argocd"},
            "spec": {"project": "default", "source": {"targetRevision": "HEAD"}, "destination": {}},
        }
    spec = manifest.setdefault("spec", {})
    source = spec.setdefault("source", {})
    source.update(
        {k: v for k, v in (("repoURL", repo), ("path", path), ("targetRevision", revision)) if v}
    )
    destination = spec.setdefault("destination", {})
    if dest_namespace:
        destination["namespace"] = dest_namespace
    if dest_name:
        destination.pop("server", None)
        destination["name"] = dest_name
    elif dest_server or not destination.get("name"):
        destination["server"] = dest_server or destination.get("server") or app_view.IN_CLUSTER
    if project:
        spec["project"] = project
    policy: dict[str, Any] = spec.get("syncPolicy") or {}
    automated = _policy(sync_policy, auto_prune or None, self_heal or None)
    if sync_policy is not None:
        if automated is None:
            policy.pop("automated", None)
        else:
            policy["automated"] = automated
    if sync_option:
        policy["syncOptions"] = list(sync_option)
    if policy:
        spec["syncPolicy"] = policy
    flags = app_source.SourceFlags(
        helm_set=helm_set or [], helm_set_string=helm_set_string or [], values=values or [],
        release_name=release_name, kustomize_image=kustomize_image or [],
        name_prefix=name_prefix, name_suffix=name_suffix, directory_recurse=directory_recurse,
        labels=label or [], retry_limit=sync_retry_limit, history_limit=revision_history_limit,
    )  # fmt: skip
    app_source.apply_flags(manifest, flags)
    with Client() as client:
        result = client.post("/api/v1/applications", manifest, upsert=upsert)
    _warnings(result)
    shown = (manifest.get("metadata") or {}).get("name", name)
    typer.echo(f"application '{shown}' {result.get('result', 'created')}")


@app.command("list")
@handle_errors
def list_(
    output_format: Annotated[
        ListOutput, typer.Option("--output", "-o", help="table, wide, name, json or yaml.")
    ] = ListOutput.table,
    project: Annotated[
        list[str] | None, typer.Option("--project", "-p", help="Only these projects.")
    ] = None,
    selector: Annotated[
        str | None,
        typer.Option("--selector", "-l", help="Only apps whose labels match (key=value,...)."),
    ] = None,
) -> None:
    """List applications."""
    with Client() as client:
        apps = client.get("/api/v1/applications", projects=project, selector=selector)["items"]
    if output_format is ListOutput.name:
        for item in apps:
            namespace = (item.get("metadata") or {}).get("namespace") or "argocd"
            typer.echo(f"{namespace}/{app_view.name(item)}")
        return
    shown = Output(str(output_format))
    if output.dump(apps, shown):
        return
    columns, rows = app_view.list_rows(apps, wide=shown is Output.wide)
    output.print_table(columns, rows)


class GetOutput(StrEnum):
    """``app get -o``: the common formats and argocd's ``tree``."""

    table = "table"
    wide = "wide"
    tree = "tree"
    json = "json"
    yaml = "yaml"


@app.command("get")
@handle_errors
def get(
    name: NameArg,
    output_format: Annotated[
        GetOutput, typer.Option("--output", "-o", help="table, wide, tree, json or yaml.")
    ] = GetOutput.table,
    refresh: RefreshOpt = False,
    hard_refresh: HardRefreshOpt = False,
    show_operation: Annotated[
        bool, typer.Option("--show-operation", help="Show the operation, even a finished one.")
    ] = False,
    show_params: Annotated[
        bool, typer.Option("--show-params", help="Show the Helm and Kustomize overrides.")
    ] = False,
) -> None:
    """Show an application: its source, destination, status and resources."""
    mode = refresh_mode(refresh, hard_refresh)
    with Client() as client:
        application = client.get(f"/api/v1/applications/{name}", refresh=mode)
        tree = None
        if output_format is GetOutput.tree:
            tree = client.get(f"/api/v1/applications/{name}/resource-tree")["nodes"]
    if output.dump(application, Output(str(output_format)) if tree is None else Output.table):
        return
    if tree is None:
        app_view.print_app(application, show_operation=show_operation)
    else:
        output.fields(app_view.summary(application))
        if show_operation and (op := app_view.operation_summary(application)):
            typer.echo()
            output.fields(op)
        typer.echo()
        output.print_table(
            ["KIND/NAME", "STATUS", "HEALTH", "MESSAGE"], app_view.tree_rows(application, tree)
        )
    if show_params:
        typer.echo()
        rows = app_source.source_params(application)
        output.print_table(["SOURCE", "NAME", "VALUE"], rows) if rows else typer.echo(
            "no parameters"
        )


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
    helm_set: app_source.HelmSetOpt = None,
    helm_set_string: app_source.HelmSetStringOpt = None,
    values: app_source.ValuesOpt = None,
    release_name: app_source.ReleaseNameOpt = None,
    kustomize_image: app_source.KustomizeImageOpt = None,
    name_prefix: app_source.NamePrefixOpt = None,
    name_suffix: app_source.NameSuffixOpt = None,
    directory_recurse: app_source.DirectoryRecurseOpt = None,
    sync_retry_limit: app_source.RetryLimitOpt = None,
    revision_history_limit: app_source.HistoryLimitOpt = None,
) -> None:
    """Change an application's spec (only the fields given)."""
    flags = app_source.SourceFlags(
        helm_set=helm_set or [], helm_set_string=helm_set_string or [], values=values or [],
        release_name=release_name, kustomize_image=kustomize_image or [],
        name_prefix=name_prefix, name_suffix=name_suffix, directory_recurse=directory_recurse,
        retry_limit=sync_retry_limit, history_limit=revision_history_limit,
    )  # fmt: skip
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
    if not spec and flags == app_source.SourceFlags():
        raise CliError("nothing to set: give at least one flag (see --help)")
    with Client() as client:
        result: dict[str, Any] = {}
        if spec:
            result = client.request("PATCH", f"/api/v1/applications/{name}", json={"spec": spec})
        if flags != app_source.SourceFlags():  # entries of lists: read, change, replace
            current = client.get(f"/api/v1/applications/{name}")
            manifest = {k: v for k, v in current.items() if k != "status"}
            result = client.request(
                "PUT", f"/api/v1/applications/{name}", json=app_source.apply_flags(manifest, flags)
            )
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
