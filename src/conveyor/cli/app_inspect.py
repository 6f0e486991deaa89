"""``conveyor app diff|manifests|resources|events|logs|patch-resource``: looking into an app.

``diff`` prints one unified diff per resource (live -> Git, Secret values masked by the
server) and exits 1 when anything differs, 0 when nothing does, 2 on error, as
``argocd app diff`` does, so scripts can gate on it. ``--local DIR`` renders DIR here, with
the app's source options, and has the server compare that with the live state.
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from conveyor.cli import app_view, output
from conveyor.cli.app_cmd import HardRefreshOpt, NameArg, RefreshOpt, refresh_mode
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors
from conveyor.errors import ConveyorError

DIFF_ERROR = 2

app = typer.Typer(add_completion=False)


class Source(StrEnum):
    git = "git"
    live = "live"


class PatchType(StrEnum):
    merge = "application/merge-patch+json"
    json = "application/json-patch+json"


class Subresource(StrEnum):
    status = "status"


@app.command("diff")
def diff(
    name: NameArg,
    refresh: RefreshOpt = False,
    hard_refresh: HardRefreshOpt = False,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Compare with this revision instead.")
    ] = None,
    local: Annotated[
        str | None,
        typer.Option("--local", help="Compare with this local directory, rendered here."),
    ] = None,
    exit_code: Annotated[
        bool,
        typer.Option("--exit-code/--no-exit-code", help="Exit 1 when something differs."),
    ] = True,
) -> None:
    """Show what differs between Git and the live state; exit 1 if anything does."""
    try:
        if local is not None and revision:
            raise CliError("give --local or --revision, not both")
        with Client() as client:
            if mode := refresh_mode(refresh, hard_refresh):
                client.get(f"/api/v1/applications/{name}", refresh=mode)
            if local is not None:
                objects = _render_local(client.get(f"/api/v1/applications/{name}"), local)
                path = f"/api/v1/applications/{name}/diff"
                result = client.request("POST", path, json={"manifests": objects})
            else:
                result = client.get(f"/api/v1/applications/{name}/diff", revision=revision)
    except CliError as err:
        typer.echo(f"error: {err.message}", err=True)
        raise typer.Exit(DIFF_ERROR) from err
    different = False
    for res in result.get("resources") or []:
        if res.get("status") == "Synced" and not res.get("diff"):
            continue
        different = True
        group = f"{res['group']}/" if res.get("group") else ""
        where = f"{res['namespace']}/{res['name']}" if res.get("namespace") else res["name"]
        typer.echo(f"===== {group}{res['kind']} {where} ======")
        text = res.get("diff") or f"({res.get('status')}: {res.get('reason') or 'no diff'})\n"
        typer.echo(text, nl=not text.endswith("\n"))
    raise typer.Exit(1 if different and exit_code else 0)


def _render_local(application: dict[str, Any], directory: str) -> list[dict[str, Any]]:
    """The app's source options applied to ``directory``, rendered here as argocd does (with
    the kubectl and helm next to Conveyor or on PATH)."""
    from conveyor.render import Renderer, RenderRequest  # here: keeps every other command fast

    root = Path(directory)
    if not root.is_dir():
        raise CliError(f"--local {directory}: not a directory")
    spec = application.get("spec") or {}
    source = {**(spec.get("source") or {}), "path": "."}
    namespace = str((spec.get("destination") or {}).get("namespace") or "")
    try:
        request = RenderRequest.from_source(
            root.resolve(), source, app_name=app_view.name(application), namespace=namespace
        )
        result = asyncio.run(Renderer().render(request))
    except ConveyorError as err:
        raise CliError(f"--local {directory}: {err}") from err
    return result.manifests


@app.command("manifests")
@handle_errors
def manifests(
    name: NameArg,
    source: Annotated[
        Source, typer.Option("--source", help="git: as rendered from Git; live: as running.")
    ] = Source.git,
    output_format: Annotated[
        Output, typer.Option("--output", "-o", help="yaml (default) or json.")
    ] = Output.yaml,
) -> None:
    """Print an application's manifests (Secret values masked)."""
    with Client() as client:
        objects = client.get(f"/api/v1/applications/{name}/manifests", source=str(source))[
            "manifests"
        ]
    if output_format is Output.json:
        typer.echo(json.dumps(objects, indent=2))
        return
    for obj in objects:
        typer.echo("---")
        typer.echo(yaml.safe_dump(obj, sort_keys=False), nl=False)


@app.command("resources")
@handle_errors
def resources(
    name: NameArg,
    output_format: OutputOpt = Output.table,
    orphaned: Annotated[
        bool,
        typer.Option("--orphaned", help="Objects in the app's namespace that no app tracks."),
    ] = False,
) -> None:
    """The app's resources and what they own (ReplicaSets, Pods), with their health."""
    if orphaned:
        with Client() as client:
            items = client.get(f"/api/v1/applications/{name}/orphaned")["items"]
        if not output.dump(items, output_format):
            output.print_table(
                ["GROUP", "KIND", "NAMESPACE", "NAME", "ORPHANED"],
                [[i["group"], i["kind"], i["namespace"], i["name"], "Yes"] for i in items],
            )
        return
    with Client() as client:
        nodes = client.get(f"/api/v1/applications/{name}/resource-tree")["nodes"]
    if output.dump(nodes, output_format):
        return
    by_uid = {n["uid"]: n for n in nodes}
    rows = []
    for node in nodes:
        parents = [by_uid[p["uid"]] for p in node.get("parentRefs", []) if p["uid"] in by_uid]
        parent = f"{parents[0]['kind']}/{parents[0]['name']}" if parents else ""
        row = [node["group"], node["kind"], node["namespace"], node["name"]]
        row.append((node.get("health") or {}).get("status", ""))
        if output_format is Output.wide:
            row += [parent, ",".join(node.get("images") or [])]
        row.append((node.get("health") or {}).get("message", ""))  # why it is not running
        rows.append(row)
    columns = ["GROUP", "KIND", "NAMESPACE", "NAME", "HEALTH"]
    if output_format is Output.wide:
        columns += ["PARENT", "IMAGES"]
    columns.append("MESSAGE")
    output.print_table(columns, rows)


@app.command("events")
@handle_errors
def events(
    name: NameArg,
    output_format: OutputOpt = Output.table,
    warnings: Annotated[
        bool, typer.Option("--warnings", help="Only Warning events (type=Warning).")
    ] = False,
) -> None:
    """Events about the app's objects, as ``kubectl get events`` shows them, oldest first."""
    with Client() as client:
        items = client.get(f"/api/v1/applications/{name}/events")["items"]
    if warnings:
        items = [e for e in items if e["type"] == "Warning"]
    if output.dump(items, output_format):
        return
    output.print_table(
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"],
        [
            [
                e["lastTimestamp"],
                e["type"],
                e["reason"],
                f"{e['involvedObject']['kind']}/{e['involvedObject']['name']}",
                str(e["count"]),
                e["message"],
            ]
            for e in items
        ],
    )


@app.command("logs")
@handle_errors
def logs(
    name: NameArg,
    resource_name: Annotated[
        str | None, typer.Option("--name", help="A Pod's name, or the resource's with --kind.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Logs of the Pods under this resource kind.")
    ] = None,
    group: Annotated[str | None, typer.Option("--group")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace")] = None,
    container: Annotated[str | None, typer.Option("--container", "-c")] = None,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep streaming.")] = False,
    previous: Annotated[
        bool, typer.Option("--previous", "-p", help="The previous container's log.")
    ] = False,
) -> None:
    """Print the logs of an application's Pods."""
    params: dict[str, Any] = {
        "container": container, "tailLines": tail, "follow": follow, "previous": previous,
        "namespace": namespace, "group": group,
    }  # fmt: skip
    if kind:
        params.update(kind=kind, resourceName=resource_name)
    else:
        params["podName"] = resource_name
    printed = 0
    with (
        Client() as client,
        client.stream_lines(f"/api/v1/applications/{name}/logs", **params) as lines,
    ):
        for line in lines:
            printed += 1
            typer.echo(line)
        if not printed:
            _why_no_logs(client, name)


def _why_no_logs(client: Client, name: str) -> None:
    """No log line at all: say why, from the Pods' health (a missing image, a crash loop)."""
    nodes = client.get(f"/api/v1/applications/{name}/resource-tree")["nodes"]
    pods = [n for n in nodes if n.get("kind") == "Pod" and not n.get("group")]
    if not pods:
        typer.echo(f"no logs: application {name!r} has no Pods", err=True)
    for pod in pods:
        health = pod.get("health") or {}
        why = health.get("message") or health.get("status") or "unknown"
        if health.get("status") == "Healthy":
            why = "it runs but has written nothing yet"
        typer.echo(f"no logs from pod {pod['name']}: {why}", err=True)


@app.command("patch-resource")
@handle_errors
def patch_resource(
    name: NameArg,
    kind: Annotated[str, typer.Option("--kind", help="The resource's kind.")],
    resource_name: Annotated[str, typer.Option("--resource-name", help="Its name.")],
    patch: Annotated[str, typer.Option("--patch", help="The patch, as JSON.")],
    patch_type: Annotated[
        PatchType, typer.Option("--patch-type", help="Merge patch or JSON patch.")
    ] = PatchType.merge,
    namespace: Annotated[str | None, typer.Option("--namespace")] = None,
    group: Annotated[str | None, typer.Option("--group")] = None,
    subresource: Annotated[
        Subresource | None,
        typer.Option("--subresource", help="status: patch the status only (as kubectl does)."),
    ] = None,
) -> None:
    """Patch a live resource of the app (selfHeal will put Git's version back)."""
    try:
        body = json.loads(patch)
    except ValueError as err:
        raise CliError(f"--patch is not valid JSON: {err}") from err
    params = {
        "kind": kind, "resourceName": resource_name, "patchType": str(patch_type),
        "namespace": namespace, "group": group,
        "subresource": str(subresource) if subresource is not None else None,
    }  # fmt: skip
    with Client() as client:
        client.request(
            "POST",
            f"/api/v1/applications/{name}/resource",
            json=body,
            params={k: v for k, v in params.items() if v is not None},
        )
    typer.echo(f"{kind} '{resource_name}' patched")
