"""``conveyor proj``: AppProjects, with argocd's verbs (``conveyor apply -f`` works too).

``create`` builds the project from flags; ``add-source``, ``add-destination``,
``allow-cluster-resource`` and ``deny-namespace-resource`` read it, add one entry and store it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client, CliError
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


ProjArg = Annotated[str, typer.Argument(help="The project's name.")]


def _change(name: str, change: Callable[[dict[str, Any]], bool], what: str) -> None:
    """Read the project, apply ``change`` to its spec (False: already so) and store it."""
    with Client() as client:
        project = client.get(f"/api/v1/projects/{name}")
        project = {k: v for k, v in project.items() if k != "status"}
        spec = project.setdefault("spec", {})
        if not change(spec):
            typer.echo(f"project '{name}': {what} already")
            return
        result = client.post("/api/v1/projects", project)
    for warning in result.get("warnings") or []:
        output.warn(warning)
    typer.echo(f"project '{name}': {what}")


def _add(items: list[Any], entry: Any) -> bool:
    if entry in items:
        return False
    items.append(entry)
    return True


@app.command("create")
@handle_errors
def create(
    name: ProjArg,
    dest: Annotated[
        list[str] | None,
        typer.Option("--dest", "-d", help="A permitted destination SERVER,NAMESPACE."),
    ] = None,
    src: Annotated[
        list[str] | None, typer.Option("--src", "-s", help="A permitted source repository.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    upsert: Annotated[
        bool, typer.Option("--upsert", help="Replace the project if it exists.")
    ] = False,
) -> None:
    """Create a project, as argocd proj create does."""
    destinations = []
    for text in dest or []:
        server, comma, namespace = text.partition(",")
        if not comma or not server or not namespace:
            raise CliError(f"--dest {text!r}: expected SERVER,NAMESPACE")
        destinations.append({"server": server, "namespace": namespace})
    spec: dict[str, Any] = {"sourceRepos": list(src or []), "destinations": destinations}
    if description:
        spec["description"] = description
    manifest = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": spec,
    }
    with Client() as client:
        if not upsert:
            names = {p["metadata"]["name"] for p in client.get("/api/v1/projects")["items"]}
            if name in names:
                raise CliError(f"project '{name}' already exists: use --upsert to replace it")
        result = client.post("/api/v1/projects", manifest)
    for warning in result.get("warnings") or []:
        output.warn(warning)
    typer.echo(f"project '{name}' {result.get('result', 'created')}")


@app.command("add-source")
@handle_errors
def add_source(
    name: ProjArg, url: Annotated[str, typer.Argument(help="A repository URL (or glob).")]
) -> None:
    """Permit a source repository."""
    _change(name, lambda s: _add(s.setdefault("sourceRepos", []), url), f"source {url} added")


@app.command("add-destination")
@handle_errors
def add_destination(
    name: ProjArg,
    server: Annotated[str, typer.Argument(help="Cluster URL (or its name with --name).")],
    namespace: Annotated[str, typer.Argument(help="Namespace (or glob).")],
    by_name: Annotated[bool, typer.Option("--name", help="SERVER is a cluster name.")] = False,
) -> None:
    """Permit a destination cluster and namespace."""
    entry = {"name" if by_name else "server": server, "namespace": namespace}
    _change(
        name,
        lambda s: _add(s.setdefault("destinations", []), entry),
        f"destination {server},{namespace} added",
    )


@app.command("allow-cluster-resource")
@handle_errors
def allow_cluster_resource(
    name: ProjArg,
    group: Annotated[str, typer.Argument(help="API group ('' for the core group).")],
    kind: Annotated[str, typer.Argument(help="Kind.")],
) -> None:
    """Permit a cluster-scoped kind (clusterResourceWhitelist)."""
    entry = {"group": group, "kind": kind}
    _change(
        name,
        lambda s: _add(s.setdefault("clusterResourceWhitelist", []), entry),
        f"cluster resource {group}/{kind} allowed",
    )


@app.command("deny-namespace-resource")
@handle_errors
def deny_namespace_resource(
    name: ProjArg,
    group: Annotated[str, typer.Argument(help="API group ('' for the core group).")],
    kind: Annotated[str, typer.Argument(help="Kind.")],
) -> None:
    """Forbid a namespaced kind (namespaceResourceBlacklist)."""
    entry = {"group": group, "kind": kind}
    _change(
        name,
        lambda s: _add(s.setdefault("namespaceResourceBlacklist", []), entry),
        f"namespace resource {group}/{kind} denied",
    )
