"""``conveyor demo``: the main job as a newcomer meets it, on the embedded default.

It prepares the demo (the seeds' FastAPI service in an app repo, its artifact, a config repo
with dev/staging/prod overlays and three Applications, all under CONVEYOR_HOME/demo), starts
the API server with the controller and the local runtime inside, registers the apps and,
once dev is Synced and Healthy, prints the API address, the admin token's file and each
environment's URL. It keeps serving until interrupted; ``--no-serve`` stops it there (CI).
Running it again reuses the repos and the artifact.
"""

from __future__ import annotations

import asyncio
import os
import signal

import typer

from conveyor.api.discovery import DEFAULT_HOST, DEFAULT_PORT
from conveyor.api.server import ServerOptions, bind, serve
from conveyor.cli.demo_setup import prepare, register_and_wait
from conveyor.engine.controller import Controller, ControllerOptions
from conveyor.errors import ConveyorError
from conveyor.logging import configure
from conveyor.settings import Settings


def run(*, keep_serving: bool = True, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Prepare, serve, register, report; exit non-zero if dev never became healthy."""
    configure(os.environ.get("CONVEYOR_LOG_LEVEL", "WARNING"))
    settings = Settings.from_env()
    try:
        sock = bind(host, port)  # before the slow preparation: a taken port fails at once
    except ConveyorError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"Conveyor demo in {settings.home}")
    try:
        setup = asyncio.run(prepare(settings, progress=typer.echo))
    except (ConveyorError, OSError) as err:
        sock.close()
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    outcome: dict[str, bool] = {}

    async def on_ready(controller: Controller, url: str) -> None:
        ok = await register_and_wait(controller, setup, url, settings, say=typer.echo)
        outcome["ok"] = ok
        if ok and keep_serving:
            typer.echo("\nserving until interrupted (Ctrl-C)")
        else:
            os.kill(os.getpid(), signal.SIGINT)  # uvicorn's graceful shutdown

    options = ServerOptions(host=host, port=port, controller=ControllerOptions(poll_interval=10.0))
    try:
        serve(settings, options, on_ready=on_ready, sock=sock)
    except KeyboardInterrupt:
        pass
    except ConveyorError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    if not outcome.get("ok"):
        raise typer.Exit(1)
