"""``conveyor server``: the API server, with the controller and the local runtime inside.

Imported only when the command runs, so that the client commands stay quick to start.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from typing import Annotated

import typer

from conveyor.api.discovery import DEFAULT_HOST, DEFAULT_PORT
from conveyor.errors import ConveyorError


def plain_http_warning(host: str) -> str | None:
    """The warning for listening on ``host`` without TLS, or None for loopback addresses.

    Conveyor serves plain HTTP: beyond this machine, bearer tokens, manifests (Secret values
    included) and webhook bodies would cross the network in the clear.
    """
    if host.lower() == "localhost":
        return None
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    return (
        f"warning: serving plain HTTP on {host}: API tokens and manifests (Secret values"
        " included) cross the network unencrypted. Conveyor has no TLS of its own; put a"
        " TLS-terminating proxy in front of it, or listen on 127.0.0.1"
    )


def server(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free port).")
    ] = DEFAULT_PORT,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval",
            envvar="CONVEYOR_POLL_INTERVAL",
            help="Seconds between looks at each app's repository (webhooks make it sooner).",
        ),
    ] = 30.0,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object per line.")
    ] = False,
) -> None:
    """Run the API server and the controller until interrupted (Ctrl-C or SIGTERM)."""
    from conveyor.api.server import ServerOptions, serve
    from conveyor.engine.controller import ControllerOptions
    from conveyor.logging import configure
    from conveyor.settings import Settings

    if poll_interval <= 0:
        typer.echo("error: --poll-interval must be positive", err=True)
        raise typer.Exit(1)
    configure(os.environ.get("CONVEYOR_LOG_LEVEL", "INFO"), json=log_json)
    warning = plain_http_warning(host)
    if warning is not None:
        typer.echo(warning, err=True)
    options = ServerOptions(
        host=host, port=port, controller=ControllerOptions(poll_interval=poll_interval)
    )
    try:
        with contextlib.suppress(KeyboardInterrupt):
            serve(Settings.from_env(), options)
    except ConveyorError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
