"""``conveyor rollouts``: Argo Rollouts' ``kubectl argo rollouts`` verbs, through the server.

list, get (``--watch`` redraws from the server's event stream until the Rollout completes
or aborts), promote [--full], abort, retry, pause, resume, restart, ``set image ROLLOUT
CONTAINER=IMAGE`` and undo [--to-revision], on Argo Rollouts' API paths
(``/api/v1/rollouts/{namespace}/...``). Exit codes: 0 done; 1 an error (or ``get --watch``
ended with the Rollout aborted or Degraded); 2 bad usage; 3 no such Rollout; 4 the action
was refused (it does not apply to the Rollout as it is).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar

import typer

from conveyor.api.rollout_info import finished
from conveyor.cli import output, rollouts_view
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ABORTED = 1
EXIT_NOT_FOUND = 3
EXIT_REFUSED = 4

app = typer.Typer(
    name="rollouts",
    help="Argo Rollouts: watch and drive canary and blue-green updates.",
    no_args_is_help=True,
    add_completion=False,
)
set_app = typer.Typer(name="set", help="Change a Rollout's spec.", no_args_is_help=True)
app.add_typer(set_app, name="set")

NamespaceOpt = Annotated[str, typer.Option("--namespace", "-n", help="The Rollout's namespace.")]
NameArg = Annotated[str, typer.Argument(help="The Rollout's name.", metavar="ROLLOUT")]


def exit_codes(func: Callable[P, R]) -> Callable[P, R]:
    """A 404 exits 3, a 409 (refused action) exits 4; then ``handle_errors``."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CliError as err:
            code = {404: EXIT_NOT_FOUND, 409: EXIT_REFUSED}.get(err.status or 0, err.code)
            raise CliError(err.message, code=code, status=err.status) from err

    return handle_errors(wrapper)


def _base(namespace: str) -> str:
    return f"/api/v1/rollouts/{namespace}"


@app.command("list")
@exit_codes
def list_(
    what: Annotated[
        str | None,
        typer.Argument(help="kubectl's spelling: `list rollouts`.", metavar="[rollouts]"),
    ] = None,
    namespace: NamespaceOpt = "default",
    output_format: OutputOpt = Output.table,
) -> None:
    """List the Rollouts of a namespace."""
    if what not in (None, "rollouts", "rollout", "ro"):
        raise CliError(f"conveyor rollouts list lists rollouts, not {what!r}", code=2)
    with Client() as client:
        items = client.get(f"{_base(namespace)}/info")["rollouts"]
    if output.dump(items, output_format):
        return
    if not items:
        typer.echo(f"No resources found in {namespace} namespace.", err=True)
        return
    output.print_table(rollouts_view.LIST_COLUMNS, [rollouts_view.list_row(i) for i in items])


def draw(info: dict[str, Any]) -> None:
    output.fields(rollouts_view.summary(info))
    lines = rollouts_view.steps(info)
    if lines:
        typer.echo("")
        for line in lines:
            typer.echo(line)
    typer.echo("")
    output.print_table(rollouts_view.TREE_COLUMNS, rollouts_view.tree(info))


def _watch(client: Client, namespace: str, name: str, output_format: Output) -> None:
    console = output.stdout()
    with client.stream_lines(f"{_base(namespace)}/{name}/info/watch") as lines:
        for line in lines:
            if not line.startswith("data:"):
                continue
            info = json.loads(line.removeprefix("data:"))["result"]
            if not output.dump(info, output_format):
                if console.is_terminal:
                    console.clear()
                else:
                    typer.echo("")
                draw(info)
            done = finished(info)
            if done is True:
                return
            if done is False:
                raise CliError(
                    f"rollout {name!r} is {info['status']}: {info.get('message') or ''}".rstrip(
                        ": "
                    ),
                    code=EXIT_ABORTED,
                )
    raise CliError(f"the server closed the watch of {name!r} before it finished")


@app.command("get")
@exit_codes
def get(
    name: NameArg,
    kubectl_name: Annotated[
        str | None,
        typer.Argument(
            help="kubectl's spelling: `get rollout NAME`.", metavar="[NAME]", hidden=True
        ),
    ] = None,
    namespace: NamespaceOpt = "default",
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="Redraw on every change; exit 0 once Healthy, 1 if aborted or Degraded.",
        ),
    ] = False,
    output_format: OutputOpt = Output.table,
) -> None:
    """Show a Rollout: status, steps, weights, ReplicaSets and analysis runs."""
    if kubectl_name is not None:
        if name not in ("rollout", "rollouts", "ro"):
            raise CliError(f"unexpected argument {kubectl_name!r}", code=2)
        name = kubectl_name
    with Client() as client:
        if watch:
            _watch(client, namespace, name, output_format)
            return
        info = client.get(f"{_base(namespace)}/{name}/info")
    if not output.dump(info, output_format):
        draw(info)


def _put(namespace: str, path: str, body: dict[str, Any] | None = None) -> Any:
    with Client() as client:
        return client.request("PUT", f"{_base(namespace)}/{path}", json=body or {})


def _action(verb: str, done: str, help_text: str) -> None:
    def command(name: NameArg, namespace: NamespaceOpt = "default") -> None:
        _put(namespace, f"{name}/{verb}")
        typer.echo(f"rollout '{name}' {done}")

    command.__doc__ = help_text
    command.__name__ = verb
    app.command(verb)(exit_codes(command))


@app.command("promote")
@exit_codes
def promote(
    name: NameArg,
    namespace: NamespaceOpt = "default",
    full: Annotated[
        bool, typer.Option("--full", help="Skip every remaining step, pause and analysis.")
    ] = False,
) -> None:
    """Promote a paused Rollout (or skip its current step); --full: all the way."""
    _put(namespace, f"{name}/promote", {"full": full})
    typer.echo(f"rollout '{name}' {'fully promoted' if full else 'promoted'}")


_action("abort", "aborted", "Abort the update: all traffic back to the stable version.")
_action("retry", "retried", "Retry an aborted update from its first step.")
_action("pause", "paused", "Pause the Rollout where it is.")
_action("resume", "resumed", "Resume a paused Rollout.")
_action("restart", "restarts", "Restart the Rollout's Pods, a few at a time.")


@set_app.command("image")
@exit_codes
def set_image(
    name: NameArg,
    assignment: Annotated[
        str, typer.Argument(help="CONTAINER=IMAGE (CONTAINER * for every container).")
    ],
    namespace: NamespaceOpt = "default",
) -> None:
    """Set a container's image (a new revision: the update starts)."""
    container, sep, image = assignment.partition("=")
    if not sep or not container or not image:
        raise CliError(f"{assignment!r}: write it as CONTAINER=IMAGE", code=2)
    _put(namespace, f"{name}/set/{container}/{image}")
    typer.echo(f"rollout '{name}' image updated")


@app.command("undo")
@exit_codes
def undo(
    name: NameArg,
    namespace: NamespaceOpt = "default",
    to_revision: Annotated[
        int, typer.Option("--to-revision", min=0, help="This revision (default: the previous).")
    ] = 0,
) -> None:
    """Go back to an earlier revision's Pod template."""
    _put(namespace, f"{name}/undo/{to_revision}")
    typer.echo(f"rollout '{name}' undo")
