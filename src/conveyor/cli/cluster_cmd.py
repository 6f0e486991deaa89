"""``conveyor cluster add|list|rm``: the clusters apps may deploy to, as ``argocd cluster``.

``add CONTEXT`` reads a kubeconfig context here (certificate and token files read in) and
sends the credentials to the server, which stores them encrypted; ``add --secret FILE`` takes
an Argo CD declarative cluster Secret instead. Nothing prints credentials back. Without a
registered cluster the one destination is the local runtime, reached as Argo CD's in-cluster
destination (``https://kubernetes.default.svc``, name ``in-cluster``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli import output
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors

app = typer.Typer(name="cluster", help="Clusters.", no_args_is_help=True, add_completion=False)


@app.command("add")
@handle_errors
def add(
    context: Annotated[
        str, typer.Argument(help="A kubeconfig context (the current one when empty).")
    ] = "",
    name: Annotated[str, typer.Option("--name", help="The cluster's name (the context's).")] = "",
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Kubeconfig file ($KUBECONFIG).")
    ] = None,
    secret: Annotated[
        Path | None,
        typer.Option("--secret", help="An Argo CD cluster Secret (YAML) instead of a context."),
    ] = None,
    upsert: Annotated[bool, typer.Option("--upsert", help="Replace an existing entry.")] = False,
) -> None:
    """Add a cluster from a kubeconfig context or an Argo CD cluster Secret."""
    import yaml

    from conveyor.targets.kubernetes.credentials import from_argocd_secret, from_kubeconfig

    if secret is not None:
        if context:
            raise CliError("give a context or --secret, not both")
        try:
            cluster = from_argocd_secret(yaml.safe_load(secret.read_text()) or {})
        except OSError as err:
            raise CliError(f"cannot read {secret}: {err.strerror}") from err
        if name:
            cluster = type(cluster)(name=name, server=cluster.server, config=cluster.config)
    else:
        cluster = from_kubeconfig(context or None, kubeconfig, name=name or None)
    body = {"name": cluster.name, "server": cluster.server, "config": cluster.config,
            "namespace": cluster.namespace}  # fmt: skip
    with Client() as client:
        result = client.post("/api/v1/clusters", body, upsert=upsert)
    verb = "added" if result["result"] == "created" else "updated"
    typer.echo(f"Cluster '{cluster.server}' {verb} as '{cluster.name}'")


@app.command("list")
@handle_errors
def list_(output_format: OutputOpt = Output.table) -> None:
    """List clusters (never their credentials)."""
    with Client() as client:
        items = client.get("/api/v1/clusters")["items"]
    if not output.dump(items, output_format):
        rows = [
            [c["server"], c["name"], c.get("serverVersion", ""), c["connectionState"]["status"],
             c["connectionState"].get("message", "")]
            for c in items
        ]  # fmt: skip
        output.print_table(["SERVER", "NAME", "VERSION", "STATUS", "MESSAGE"], rows)


@app.command("rm")
@handle_errors
def rm(
    clusters: Annotated[list[str], typer.Argument(help="Cluster names or server URLs.")],
) -> None:
    """Remove clusters and their credentials."""
    with Client() as client:
        for cluster in clusters:
            gone = client.request("DELETE", "/api/v1/clusters", params={"cluster": cluster})
            typer.echo(f"Cluster '{gone['cluster']['server']}' removed")
