"""``conveyor promotions [PIPELINE]``: the promotion history, and where each environment stands.

By default the history the server recorded (``/api/v1/promotions``): each attempt, promoted
or refused, who asked, when, and the gate that failed. ``--status`` shows instead, for each
environment of a pipeline (``.conveyor/promotion.yaml``): the tag it runs, when it began
serving its revision, the app commit behind it and the lead time from that commit. Both come
from the deployment record when it names the app commit (the engine reads the synced commit's
trailers); otherwise from the config checkout's commit trailers (conveyor.ci.leadtime).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.ci.leadtime import from_record, lead_time
from conveyor.ci.promotion import PIPELINE_FILE, load_pipelines, promoted_image, running_tag
from conveyor.ci.writeback import commit_trailers
from conveyor.cli import output
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import Output, OutputOpt, handle_errors
from conveyor.cli.promote_cmd import environment_state
from conveyor.errors import ConveyorError

STATUS_COLUMNS = ["ENV", "APP", "TAG", "SERVED", "APP COMMIT", "LEAD TIME"]
HISTORY_COLUMNS = ["ID", "WHEN", "PIPELINE", "FROM", "TO", "TAG", "OUTCOME", "BY", "GATES"]


@handle_errors
def promotions_cmd(
    pipeline_name: Annotated[
        str | None, typer.Argument(help="Pipeline name (or a target app): only its promotions.")
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", help="Only promotions into this environment.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, the newest.")] = 100,
    status: Annotated[
        bool, typer.Option("--status", help="Each environment's tag, servedAt and lead time.")
    ] = False,
    repo: Annotated[Path, typer.Option("--repo", help="The config repository checkout.")] = Path(
        "."
    ),
    output_format: OutputOpt = Output.table,
) -> None:
    """The promotion history (oldest first), or with --status where each environment stands."""
    if status:
        if pipeline_name is None:
            raise CliError("--status needs the PIPELINE")
        _status(pipeline_name, repo)
        return
    with Client() as client:
        items = client.get("/api/v1/promotions", app=pipeline_name, env=env, limit=limit)
    if output.dump(items["items"], output_format):
        return
    output.print_table(HISTORY_COLUMNS, [_history_row(i) for i in items["items"]])


def _history_row(item: dict[str, Any]) -> list[str]:
    failed = item.get("failedGates") or []
    gates = "failed: " + ", ".join(failed) if failed else f"{len(item.get('gates') or [])} held"
    return [
        str(item.get("id", "")),
        str(item.get("promotedAt", "")),
        str(item.get("pipeline", "")),
        str(item.get("from", "")),
        str(item.get("to", "")),
        str(item.get("tag") or "-"),
        str(item.get("outcome", "")),
        str(item.get("promotedBy", "")),
        gates,
    ]


def _status(pipeline_name: str, repo: Path) -> None:
    try:
        pipelines = load_pipelines((repo / PIPELINE_FILE).read_text())
    except OSError as err:
        raise CliError(f"cannot read {repo / PIPELINE_FILE}: run in the config repository") from err
    except ConveyorError as err:
        raise CliError(str(err)) from err
    if pipeline_name not in pipelines:
        raise CliError(f"no pipeline {pipeline_name!r} ({', '.join(pipelines)})")
    pipeline = pipelines[pipeline_name]
    rows = []
    with Client() as client:
        for env in pipeline.environments:
            state = environment_state(client, env.application, manifests=False)
            status = state.application.get("status") or {}
            revision = str((status.get("sync") or {}).get("revision") or "")
            records = client.get("/api/v1/deployments", app=env.application)["items"]
            newest = next((r for r in reversed(records) if r.get("revision") == revision), None)
            measured = from_record(env.name, newest) if newest else None
            if measured is None:
                trailers = asyncio.run(commit_trailers(repo.resolve(), revision))
                measured = lead_time(env.name, revision, state.served_at, trailers)
            image = promoted_image(pipeline, state.application)
            rows.append([
                env.name, env.application, running_tag(state.application, image) or "-",
                measured.served_at.isoformat() if measured.served_at else "-",
                measured.app_commit[:12] or "-",
                str(measured.lead_time) if measured.lead_time is not None else "-",
            ])  # fmt: skip
    output.print_table(STATUS_COLUMNS, rows)
