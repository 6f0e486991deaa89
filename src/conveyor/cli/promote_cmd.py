"""``conveyor promote APP --to ENV [--approve]``: move the running tag one environment on.

Run in a checkout of the config repository: the pipeline comes from its
``.conveyor/promotion.yaml``. The server says what each environment runs, since when it
serves it (the deployment record), and its rendered manifests; conveyor.ci.promotion checks
the gates and commits the tag. A refusal exits 1 and names every gate that failed.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.ci.promotion import (
    PIPELINE_FILE,
    EnvironmentState,
    PromotionRefused,
    load_pipelines,
    promote,
)
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import handle_errors
from conveyor.errors import ConveyorError


def served_at(deployments: list[dict[str, Any]], revision: str) -> datetime | None:
    """When the newest deployment of ``revision`` began serving (None if it has not)."""
    for item in reversed(deployments):
        if item.get("revision") == revision and item.get("servedAt"):
            return datetime.fromisoformat(str(item["servedAt"]).replace("Z", "+00:00"))
    return None


def environment_state(client: Client, name: str, *, manifests: bool) -> EnvironmentState:
    application = dict(client.get(f"/api/v1/applications/{name}"))
    revision = str(((application.get("status") or {}).get("sync") or {}).get("revision") or "")
    records = client.get("/api/v1/deployments", app=name)["items"]
    objects = (
        client.get(f"/api/v1/applications/{name}/manifests", source="git")["manifests"]
        if manifests
        else []
    )
    return EnvironmentState(application, served_at(records, revision), objects)


@handle_errors
def promote_cmd(
    app: Annotated[str, typer.Argument(help="Pipeline name (in .conveyor/promotion.yaml).")],
    to: Annotated[str, typer.Option("--to", help="Environment to promote into.")],
    approve: Annotated[
        bool, typer.Option("--approve", help="A person approves (required where declared).")
    ] = False,
    pipeline_file: Annotated[
        Path, typer.Option("--pipeline-file", help="The pipelines file.")
    ] = Path(PIPELINE_FILE),
    user: Annotated[
        str, typer.Option("--user", help="Recorded as who promoted (default: login name).")
    ] = "",
    output_json: Annotated[bool, typer.Option("--json", help="The record as JSON.")] = False,
) -> None:
    """Promote APP's running tag from the previous environment into --to, through its gates."""
    try:
        pipelines = load_pipelines(pipeline_file.read_text())
    except OSError as err:
        raise CliError(f"cannot read {pipeline_file}: run in the config repository") from err
    except ConveyorError as err:
        raise CliError(str(err)) from err
    if app not in pipelines:
        raise CliError(f"{pipeline_file} has no pipeline {app!r} ({', '.join(pipelines)})")
    pipeline = pipelines[app]
    try:
        source, target = pipeline.step_to(to)
        with Client() as client:
            states = {
                source.name: environment_state(client, source.application, manifests=False),
                target.name: environment_state(client, target.application, manifests=True),
            }
        record = asyncio.run(
            promote(
                pipeline, to, states, user=user or getpass.getuser(),
                approved=approve, now=datetime.now(UTC),
            )
        )  # fmt: skip
    except PromotionRefused as err:
        for gate in err.gates:
            typer.echo(f"{'held  ' if gate.held else 'FAILED'} {gate.name}: {gate.detail}")
        raise CliError(str(err)) from err
    except ConveyorError as err:
        raise CliError(str(err)) from err
    if output_json:
        typer.echo(json.dumps(record.to_dict(), indent=2))
        return
    for gate in record.gates:
        typer.echo(f"held   {gate.name}: {gate.detail}")
    typer.echo(
        f"promoted {record.image}:{record.tag} from {record.source} to {record.target}: "
        f"{record.branch} {record.commit}"
    )
