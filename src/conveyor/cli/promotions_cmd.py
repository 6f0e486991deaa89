"""``conveyor promotions PIPELINE``: where each environment stands, and its lead time.

For each environment of a pipeline (``.conveyor/promotion.yaml``): the tag it runs, when it
began serving its revision (the deployment record), the app commit behind it and the lead time
from that commit (conveyor.ci.leadtime), read from the config checkout's commit trailers.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from conveyor.ci.leadtime import lead_time
from conveyor.ci.promotion import PIPELINE_FILE, load_pipelines, promoted_image, running_tag
from conveyor.ci.writeback import commit_trailers
from conveyor.cli import output
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import handle_errors
from conveyor.cli.promote_cmd import environment_state
from conveyor.errors import ConveyorError

COLUMNS = ["ENV", "APP", "TAG", "SERVED", "APP COMMIT", "LEAD TIME"]


@handle_errors
def promotions_cmd(
    pipeline_name: Annotated[str, typer.Argument(help="Pipeline name.")],
    repo: Annotated[Path, typer.Option("--repo", help="The config repository checkout.")] = Path(
        "."
    ),
) -> None:
    """Each environment's running tag, servedAt, app commit and lead time."""
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
            trailers = asyncio.run(commit_trailers(repo.resolve(), revision))
            measured = lead_time(env.name, revision, state.served_at, trailers)
            image = promoted_image(pipeline, state.application)
            rows.append([
                env.name, env.application, running_tag(state.application, image) or "-",
                measured.served_at.isoformat() if measured.served_at else "-",
                measured.app_commit[:12] or "-",
                str(measured.lead_time) if measured.lead_time is not None else "-",
            ])  # fmt: skip
    output.print_table(COLUMNS, rows)
