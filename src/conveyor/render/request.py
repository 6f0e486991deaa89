"""What to render: a directory of the exported repository plus the app's render parameters.

The engine holds ``spec.source`` as the model's typed ``Source`` and ``RenderRequest.from_source``
reads its fields directly; a plain dict with Argo CD's camelCase keys (tools, tests) is checked
field by field and gives the same request.
Options are frozen values: the same request always renders the same manifests, which is what
lets the cache key on them (``canonical()``).

``detect`` decides the tool when spec.source does not say: a kustomization file means
Kustomize, a ``Chart.yaml`` means Helm, anything else is a directory of plain manifests.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.source import Helm, Kustomize, Source

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
"""The names kustomize looks for, in its order."""
HELM_CHART_FILE = "Chart.yaml"
_CHART_REFUSED = (
    "charts from a Helm repository are not rendered by Conveyor: commit the chart "
    "to Git and point spec.source.path at it"
)


class SourceType(StrEnum):
    """The renderer an app uses, named as Argo CD names it in ``status.sourceType``."""

    DIRECTORY = "Directory"
    KUSTOMIZE = "Kustomize"
    HELM = "Helm"


def detect(app_dir: Path) -> SourceType:
    """The source type of ``app_dir`` from the files at its top, as Argo CD discovers it."""
    if any((app_dir / name).is_file() for name in KUSTOMIZATION_FILES):
        return SourceType.KUSTOMIZE
    if (app_dir / HELM_CHART_FILE).is_file():
        return SourceType.HELM
    return SourceType.DIRECTORY


@dataclass(frozen=True)
class DirectoryOptions:
    """``spec.source.directory``."""

    recurse: bool = False
    """Read subdirectories too; Argo CD reads only the top level by default."""
    include: str = ""
    """Glob of paths (relative to the app) to read; empty reads every manifest file."""
    exclude: str = ""
    """Glob of paths to leave out; checked before ``include``."""


@dataclass(frozen=True)
class KustomizeOptions:
    """``spec.source.kustomize``: edits made to the app's kustomization before the build."""

    images: tuple[str, ...] = ()
    """``kustomize edit set image`` arguments: ``name=new:tag``, ``name:tag``, ``name@digest``."""
    name_prefix: str = ""
    name_suffix: str = ""
    common_labels: Mapping[str, str] = field(default_factory=dict)
    common_annotations: Mapping[str, str] = field(default_factory=dict)
    force_common_labels: bool = False
    """Overwrite labels the kustomization already sets (else that is an error, as in Argo CD)."""
    force_common_annotations: bool = False
    label_without_selector: bool = False
    """Add labels to metadata only, not to selectors (kustomize ``labels`` without selectors)."""
    namespace: str = ""
    replicas: tuple[tuple[str, int], ...] = ()
    """(workload name, count) pairs, as ``kustomize edit set replicas``."""

    def has_edits(self) -> bool:
        """Whether any option asks for an edit (else the user's tree is built as it is)."""
        return any(
            (
                self.images,
                self.name_prefix,
                self.name_suffix,
                self.common_labels,
                self.common_annotations,
                self.namespace,
                self.replicas,
            )
        )


@dataclass(frozen=True)
class HelmParameter:
    """One ``--set`` (or ``--set-string`` when ``force_string``)."""

    name: str
    value: str = ""
    force_string: bool = False


@dataclass(frozen=True)
class HelmFileParameter:
    """One ``--set-file name=path``; the path is confined to the repository."""

    name: str
    path: str


@dataclass(frozen=True)
class HelmOptions:
    """``spec.source.helm``: the inputs of ``helm template``."""

    value_files: tuple[str, ...] = ()
    """Relative to the app path; an absolute path is relative to the repository root."""
    values: str = ""
    """Inline values YAML (``values``, or ``valuesObject`` serialized); wins over value files."""
    parameters: tuple[HelmParameter, ...] = ()
    file_parameters: tuple[HelmFileParameter, ...] = ()
    release_name: str = ""
    """Defaults to the application's name, as in Argo CD."""
    namespace: str = ""
    """Defaults to the destination namespace."""
    skip_crds: bool = False
    ignore_missing_value_files: bool = False
    kube_version: str = ""
    api_versions: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderRequest:
    """One app to render. ``root`` is the exported tree; nothing outside it is ever read."""

    root: Path
    """The exported repository tree at one commit."""
    path: str = "."
    """spec.source.path: the app directory, relative to ``root``."""
    source_type: SourceType | None = None
    """The renderer when spec.source names one (it has a helm/kustomize/directory block)."""
    directory: DirectoryOptions = field(default_factory=DirectoryOptions)
    kustomize: KustomizeOptions = field(default_factory=KustomizeOptions)
    helm: HelmOptions = field(default_factory=HelmOptions)
    app_name: str = ""
    """The Application's name: Helm's default release name."""
    namespace: str = ""
    """spec.destination.namespace: Helm's default ``--namespace``."""
    source_repos: tuple[str, ...] | None = None
    """The project's sourceRepos: every Kustomize remote base must match them (None: no
    project to check, as in tests of the renderers alone)."""
    project: str = ""
    """The project's name, for the messages of that check."""
    private_dirs: tuple[str, ...] = ()
    """Conveyor's own directories (its mirrors, checkouts): no base may be read from them."""

    def canonical(self) -> str:
        """Every parameter that can change the output, as canonical JSON (not ``root``)."""
        parameters = dataclasses.asdict(self)
        del parameters["root"]  # where the commit was exported, not what it holds
        return json.dumps(parameters, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_source(
        cls,
        root: Path,
        source: Source | Mapping[str, Any],
        *,
        app_name: str = "",
        namespace: str = "",
    ) -> RenderRequest:
        """The request for ``spec.source`` (model or camelCase dict); ValidationError if bad."""
        if isinstance(source, Source):
            return _from_model(root, source, app_name=app_name, namespace=namespace)
        spec = source
        blocks = {name: spec.get(name) for name in ("directory", "kustomize", "helm")}
        given = [name for name, block in blocks.items() if block is not None]
        if len(given) > 1:
            raise ValidationError(f"set only one of {', '.join(given)}", obj="spec.source")
        if spec.get("chart"):
            raise ValidationError(_CHART_REFUSED, obj="spec.source.chart")
        return cls(
            root=root,
            path=_string(spec, "path", "spec.source") or ".",
            source_type=SourceType[given[0].upper()] if given else None,
            directory=_directory(_mapping(blocks["directory"], "spec.source.directory")),
            kustomize=_kustomize(_mapping(blocks["kustomize"], "spec.source.kustomize")),
            helm=_helm(_mapping(blocks["helm"], "spec.source.helm")),
            app_name=app_name,
            namespace=namespace,
        )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError("must be a mapping", obj=where)
    return value


def _string(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("must be a string", obj=f"{where}.{key}")
    return value


def _bool(spec: Mapping[str, Any], key: str, where: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):
        raise ValidationError("must be true or false", obj=f"{where}.{key}")
    return value


def _strings(spec: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = spec.get(key) or []
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValidationError("must be a list of strings", obj=f"{where}.{key}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ValidationError("must be a string", obj=f"{where}.{key}[{index}]")
    return tuple(value)


def _string_map(spec: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = _mapping(spec.get(key), f"{where}.{key}")
    for name, item in value.items():
        if not isinstance(item, str):
            raise ValidationError("must be a string (quote it)", obj=f"{where}.{key}.{name}")
    return dict(value)


def _directory(spec: Mapping[str, Any]) -> DirectoryOptions:
    where = "spec.source.directory"
    return DirectoryOptions(
        recurse=_bool(spec, "recurse", where),
        include=_string(spec, "include", where),
        exclude=_string(spec, "exclude", where),
    )


def _replicas(spec: Mapping[str, Any], where: str) -> tuple[tuple[str, int], ...]:
    replicas: list[tuple[str, int]] = []
    for index, item in enumerate(spec.get("replicas") or []):
        entry = _mapping(item, f"{where}.replicas[{index}]")
        count = entry.get("count")
        if not isinstance(entry.get("name"), str) or not str(count).isdigit():
            raise ValidationError(
                "needs a name and a whole-number count", obj=f"{where}.replicas[{index}]"
            )
        replicas.append((entry["name"], int(str(count))))
    return tuple(replicas)


def _kustomize(spec: Mapping[str, Any]) -> KustomizeOptions:
    where = "spec.source.kustomize"
    replicas = _replicas(spec, where)
    return KustomizeOptions(
        images=_strings(spec, "images", where),
        name_prefix=_string(spec, "namePrefix", where),
        name_suffix=_string(spec, "nameSuffix", where),
        common_labels=_string_map(spec, "commonLabels", where),
        common_annotations=_string_map(spec, "commonAnnotations", where),
        force_common_labels=_bool(spec, "forceCommonLabels", where),
        force_common_annotations=_bool(spec, "forceCommonAnnotations", where),
        label_without_selector=_bool(spec, "labelWithoutSelector", where),
        namespace=_string(spec, "namespace", where),
        replicas=replicas,
    )


def _helm(spec: Mapping[str, Any]) -> HelmOptions:
    where = "spec.source.helm"
    values = _string(spec, "values", where)
    values_object = spec.get("valuesObject")
    if values_object is not None:
        # Argo CD: valuesObject wins over values. JSON is YAML, and keeps key order.
        values = json.dumps(_mapping(values_object, f"{where}.valuesObject"))
    parameters = []
    for index, item in enumerate(spec.get("parameters") or []):
        entry = _mapping(item, f"{where}.parameters[{index}]")
        name = _string(entry, "name", f"{where}.parameters[{index}]")
        if not name:
            raise ValidationError("needs a name", obj=f"{where}.parameters[{index}]")
        parameters.append(
            HelmParameter(
                name=name,
                value=_string(entry, "value", f"{where}.parameters[{index}]"),
                force_string=_bool(entry, "forceString", f"{where}.parameters[{index}]"),
            )
        )
    file_parameters = []
    for index, item in enumerate(spec.get("fileParameters") or []):
        entry = _mapping(item, f"{where}.fileParameters[{index}]")
        name = _string(entry, "name", f"{where}.fileParameters[{index}]")
        path = _string(entry, "path", f"{where}.fileParameters[{index}]")
        if not name or not path:
            raise ValidationError("needs a name and a path", obj=f"{where}.fileParameters[{index}]")
        file_parameters.append(HelmFileParameter(name=name, path=path))
    return HelmOptions(
        value_files=_strings(spec, "valueFiles", where),
        values=values,
        parameters=tuple(parameters),
        file_parameters=tuple(file_parameters),
        release_name=_string(spec, "releaseName", where),
        namespace=_string(spec, "namespace", where),
        skip_crds=_bool(spec, "skipCrds", where),
        ignore_missing_value_files=_bool(spec, "ignoreMissingValueFiles", where),
        kube_version=_string(spec, "kubeVersion", where),
        api_versions=_strings(spec, "apiVersions", where),
    )


def _from_model(root: Path, source: Source, *, app_name: str, namespace: str) -> RenderRequest:
    """The request for a validated ``Source``: its typed fields, read as they are."""
    if source.chart:
        raise ValidationError(_CHART_REFUSED, obj="spec.source.chart")
    given = [name for name in ("directory", "kustomize", "helm") if getattr(source, name)]
    directory, kustomize, helm = source.directory, source.kustomize, source.helm
    return RenderRequest(
        root=root,
        path=source.path or ".",
        source_type=SourceType[given[0].upper()] if given else None,
        directory=DirectoryOptions(
            recurse=directory.recurse,
            include=directory.include or "",
            exclude=directory.exclude or "",
        )
        if directory is not None
        else DirectoryOptions(),
        kustomize=_kustomize_model(kustomize) if kustomize is not None else KustomizeOptions(),
        helm=_helm_model(helm) if helm is not None else HelmOptions(),
        app_name=app_name,
        namespace=namespace,
    )


def _kustomize_model(kustomize: Kustomize) -> KustomizeOptions:
    where = "spec.source.kustomize"
    extra: Mapping[str, Any] = kustomize.model_extra or {}  # fields the model keeps as given
    return KustomizeOptions(
        images=tuple(kustomize.images or ()),
        name_prefix=kustomize.name_prefix or "",
        name_suffix=kustomize.name_suffix or "",
        common_labels=dict(kustomize.common_labels or {}),
        common_annotations=dict(kustomize.common_annotations or {}),
        force_common_labels=bool(kustomize.force_common_labels),
        force_common_annotations=bool(kustomize.force_common_annotations),
        label_without_selector=_bool(extra, "labelWithoutSelector", where),
        namespace=kustomize.namespace or "",
        replicas=_replicas(extra, where),
    )


def _helm_model(helm: Helm) -> HelmOptions:
    where = "spec.source.helm"
    values = helm.values or ""
    if helm.values_object is not None:  # Argo CD: valuesObject wins over values
        values = json.dumps(helm.values_object)
    for index, parameter in enumerate(helm.parameters or []):
        if not parameter.name:
            raise ValidationError("needs a name", obj=f"{where}.parameters[{index}]")
    for index, file_parameter in enumerate(helm.file_parameters or []):
        if not file_parameter.name or not file_parameter.path:
            raise ValidationError("needs a name and a path", obj=f"{where}.fileParameters[{index}]")
    return HelmOptions(
        value_files=tuple(helm.value_files or ()),
        values=values,
        parameters=tuple(
            HelmParameter(name=p.name, value=p.value, force_string=p.force_string)
            for p in helm.parameters or []
        ),
        file_parameters=tuple(
            HelmFileParameter(name=p.name, path=p.path) for p in helm.file_parameters or []
        ),
        release_name=helm.release_name or "",
        namespace=helm.namespace or "",
        skip_crds=bool(helm.skip_crds),
        ignore_missing_value_files=bool(helm.ignore_missing_value_files),
        kube_version=helm.kube_version or "",
        api_versions=tuple(helm.api_versions or ()),
    )
