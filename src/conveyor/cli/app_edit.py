"""``conveyor app unset|edit|delete-resource``: changing an app in place, as argocd does.

``unset`` removes source overrides by name (a merge patch cannot take one entry out of a list,
so the whole spec is sent back with ``PUT``); ``edit`` opens the spec in ``$EDITOR`` and
replaces it with what is saved; ``delete-resource`` deletes one live object of the app.
"""

from __future__ import annotations

import copy
import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from conveyor.cli.app_cmd import NameArg
from conveyor.cli.client import Client, CliError
from conveyor.cli.output import handle_errors
from conveyor.model.yamldocs import YamlError, split_documents

app = typer.Typer(add_completion=False)

Strings = list[str] | None


def _stored(application: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in application.items() if k != "status"}


@app.command("unset")
@handle_errors
def unset(
    name: NameArg,
    parameter: Annotated[
        Strings, typer.Option("--parameter", "-p", help="A Helm parameter's name (repeatable).")
    ] = None,
    values: Annotated[Strings, typer.Option("--values", help="A Helm values file.")] = None,
    values_literal: Annotated[
        bool, typer.Option("--values-literal", help="The inline Helm values.")
    ] = False,
    name_prefix: Annotated[
        bool, typer.Option("--nameprefix", help="Kustomize namePrefix.")
    ] = False,
    name_suffix: Annotated[
        bool, typer.Option("--namesuffix", help="Kustomize nameSuffix.")
    ] = False,
    kustomize_image: Annotated[
        Strings, typer.Option("--kustomize-image", help="A Kustomize image override by name.")
    ] = None,
) -> None:
    """Remove Helm or Kustomize overrides from an application's source."""
    with Client() as client:
        current = _stored(client.get(f"/api/v1/applications/{name}"))
        manifest = copy.deepcopy(current)
        source = manifest.get("spec", {}).get("source") or {}
        helm = source.get("helm") or {}
        kustomize = source.get("kustomize") or {}
        if parameter and helm.get("parameters"):
            helm["parameters"] = [p for p in helm["parameters"] if p.get("name") not in parameter]
        if values and helm.get("valueFiles"):
            helm["valueFiles"] = [v for v in helm["valueFiles"] if v not in values]
        if values_literal:
            helm.pop("values", None)
            helm.pop("valuesObject", None)
        if name_prefix:
            kustomize.pop("namePrefix", None)
        if name_suffix:
            kustomize.pop("nameSuffix", None)
        if kustomize_image and kustomize.get("images"):
            kustomize["images"] = [
                i for i in kustomize["images"]
                if i.split("=", 1)[0].split(":", 1)[0].split("@", 1)[0] not in kustomize_image
            ]  # fmt: skip
        if manifest == current:
            typer.echo(f"application '{name}' unchanged: nothing to unset")
            return
        client.request("PUT", f"/api/v1/applications/{name}", json=manifest)
    typer.echo(f"application '{name}' configured")


@app.command("edit")
@handle_errors
def edit(name: NameArg) -> None:
    """Edit an application's spec in $EDITOR (VISUAL, EDITOR, else vi); saved changes apply."""
    with Client() as client:
        current = _stored(client.get(f"/api/v1/applications/{name}"))
        text = yaml.safe_dump(current.get("spec") or {}, sort_keys=False)
        with tempfile.TemporaryDirectory(prefix="conveyor-edit-") as scratch:
            path = Path(scratch) / f"{name}-spec.yaml"
            path.write_text(text)
            editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
            done = subprocess.run([*shlex.split(editor), str(path)], check=False)
            if done.returncode != 0:
                raise CliError(
                    f"the editor ({editor}) exited with {done.returncode}: nothing changed"
                )
            edited = path.read_text()
        if edited == text:
            typer.echo(f"application '{name}' unchanged")
            return
        try:
            docs = split_documents(edited)
        except YamlError as err:
            raise CliError(f"the edited spec is not valid YAML: {err.message}") from err
        if len(docs) != 1 or docs[0].error or not isinstance(docs[0].data, dict):
            raise CliError("the edited spec must be one YAML mapping: nothing changed")
        manifest = {**current, "spec": docs[0].data}
        client.request("PUT", f"/api/v1/applications/{name}", json=manifest)
    typer.echo(f"application '{name}' configured")


@app.command("delete-resource")
@handle_errors
def delete_resource(
    name: NameArg,
    kind: Annotated[str, typer.Option("--kind", help="The resource's kind.")],
    resource_name: Annotated[str, typer.Option("--resource-name", help="Its name.")],
    namespace: Annotated[str | None, typer.Option("--namespace")] = None,
    group: Annotated[str | None, typer.Option("--group")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Not supported yet: warns, then deletes normally.")
    ] = False,
    orphan: Annotated[
        bool, typer.Option("--orphan", help="Not supported yet: warns, then deletes normally.")
    ] = False,
) -> None:
    """Delete one live resource of the app (an automated app with selfHeal recreates it)."""
    if force or orphan:
        typer.echo(
            "warning: --force and --orphan are not supported yet: the resource is deleted "
            "with its dependents, gracefully",
            err=True,
        )
    params = {"kind": kind, "resourceName": resource_name, "namespace": namespace, "group": group}
    with Client() as client:
        client.request(
            "DELETE",
            f"/api/v1/applications/{name}/resource",
            params={k: v for k, v in params.items() if v is not None},
        )
    typer.echo(f"{kind} '{resource_name}' deleted")
