"""argocd's source flags of ``app create`` and ``app set``: Helm, Kustomize, directory, labels.

Each flag becomes the Application field Argo CD's CLI sets: ``--helm-set`` a
``helm.parameters`` entry, ``--values`` a ``helm.valueFiles`` entry, ``--kustomize-image`` a
``kustomize.images`` entry, and so on. ``apply_flags`` writes them into an Application
manifest (a file's with ``create -f``, or the one built from flags); later values win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from conveyor.cli.client import CliError

Strings = list[str] | None

HelmSetOpt = Annotated[
    Strings, typer.Option("--helm-set", help="A Helm parameter NAME=VALUE (repeatable).")
]
HelmSetStringOpt = Annotated[
    Strings,
    typer.Option("--helm-set-string", help="A Helm string parameter NAME=VALUE (repeatable)."),
]
ValuesOpt = Annotated[
    Strings, typer.Option("--values", help="A Helm values file in the repo (repeatable).")
]
ReleaseNameOpt = Annotated[
    str | None, typer.Option("--release-name", help="Helm release name (default: the app's).")
]
KustomizeImageOpt = Annotated[
    Strings,
    typer.Option("--kustomize-image", help="Kustomize image override, e.g. web=web:v2."),
]
NamePrefixOpt = Annotated[str | None, typer.Option("--nameprefix", help="Kustomize namePrefix.")]
NameSuffixOpt = Annotated[str | None, typer.Option("--namesuffix", help="Kustomize nameSuffix.")]
DirectoryRecurseOpt = Annotated[
    bool | None,
    typer.Option(
        "--directory-recurse/--no-directory-recurse",
        help="Plain YAML: read subdirectories too.",
        show_default=False,
    ),
]
LabelOpt = Annotated[
    Strings, typer.Option("--label", "-l", help="A label of the app, KEY=VALUE (repeatable).")
]
RetryLimitOpt = Annotated[
    int | None, typer.Option("--sync-retry-limit", help="Retries of a failed sync.")
]
HistoryLimitOpt = Annotated[
    int | None,
    typer.Option("--revision-history-limit", help="History entries kept (default 10)."),
]


@dataclass
class SourceFlags:
    """The flags as given (None / empty: not given)."""

    helm_set: list[str] = field(default_factory=list)
    helm_set_string: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    release_name: str | None = None
    kustomize_image: list[str] = field(default_factory=list)
    name_prefix: str | None = None
    name_suffix: str | None = None
    directory_recurse: bool | None = None
    labels: list[str] = field(default_factory=list)
    retry_limit: int | None = None
    history_limit: int | None = None


def _pair(flag: str, text: str) -> tuple[str, str]:
    key, eq, value = text.partition("=")
    if not eq or not key:
        raise CliError(f"{flag} {text!r}: expected NAME=VALUE")
    return key, value


def _upsert(items: list[dict[str, Any]], entry: dict[str, Any], key: str) -> None:
    for i, item in enumerate(items):
        if item.get(key) == entry[key]:
            items[i] = entry
            return
    items.append(entry)


def apply_flags(manifest: dict[str, Any], flags: SourceFlags) -> dict[str, Any]:
    """``manifest`` with the flags written in (it is changed in place and returned)."""
    spec = manifest.setdefault("spec", {})
    source = spec.setdefault("source", {})
    helm_given = flags.helm_set or flags.helm_set_string or flags.values or flags.release_name
    if helm_given:
        helm = source.setdefault("helm", {})
        params = (
            helm.setdefault("parameters", []) if flags.helm_set or flags.helm_set_string else []
        )
        for text in flags.helm_set:
            name, value = _pair("--helm-set", text)
            _upsert(params, {"name": name, "value": value}, "name")
        for text in flags.helm_set_string:
            name, value = _pair("--helm-set-string", text)
            _upsert(params, {"name": name, "value": value, "forceString": True}, "name")
        if flags.values:
            files = helm.setdefault("valueFiles", [])
            files.extend(v for v in flags.values if v not in files)
        if flags.release_name:
            helm["releaseName"] = flags.release_name
    if flags.kustomize_image or flags.name_prefix is not None or flags.name_suffix is not None:
        kustomize = source.setdefault("kustomize", {})
        if flags.kustomize_image:
            images = kustomize.setdefault("images", [])
            for image in flags.kustomize_image:
                base = image.split("=", 1)[0].split(":", 1)[0].split("@", 1)[0]
                images[:] = [i for i in images if i.split("=", 1)[0].split(":", 1)[0] != base]
                images.append(image)
        if flags.name_prefix is not None:
            kustomize["namePrefix"] = flags.name_prefix
        if flags.name_suffix is not None:
            kustomize["nameSuffix"] = flags.name_suffix
    if flags.directory_recurse is not None:
        source.setdefault("directory", {})["recurse"] = flags.directory_recurse
    if flags.labels:
        labels = manifest.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(_pair("--label", text) for text in flags.labels)
    if flags.retry_limit is not None:
        policy = spec.setdefault("syncPolicy", {})
        policy.setdefault("retry", {})["limit"] = flags.retry_limit
    if flags.history_limit is not None:
        spec["revisionHistoryLimit"] = flags.history_limit
    return manifest


def source_params(app: dict[str, Any]) -> list[list[str]]:
    """``app get --show-params``: the Helm parameters and Kustomize overrides, as rows."""
    source = (app.get("spec") or {}).get("source") or {}
    rows: list[list[str]] = []
    helm = source.get("helm") or {}
    for param in helm.get("parameters") or []:
        rows.append(["helm", str(param.get("name")), str(param.get("value", ""))])
    for path in helm.get("valueFiles") or []:
        rows.append(["helm", "valueFiles", str(path)])
    if helm.get("releaseName"):
        rows.append(["helm", "releaseName", str(helm["releaseName"])])
    kustomize = source.get("kustomize") or {}
    for image in kustomize.get("images") or []:
        rows.append(["kustomize", "image", str(image)])
    for key in ("namePrefix", "nameSuffix", "namespace"):
        if kustomize.get(key):
            rows.append(["kustomize", key, str(kustomize[key])])
    return rows
