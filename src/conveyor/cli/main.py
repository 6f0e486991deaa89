"""The ``conveyor`` entry point: one Typer app, sub-commands registered from their modules.

``--server`` and ``--auth-token`` are global, as in argocd: they may be given before or after
the sub-command (``conveyor app list --server URL``); ``main`` moves them in front, where
the root command reads them.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from conveyor import __version__
from conveyor.cli import (
    account,
    analysis_cmd,
    app_actions,
    app_cmd,
    app_edit,
    app_inspect,
    app_ops,
    apply_cmd,
    artifact,
    audit_cmd,
    ci_cmd,
    client,
    cluster_cmd,
    deployments_cmd,
    image_cmd,
    notifications_cmd,
    policy_cmd,
    preview_cmd,
    proj_cmd,
    promote_cmd,
    promotions_cmd,
    repo_cmd,
    rollouts_cmd,
    server_cmd,
)
from conveyor.logging import configure as configure_logging

app = typer.Typer(
    name="conveyor",
    help="GitOps continuous delivery: Git says what runs; Conveyor makes it so and keeps it so.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(artifact.app, name="artifact")
apps = typer.Typer(name="app", help="Applications: create, inspect, sync.", no_args_is_help=True)
for group in (app_cmd.app, app_ops.app, app_inspect.app, app_edit.app):
    apps.add_typer(group)  # no name: their commands join `conveyor app`
apps.add_typer(app_actions.app, name="actions")
app.add_typer(apps, name="app")
app.add_typer(proj_cmd.app, name="proj")
app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(repo_cmd.app, name="repo")
app.add_typer(account.app, name="account")
app.add_typer(deployments_cmd.app, name="deployments")
app.add_typer(notifications_cmd.app, name="notifications")
app.command("audit")(audit_cmd.audit)
app.command("dora")(audit_cmd.dora)
app.add_typer(audit_cmd.report, name="report")
app.add_typer(analysis_cmd.app, name="analysis")
app.add_typer(rollouts_cmd.app, name="rollouts")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(image_cmd.app, name="image")
app.command("promote")(promote_cmd.promote_cmd)
app.command("promotions")(promotions_cmd.promotions_cmd)
app.command("preview")(preview_cmd.preview_cmd)
app.add_typer(ci_cmd.app, name="ci")
app.command("apply")(apply_cmd.apply)
app.command("server")(server_cmd.server)

GLOBAL_FLAGS = ("--server", "--auth-token")
NO_OP_FLAGS = ("--insecure", "--grpc-web")
"""argocd's transport flags: Conveyor's API is plain HTTP(S) REST, so they change nothing."""
BOOL_FLAGS = frozenset(
    {"cascade", "prune", "dry-run", "exit-code", "directory-recurse", "auto-prune", "self-heal"}
)
"""Booleans scripts write as argocd (pflag) allows: ``--cascade=false``."""


@app.callback()
def root(
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="CONVEYOR_SERVER",
            help="Conveyor server URL (default: the local server's, from CONVEYOR_HOME).",
        ),
    ] = None,
    auth_token: Annotated[
        str | None,
        typer.Option(
            "--auth-token",
            envvar="CONVEYOR_AUTH_TOKEN",
            help="API token (default: CONVEYOR_HOME/admin.token).",
        ),
    ] = None,
) -> None:
    """Conveyor: GitOps continuous delivery."""
    client.OPTIONS.server = server
    client.OPTIONS.auth_token = auth_token
    configure_logging(os.environ.get("CONVEYOR_LOG_LEVEL", "INFO"))


@app.command()
def version() -> None:
    """Print Conveyor's version."""
    typer.echo(f"conveyor {__version__}")


demo_app = typer.Typer(no_args_is_help=False, invoke_without_command=True)
app.add_typer(demo_app, name="demo")


@demo_app.callback()
def demo(
    ctx: typer.Context,
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving until interrupted."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address of the API server."),
    port: int = typer.Option(8600, "--port", help="Port of the API server (0: any free port)."),
) -> None:
    """Deploy the seeds' service from Git to dev (and set up staging and prod), then serve."""
    if ctx.invoked_subcommand is not None:
        return
    from conveyor.cli import demo as demo_cmd  # imported here: keeps `conveyor --help` fast

    demo_cmd.run(keep_serving=serve, host=host, port=port)


@demo_app.command("release")
def demo_release(
    bad: bool = typer.Option(
        False, "--bad", help="Release a version that fails 30 % of requests (ERROR_RATE=0.3)."
    ),
    analysis: str = typer.Option(
        "auto", "--analysis", help="auto, builtin or prometheus (auto: Prometheus if it runs)."
    ),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for the end."),
    rate: float = typer.Option(20.0, "--rate", help="Load: requests per second to prod."),
) -> None:
    """Release a new version to prod as a canary (or a bad one with --bad) and watch it."""
    from conveyor.cli import demo_release as release  # imported here: keeps --help fast
    from conveyor.cli.client import CliError

    try:
        code = release.run(bad=bad, analysis=analysis, timeout=timeout, rate=rate, say=typer.echo)
    except CliError as err:
        typer.echo(f"error: {err.message}", err=True)
        raise typer.Exit(err.code) from err
    raise typer.Exit(code)


@demo_app.command("promote")
def demo_promote(
    to: str | None = typer.Option(
        None, "--to", help="staging or prod (default: the first one behind the tag before it)."
    ),
    approve: bool = typer.Option(False, "--approve", help="A person approves (prod needs it)."),
    timeout: float = typer.Option(300.0, "--timeout", help="Seconds to wait for the end."),
) -> None:
    """Promote the running tag dev -> staging -> prod through the gates, then sync it."""
    from conveyor.cli import demo_promote as promotion  # imported here: keeps --help fast
    from conveyor.cli.client import CliError

    try:
        code = promotion.run(to=to, approve=approve, timeout=timeout, say=typer.echo)
    except CliError as err:
        typer.echo(f"error: {err.message}", err=True)
        raise typer.Exit(err.code) from err
    raise typer.Exit(code)


def _argocd_bool(arg: str) -> str | None:
    """``--cascade=false`` -> ``--no-cascade``, ``--cascade=true`` -> ``--cascade``."""
    name, eq, value = arg.partition("=")
    if not eq or name.removeprefix("--") not in BOOL_FLAGS or not name.startswith("--"):
        return None
    if value.lower() in ("true", "1", "t"):
        return name
    if value.lower() in ("false", "0", "f"):
        return "--no-" + name.removeprefix("--")
    return None


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Move ``--server``/``--auth-token`` (and their values) to the front of ``argv``; drop
    argocd's no-op transport flags; spell argocd's ``--flag=false`` as ``--no-flag``."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg.split("=", 1)[0] in NO_OP_FLAGS:
            i += 1
            continue
        if (spelled := _argocd_bool(arg)) is not None:
            rest.append(spelled)
            i += 1
            continue
        if arg in GLOBAL_FLAGS and i + 1 < len(argv):
            front += [arg, argv[i + 1]]
            i += 2
            continue
        if arg.split("=", 1)[0] in GLOBAL_FLAGS and "=" in arg:
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main() -> None:
    """Console-script entry point."""
    app(args=hoist_global_flags(sys.argv[1:]), prog_name="conveyor")
