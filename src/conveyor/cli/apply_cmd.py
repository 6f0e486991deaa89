"""``conveyor apply -f FILE``: register Applications and AppProjects from YAML manifests.

The notification settings are applied the same way: the ConfigMap ``argocd-notifications-cm``
(or Argo Rollouts' ``argo-rollouts-notification-configmap``) and the Secret
``argocd-notifications-secret`` go to ``/api/v1/notifications/config`` (the Secret's values
are never echoed).

Multi-document files and ``-`` (stdin) are read as ``kubectl apply -f`` reads them: every
document is sent on its own (projects first, so that apps naming them are admitted), one line
per document says what happened, and a bad document is reported with its file, position and
the server's reasons while the others still apply; any failure makes the exit status 1. The
YAML goes through the shared loader (``conveyor.model.yamldocs``), so an alias bomb is refused
with its document instead of being expanded into the request.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from conveyor.cli import output
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import handle_errors
from conveyor.model.yamldocs import RawDocument, YamlError, split_documents

NOTIFICATIONS = "/api/v1/notifications/config"
ROUTES = {
    "AppProject": "/api/v1/projects",
    "Application": "/api/v1/applications",
    "ConfigMap": NOTIFICATIONS,
    "Secret": NOTIFICATIONS,
}
RESOURCE = {
    "AppProject": "appproject.argoproj.io",
    "Application": "application.argoproj.io",
    "ConfigMap": "configmap",
    "Secret": "secret",
}


def _read(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).read_text()
    except OSError as err:
        raise CliError(f"cannot read {name}: {err.strerror}") from err


def _kind(doc: RawDocument) -> str | None:
    return doc.data.get("kind") if isinstance(doc.data, dict) else None


@handle_errors
def apply(
    files: Annotated[
        list[str],
        typer.Option("--filename", "-f", help="A YAML file of manifests, or - for stdin."),
    ],
) -> None:
    """Create or update Applications and AppProjects from manifests."""
    documents: list[tuple[str, RawDocument]] = []
    for name in files:
        source = "<stdin>" if name == "-" else name
        try:
            documents.extend((source, doc) for doc in split_documents(_read(name)))
        except YamlError as err:
            raise CliError(f"{source}: {err.message}") from err
    if not documents:
        raise CliError("no manifests found in " + ", ".join(files))
    documents.sort(key=lambda item: _kind(item[1]) != "AppProject")  # stable: projects first
    failures = 0
    with Client() as client:
        for source, doc in documents:
            where = f"{source}: document {doc.index + 1} (line {doc.line})"
            try:
                message = _apply_one(client, doc)
            except CliError as err:
                if err.status is None:  # the server is unreachable: stop here
                    raise
                failures += 1
                typer.echo(f"error: {where}: {err.message}", err=True)
                continue
            typer.echo(message)
    if failures:
        raise typer.Exit(1)


def _apply_one(client: Client, doc: RawDocument) -> str:
    if doc.error:
        raise CliError(doc.error, status=0)
    kind = _kind(doc)
    if kind not in ROUTES:
        raise CliError(
            f"kind {kind!r} is not Application or AppProject (apply registers those, and the"
            " notification ConfigMap and Secret; other objects belong in the app's repository)",
            status=0,
        )
    data: dict[str, Any] = doc.data
    result = client.post(ROUTES[kind], data, **({"upsert": True} if kind == "Application" else {}))
    for warning in result.get("warnings") or []:
        output.warn(warning)
    name = (data.get("metadata") or {}).get("name", "")
    return f"{RESOURCE[kind]}/{name} {result.get('result', 'configured')}"
