"""``spec.source``: where an Application's manifests come from and how they are rendered.

Plain YAML (``directory``), Kustomize (``kustomize``) or Helm (``helm``), with Argo CD's field
names. Paths are checked here, at the edge, so that no later stage can be asked to read
outside the repository.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from conveyor.model.manifest import ArgoModel


class Directory(ArgoModel):
    """``spec.source.directory``: plain YAML, optionally recursive, filtered by globs."""

    unsupported_fields = {"jsonnet": "Jsonnet is not rendered by Conveyor"}

    recurse: bool = False
    include: str | None = None
    exclude: str | None = None


class KustomizeReplica(ArgoModel):
    """One ``kustomize edit set replicas NAME=COUNT``."""

    name: str
    count: int | str


class Kustomize(ArgoModel):
    """``spec.source.kustomize``: overrides applied on top of the kustomization."""

    unsupported_fields = {
        "version": "Conveyor runs its bundled kustomize",
        "patches": "patches in the Application are not applied yet; put them in Git",
        "components": "components in the Application are not applied yet; put them in Git",
    }

    images: list[str] | None = None
    name_prefix: str | None = None
    name_suffix: str | None = None
    common_labels: dict[str, str] | None = None
    common_annotations: dict[str, str] | None = None
    force_common_labels: bool | None = None
    force_common_annotations: bool | None = None
    label_without_selector: bool | None = None
    namespace: str | None = None
    replicas: list[KustomizeReplica] | None = None


class HelmParameter(ArgoModel):
    """One ``--set name=value`` for ``helm template``."""

    name: str
    value: str = ""
    force_string: bool = False


class HelmFileParameter(ArgoModel):
    """One ``--set-file name=path``; the path is read from the repository."""

    name: str
    path: str


class Helm(ArgoModel):
    """``spec.source.helm``: values and parameters for ``helm template``."""

    unsupported_fields = {
        "version": "Conveyor runs the helm on its PATH",
        "passCredentials": "repository credentials are not passed to helm",
    }

    value_files: list[str] | None = None
    values: str | None = None
    values_object: dict[str, Any] | None = None
    parameters: list[HelmParameter] | None = None
    file_parameters: list[HelmFileParameter] | None = None
    release_name: str | None = None
    namespace: str | None = None
    kube_version: str | None = None
    api_versions: list[str] | None = None
    ignore_missing_value_files: bool | None = None
    skip_crds: bool | None = None

    @field_validator("value_files")
    @classmethod
    def _check_value_files(cls, value: list[str] | None) -> list[str] | None:
        for i, path in enumerate(value or []):
            if "://" not in path:
                _check_relative(path, f"[{i}] ")
        return value


class Source(ArgoModel):
    """``spec.source``: a Git repository, a revision in it and a path to render."""

    unsupported_fields = {
        "plugin": "config management plugins are not run by Conveyor",
        "ref": "only multi-source applications use ref",
    }

    repo_url: str = Field(alias="repoURL")
    target_revision: str | None = None
    path: str | None = None
    chart: str | None = None
    directory: Directory | None = None
    kustomize: Kustomize | None = None
    helm: Helm | None = None

    @field_validator("repo_url")
    @classmethod
    def _check_repo(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                "is empty: set the Git repository URL, e.g. https://github.com/org/repo"
            )
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str | None) -> str | None:
        if value is not None:
            _check_relative(value, "")
        return value

    @model_validator(mode="after")
    def _one_renderer(self) -> Source:
        kinds = [k for k in ("directory", "helm", "kustomize") if getattr(self, k) is not None]
        if len(kinds) > 1:
            raise ValueError(
                f"set only one of directory, helm or kustomize (found {', '.join(kinds)})"
            )
        return self

    @property
    def revision(self) -> str:
        """The revision to resolve; Argo CD reads an empty targetRevision as HEAD."""
        return self.target_revision or "HEAD"


def _check_relative(path: str, prefix: str) -> None:
    """Reject paths that leave the repository (absolute, or through ``..``)."""
    if path.startswith("/") or ".." in path.replace("\\", "/").split("/"):
        raise ValueError(
            f"{prefix}'{path}' leaves the repository: use a path relative to the repository root"
        )
