"""``conveyor app sync|wait|rollback|terminate-op|history``: operations and their outcome.

``sync`` and ``rollback`` start an operation and, unless ``--async``, wait for it with a
spinner and print what it did; a Failed or Error operation exits 1. ``wait`` exits 1 on
timeout with what it last saw, as ``argocd app wait`` does.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from conveyor.cli import app_view, output, resource_filter, waiting
from conveyor.cli.app_cmd import NameArg
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors

TimeoutOpt = Annotated[
    float, typer.Option("--timeout", help="Seconds to wait at most (0: no limit).")
]

app = typer.Typer(add_completion=False)


def _report(app: dict[str, Any], output_format: Output) -> None:
    """Print an operation's outcome; exit 1 unless it succeeded."""
    op = app_view.operation(app)
    if not output.dump(app, output_format):
        output.fields(app_view.operation_summary(app))
        columns, rows = app_view.sync_result_rows(app)
        if rows:
            typer.echo()
            output.print_table(columns, rows)
    if op.get("phase") != "Succeeded":
        raise CliError(f"operation {op.get('phase', 'unknown')}: {op.get('message', '')}")


@app.command("sync")
@handle_errors
def sync(
    names: Annotated[
        list[str] | None, typer.Argument(help="The applications (or -l / --project).")
    ] = None,
    selector: Annotated[
        str | None,
        typer.Option("--selector", "-l", help="Sync the apps whose labels match (key=value,...)."),
    ] = None,
    project: Annotated[
        list[str] | None, typer.Option("--project", help="Sync the apps of these projects.")
    ] = None,
    revision: Annotated[
        str | None, typer.Option("--revision", help="Sync to this revision instead.")
    ] = None,
    prune: Annotated[
        bool, typer.Option("--prune/--no-prune", help="Delete live objects that left Git.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run/--no-dry-run", help="Preview; change nothing.")
    ] = False,
    resource: Annotated[
        list[str] | None,
        typer.Option(
            "--resource",
            help="Only [!]GROUP:KIND:[NAMESPACE/]NAME ('*' for any; repeatable; ! excludes).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Not supported yet: warns, then syncs normally.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Not supported yet: warns, then syncs normally.")
    ] = False,
    retry_limit: Annotated[
        int,
        typer.Option("--retry-limit", help="Not supported yet: the app's retry policy applies."),
    ] = 0,
    assume_yes: Annotated[
        bool, typer.Option("--assumeYes", help="Answer yes to prompts (sync asks none).")
    ] = False,
    async_: Annotated[
        bool, typer.Option("--async", help="Do not wait for the operation to finish.")
    ] = False,
    timeout: TimeoutOpt = 0,
    output_format: OutputOpt = Output.table,
) -> None:
    """Sync applications to their target revision (or --revision), as argocd app sync does."""
    del assume_yes  # nothing to confirm: sync never prompts
    names = list(names or [])
    if not names and not selector and not project:
        raise CliError("give the applications to sync, or -l SELECTOR, or --project")
    if len(names) > 1 and selector:
        raise CliError("Cannot use selector option when application name(s) passed as argument(s)")
    if force:
        output.warn("--force is not supported yet: objects are applied, not deleted and recreated")
    if replace:
        output.warn("--replace is not supported yet: objects are applied, not replaced")
    if retry_limit:
        output.warn("--retry-limit is not supported yet: the app's syncPolicy.retry applies")
    failed = []
    with Client() as client:
        if selector or project:
            found = client.get("/api/v1/applications", selector=selector, projects=project)
            if not found["items"]:
                what = (f" selector {selector}" if selector else "") + (
                    f" projects {project}" if project else ""
                )
                raise CliError(f"No matching apps found for filter:{what}")
            names += [app_view.name(a) for a in found["items"] if app_view.name(a) not in names]
        for qualified in names:
            name = qualified.rpartition("/")[2]  # argocd's NAMESPACE/NAME, as list -o name prints
            body: dict[str, Any] = {"prune": prune, "dryRun": dry_run}
            if revision:
                body["revision"] = revision
            if resource:
                current = client.get(f"/api/v1/applications/{name}")
                body["resources"] = resource_filter.select(current, resource)
            started = client.post(f"/api/v1/applications/{name}/sync", body)
            if async_:
                typer.echo(f"sync of '{name}' started")
                continue
            done = waiting.wait_operation(client, started, timeout)
            try:
                _report(done, output_format)
            except CliError as err:
                if len(names) == 1:
                    raise
                output.warn(f"{name}: {err.message}")  # the others are still synced
                failed.append(name)
    if failed:
        raise CliError(f"sync failed: {', '.join(failed)}")


@app.command("wait")
@handle_errors
def wait(
    names: Annotated[
        list[str] | None, typer.Argument(help="The applications (or -l SELECTOR).")
    ] = None,
    selector: Annotated[
        str | None,
        typer.Option("--selector", "-l", help="Wait for the apps whose labels match."),
    ] = None,
    sync_: Annotated[bool, typer.Option("--sync", help="Until Synced.")] = False,
    health: Annotated[bool, typer.Option("--health", help="Until Healthy.")] = False,
    suspended: Annotated[
        bool, typer.Option("--suspended", help="Until Suspended (or Healthy with --health).")
    ] = False,
    degraded: Annotated[
        bool, typer.Option("--degraded", help="Until Degraded (or Healthy with --health).")
    ] = False,
    operation: Annotated[
        bool, typer.Option("--operation", help="Until no operation runs.")
    ] = False,
    timeout: TimeoutOpt = 0,
    output_format: OutputOpt = Output.table,
) -> None:
    """Wait until an application is Synced, Healthy and idle (or what the flags say)."""
    if not (sync_ or health or operation or suspended or degraded):
        sync_ = health = operation = True
    healths = [
        h for h, on in (("Healthy", health), ("Suspended", suspended), ("Degraded", degraded)) if on
    ]
    wanted = [
        w
        for w, on in (("Synced", sync_), (" or ".join(healths), bool(healths)), ("idle", operation))
        if on
    ]

    def ready(app: dict[str, Any]) -> bool:
        phase = app_view.operation(app).get("phase")
        return (
            (not sync_ or app_view.sync_status(app) == "Synced")
            and (not healths or app_view.health_status(app) in healths)
            and (not operation or phase not in ("Running", "Terminating"))
        )

    names = [n.rpartition("/")[2] for n in names or []]
    if not names and not selector:
        raise CliError("give the applications to wait for, or -l SELECTOR")
    with Client() as client:
        if selector:
            found = client.get("/api/v1/applications", selector=selector)["items"]
            names += [app_view.name(a) for a in found if app_view.name(a) not in names]
        for name in names:  # one after the other, the timeout for each, as argocd does
            app_ = waiting.wait_for(client, name, ready, what=" and ".join(wanted), timeout=timeout)
            if not output.dump(app_, output_format):
                app_view.print_app(app_)


@app.command("rollback")
@handle_errors
def rollback(
    name: NameArg,
    history_id: Annotated[
        int | None,
        typer.Argument(help="History id to go back to (default: the previous deployment)."),
    ] = None,
    async_: Annotated[bool, typer.Option("--async", help="Do not wait for it.")] = False,
    timeout: TimeoutOpt = 0,
    output_format: OutputOpt = Output.table,
) -> None:
    """Go back to an earlier deployment (turns automated sync off, as argocd does)."""
    with Client() as client:
        if history_id is None:
            items = client.get(f"/api/v1/applications/{name}/history")["items"]
            if len(items) < 2:
                raise CliError(f"application '{name}' has no previous deployment to go back to")
            history_id = int(items[-2]["id"])
        result = client.post(f"/api/v1/applications/{name}/rollback", {"id": history_id})
        typer.echo(result["message"], err=True)
        if async_:
            return
        done = waiting.wait_operation(client, result["application"], timeout)
    _report(done, output_format)


@app.command("terminate-op")
@handle_errors
def terminate_op(name: NameArg) -> None:
    """Stop the running operation of an application."""
    with Client() as client:
        client.request("DELETE", f"/api/v1/applications/{name}/operation")
    typer.echo(f"application '{name}' operation terminating")


@app.command("history")
@handle_errors
def history(name: NameArg, output_format: OutputOpt = Output.table) -> None:
    """Deployments of an application, oldest first."""
    with Client() as client:
        items = client.get(f"/api/v1/applications/{name}/history")["items"]
    if output.dump(items, output_format):
        return
    rows = [
        [
            str(h.get("id")),
            str(h.get("deployedAt", "")),
            str(h.get("revision", "")),
            _initiator(h.get("initiatedBy") or {}),
        ]
        for h in items
    ]
    output.print_table(["ID", "DATE", "REVISION", "INITIATED BY"], rows)


def _initiator(initiated: dict[str, Any]) -> str:
    return "automated" if initiated.get("automated") else str(initiated.get("username", ""))
