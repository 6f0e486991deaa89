"""``conveyor ci run|runs|logs|workflow``: the pipeline from the command line.

``ci run`` submits to the running server when one is found (``--server``, CONVEYOR_SERVER or
the local server's ``server.json``), so the server's history sees the run, and waits for it;
without a server it runs here and records the run in the local store. ``ci runs`` and
``ci logs`` read from the same place. Exit code 1 when the run failed.

``--write-back APP`` (the server's Application) or ``--app-file FILE`` (an Application
manifest, for a run here) adds the ``write-back`` stage after ``publish``: the new tag goes
where the Application's Argo CD Image Updater annotations say (conveyor.ci.writeback_stage).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.api.discovery import read_server_info
from conveyor.ci import config as ci_config
from conveyor.ci.results import CiRun
from conveyor.ci.runner import run_pipeline
from conveyor.ci.workflow import github_workflow
from conveyor.ci.writeback_stage import write_back_stage
from conveyor.cli import output
from conveyor.cli.client import OPTIONS, Client, CliError, _home
from conveyor.cli.output import Output, OutputOpt, handle_errors
from conveyor.errors import ConveyorError
from conveyor.settings import Settings

app = typer.Typer(
    name="ci",
    help="CI: scan, test and build a commit into a SHA-tagged artifact; see past runs.",
    no_args_is_help=True,
    add_completion=False,
)
POLL_SECONDS = 1.0
FINISHED = ("passed", "warned", "failed")


def _server() -> Client | None:
    """A client of the running server, or None when there is none to reach."""
    if not (OPTIONS.server or os.environ.get("CONVEYOR_SERVER") or read_server_info(_home())):
        return None
    client = Client()
    try:
        client.get("/api/v1/ci/runs", limit=1)
    except CliError as err:
        client.close()
        if err.status is None:  # unreachable: a stale server.json
            return None
        raise
    return client


def _stage_line(stage: dict[str, Any]) -> str:
    duration = f"{stage.get('duration', 0):.1f}s"
    return f"{stage['name']:<11} {stage['status']:<12} {duration:>7}  {stage.get('message', '')}"


def _print_run(run: dict[str, Any]) -> None:
    output.fields(
        [
            ("Run", run["id"]),
            ("Name", run["name"]),
            ("Commit", run["commit"]),
            ("Status", run["status"]),
            ("Artifact", run.get("artifact") or "(none)"),
        ]
    )
    for stage in run.get("stages", []):
        typer.echo(_stage_line(stage))


def read_applications(files: list[Path]) -> list[dict[str, Any]]:
    """The Application manifests in ``files`` (several documents per file allowed)."""
    import yaml

    found: list[dict[str, Any]] = []
    for file in files:
        try:
            documents = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
            raise CliError(f"cannot read {file}: {err}") from err
        apps = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Application"]
        if not apps:
            raise CliError(f"{file} holds no Application manifest")
        found.extend(apps)
    return found


def _to_stderr(line: str) -> None:
    typer.echo(line, err=True)


async def run_here(
    path: Path,
    *,
    revision: str = "HEAD",
    name: str | None = None,
    applications: Sequence[Mapping[str, Any]] = (),
    settings: Settings | None = None,
    say: Callable[[str], None] = _to_stderr,
) -> dict[str, Any]:
    """Run the pipeline in this process, recorded in the local store (``ci runs`` lists it),
    with the write-back stage for ``applications``; ``say`` hears each stage as it ends."""
    from conveyor.artifacts import ArtifactStore
    from conveyor.store import CiRunStore, open_database
    from conveyor.store.repocreds import RepoCredentialStore

    settings = settings or Settings.from_env()
    hooks = (
        [write_back_stage(applications, credentials=RepoCredentialStore(settings.home).lookup)]
        if applications
        else []
    )
    database = await open_database(settings)
    try:
        runs = CiRunStore(database)
        printed: set[str] = set()

        async def update(run: CiRun) -> None:
            await runs.save(run.to_dict())
            for stage in run.stages:
                done = stage.status not in ("pending", "running", "not run")
                if done and stage.name not in printed:
                    printed.add(stage.name)
                    say(_stage_line(stage.to_dict()))

        run = await run_pipeline(
            path,
            store=ArtifactStore(settings.artifacts_dir),
            revision=revision,
            name=name,
            after_publish=hooks,
            on_update=update,
        )
        return run.to_dict()
    finally:
        await database.close()


def _wait(client: Client, run_id: str) -> dict[str, Any]:
    printed: set[str] = set()
    while True:
        run: dict[str, Any] = client.get(f"/api/v1/ci/runs/{run_id}")
        for stage in run.get("stages", []):
            if stage["status"] not in ("pending", "running") and stage["name"] not in printed:
                printed.add(stage["name"])
                typer.echo(_stage_line(stage), err=True)
        if run.get("status") in FINISHED:
            return run
        time.sleep(POLL_SECONDS)


@app.command("run")
@handle_errors
def run(
    path: Annotated[Path, typer.Argument(help="The app's git repository.")] = Path("."),
    revision: Annotated[
        str, typer.Option("--revision", "-r", help="Commit, branch or tag to run on.")
    ] = "HEAD",
    name: Annotated[str | None, typer.Option("--name", help="Artifact name.")] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Run here even when a server is running.")
    ] = False,
    write_back: Annotated[
        list[str] | None,
        typer.Option(
            "--write-back",
            metavar="APP",
            help="After publish, commit the tag where the server's Application APP's Image "
            "Updater annotations say (repeatable).",
        ),
    ] = None,
    app_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--app-file",
            metavar="FILE",
            help="Like --write-back, the Application read from a manifest file; the run is "
            "then here, not on the server (repeatable).",
        ),
    ] = None,
    output_format: OutputOpt = Output.table,
) -> None:
    """Run the pipeline on the tree at a commit; publish NAME:SHA when every stage holds."""
    path = path.expanduser().resolve()
    applications = read_applications(app_files or [])
    client = None if local and not write_back else _server()
    if write_back and client is None:
        raise CliError("--write-back APP reads the Application from the server, and none is "
                       "running: start one, or give its manifest with --app-file")  # fmt: skip
    if client is not None and (local or applications):
        with client:  # the run is here; the server only lends its Applications
            for app_name in write_back or []:
                applications.append(dict(client.get(f"/api/v1/applications/{app_name}")))
        client = None
    try:
        write_back_stage(applications)  # a manifest without a Git target fails before the run
    except ConveyorError as err:
        raise CliError(str(err)) from err
    if client is not None:
        with client:
            started = client.post(
                "/api/v1/ci/runs",
                {"path": str(path), "revision": revision, "name": name,
                 "writeBack": list(write_back or [])},
            )  # fmt: skip
            typer.echo(f"run {started['id']} submitted to {client.url}", err=True)
            result = _wait(client, started["id"])
    else:
        try:
            result = asyncio.run(
                run_here(path, revision=revision, name=name, applications=applications)
            )
        except ConveyorError as err:
            raise CliError(str(err)) from err
    if not output.dump(result, output_format):
        _print_run({**result, "stages": []})
    if result["status"] == "failed":
        raise typer.Exit(code=1)


async def _local_runs(run_id: str | None, name: str | None, limit: int) -> Any:
    from conveyor.store import CiRunStore, open_database

    database = await open_database(Settings.from_env())
    try:
        runs = CiRunStore(database)
        return await runs.get(run_id) if run_id else await runs.list(name=name, limit=limit)
    finally:
        await database.close()


def _fetch(run_id: str | None, name: str | None = None, limit: int = 100) -> Any:
    client = _server()
    if client is None:
        return asyncio.run(_local_runs(run_id, name, limit))
    with client:
        if run_id is None:
            return client.get("/api/v1/ci/runs", name=name, limit=limit)["items"]
        return client.get(f"/api/v1/ci/runs/{run_id}")


@app.command("runs")
@handle_errors
def runs(
    name: Annotated[str | None, typer.Option("--name", help="Only this app's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, the newest.")] = 20,
    output_format: OutputOpt = Output.table,
) -> None:
    """List CI runs, newest first."""
    items = _fetch(None, name, limit)
    if output.dump(items, output_format):
        return
    rows = [
        [
            i["id"],
            i["name"],
            i["commit"][:12],
            i["status"],
            i.get("artifact") or "",
            i.get("startedAt") or "",
        ]
        for i in items
    ]
    output.print_table(["RUN", "NAME", "COMMIT", "STATUS", "ARTIFACT", "STARTED"], rows)


@app.command("logs")
@handle_errors
def logs(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="The run's id (ci runs).")],
    stage: Annotated[str | None, typer.Option("--stage", help="Only this stage.")] = None,
) -> None:
    """A run's stages, findings and logs (scrubbed: no secrets, no scanned code)."""
    found = _fetch(run_id)
    if not found:
        raise CliError(f"there is no CI run {run_id!r}: `conveyor ci runs` lists them")
    stages = found.get("stages", [])
    if stage is not None:
        stages = [s for s in stages if s["name"] == stage]
        if not stages:
            names = ", ".join(s["name"] for s in found.get("stages", []))
            raise CliError(f"run {run_id} has no stage {stage!r}; it has: {names}")
    for item in stages:
        typer.echo(f"==> {_stage_line(item)}")
        for finding in item.get("findings", []):
            typer.echo("    " + "  ".join(f"{k}={v}" for k, v in finding.items()))
        if item.get("log"):
            typer.echo(item["log"].rstrip())


@app.command("workflow")
@handle_errors
def workflow(
    kind: Annotated[str, typer.Argument(help="Only `github` (GitHub Actions).")],
    path: Annotated[
        Path, typer.Option("--path", help="Read .conveyor/pipeline.yaml from this repository.")
    ] = Path("."),
) -> None:
    """Print a CI workflow that runs the same stages (save it as .github/workflows/ci.yaml)."""
    if kind != "github":
        raise CliError(f"unknown workflow kind {kind!r}: only 'github' is supported")
    try:
        text = github_workflow(ci_config.load(path))
    except ConveyorError as err:
        raise CliError(str(err)) from err
    typer.echo(text, nl=False)
