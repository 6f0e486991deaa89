"""``conveyor promote APP --to ENV [--approve]``: move the running tag one environment on.

Run in a checkout of the config repository: the pipeline comes from its
``.conveyor/promotion.yaml``. The server says what each environment runs, since when it
serves it (the deployment record), and its rendered manifests; conveyor.ci.promotion checks
the gates and commits the tag. The server records every attempt (``/api/v1/promotions``,
refusals too). A refusal exits 1 and names every gate that failed.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.ci.promotion import (
    PIPELINE_FILE,
    EnvironmentState,
    GateCheck,
    Pipeline,
    PromotionRecord,
    PromotionRefused,
    load_pipelines,
    promote,
)
from conveyor.cli.client import Client, CliError, stored_credentials
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


def run_promotion(
    client: Client, pipeline: Pipeline, to: str, *, approve: bool, user: str = ""
) -> PromotionRecord:
    """What ``conveyor promote`` does: read both environments from the server, check the
    gates, commit the tag; the server records the attempt either way. Raises
    PromotionRefused (naming the gates) or ConveyorError."""
    source, target = pipeline.step_to(to)
    states = {
        source.name: environment_state(client, source.application, manifests=False),
        target.name: environment_state(client, target.application, manifests=True),
    }
    try:
        record = asyncio.run(
            promote(
                pipeline, to, states, user=user or getpass.getuser(),
                approved=approve, now=datetime.now(UTC), credentials=stored_credentials(),
            )
        )  # fmt: skip
    except PromotionRefused as err:
        if err.record is not None:
            record_promotion(client, err.record)
        raise
    record_promotion(client, record)
    return record


def print_gates(gates: Sequence[GateCheck], say: Callable[[str], None] = typer.echo) -> None:
    """One line per gate: held, or FAILED, and what it saw."""
    for gate in gates:
        say(f"{'held  ' if gate.held else 'FAILED'} {gate.name}: {gate.detail}")


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
        with Client() as client:
            record = run_promotion(client, pipeline, to, approve=approve, user=user)
    except PromotionRefused as err:
        print_gates(err.gates)
        raise CliError(str(err)) from err
    except ConveyorError as err:
        raise CliError(str(err)) from err
    if output_json:
        typer.echo(json.dumps(record.to_dict(), indent=2))
        return
    print_gates(record.gates)
    typer.echo(
        f"promoted {record.image}:{record.tag} from {record.source} to {record.target}: "
        f"{record.branch} {record.commit}"
    )


def record_promotion(client: Client, record: PromotionRecord) -> None:
    """POST the attempt to ``/api/v1/promotions``; a failure is said, never hidden (the
    promotion itself is in Git either way)."""
    try:
        stored = client.post("/api/v1/promotions", record.to_dict())
    except CliError as err:
        typer.echo(f"warning: the server did not record this promotion: {err}", err=True)
        return
    typer.echo(f"recorded as promotion {stored['id']} ({record.outcome})", err=True)
