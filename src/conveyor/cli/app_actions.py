"""``conveyor app actions list|run``: Argo CD's resource actions, as ``argocd app actions``.

For a Rollout: resume, promote-full, abort, retry, pause, restart, skip-current-step. The
server applies each (``/api/v1/applications/{app}/resource/actions``); a refused action
exits 4 and a missing resource or action 3, as ``conveyor rollouts`` does.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client
from conveyor.cli.output import Output, OutputOpt
from conveyor.cli.rollouts_cmd import exit_codes

app = typer.Typer(name="actions", help="Resource actions (Argo CD's).", no_args_is_help=True)

KindOpt = Annotated[str, typer.Option("--kind", help="The resource's kind (Rollout).")]
NameOpt = Annotated[str, typer.Option("--resource-name", help="The resource's name.")]
NamespaceOpt = Annotated[str | None, typer.Option("--namespace", help="The resource's namespace.")]
GroupOpt = Annotated[str | None, typer.Option("--group", help="The resource's API group.")]


def _where(kind: str, name: str, namespace: str | None, group: str | None) -> dict[str, Any]:
    return {"kind": kind, "resourceName": name, "namespace": namespace, "group": group}


@app.command("list")
@exit_codes
def list_(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    kind: KindOpt,
    resource_name: NameOpt,
    namespace: NamespaceOpt = None,
    group: GroupOpt = None,
    output_format: OutputOpt = Output.table,
) -> None:
    """List the actions a resource of the app offers."""
    where = _where(kind, resource_name, namespace, group)
    with Client() as client:
        actions = client.get(f"/api/v1/applications/{app_name}/resource/actions", **where)
    items = actions["actions"]
    if output.dump(items, output_format):
        return
    rows = [
        [group or "", kind, resource_name, a["name"], str(a["disabled"]).lower()] for a in items
    ]
    output.print_table(["GROUP", "KIND", "NAME", "ACTION", "DISABLED"], rows)


@app.command("run")
@exit_codes
def run(
    app_name: Annotated[str, typer.Argument(metavar="APP")],
    action: Annotated[str, typer.Argument(metavar="ACTION")],
    kind: KindOpt,
    resource_name: NameOpt,
    namespace: NamespaceOpt = None,
    group: GroupOpt = None,
) -> None:
    """Run an action on a resource of the app."""
    where = {k: v for k, v in _where(kind, resource_name, namespace, group).items() if v}
    with Client() as client:
        client.request(
            "POST", f"/api/v1/applications/{app_name}/resource/actions", params=where, json=action
        )
    typer.echo(f"{kind} {resource_name}: {action} done")
