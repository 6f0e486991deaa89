"""``conveyor cluster list``: the destinations apps may deploy to.

For now there is one: the local runtime, reached as Argo CD's in-cluster destination
(``https://kubernetes.default.svc``, name ``in-cluster``).
"""

from __future__ import annotations

import typer

from conveyor.cli import output
from conveyor.cli.client import Client
from conveyor.cli.output import Output, OutputOpt, handle_errors

app = typer.Typer(name="cluster", help="Clusters.", no_args_is_help=True, add_completion=False)


@app.command("list")
@handle_errors
def list_(output_format: OutputOpt = Output.table) -> None:
    """List clusters."""
    with Client() as client:
        items = client.get("/api/v1/clusters")["items"]
    if not output.dump(items, output_format):
        rows = [
            [c["server"], c["name"], c.get("serverVersion", ""), c["connectionState"]["status"],
             c["connectionState"].get("message", "")]
            for c in items
        ]  # fmt: skip
        output.print_table(["SERVER", "NAME", "VERSION", "STATUS", "MESSAGE"], rows)
