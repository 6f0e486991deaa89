"""Admission of Applications and AppProjects: validated at the edge, checked against projects.

Nothing reaches the store or the target before it passes here. Manifests are validated by
``conveyor.model`` (errors name the field; unknown fields are kept and come back as
warnings); an application is then checked against its project: the repository and the
destination must be permitted, or it is refused with the project's reason.
"""

from __future__ import annotations

from typing import Any

from conveyor.errors import NotFoundError
from conveyor.model.application import Application
from conveyor.model.appproject import AppProject, ProjectDenied, default_project
from conveyor.model.loading import application_from_dict, project_from_dict
from conveyor.model.source import Source
from conveyor.source import validate_path, validate_repo_url, validate_revision

DEFAULT_PROJECT = "default"


def load_application(manifest: dict[str, Any]) -> tuple[Application, list[str]]:
    """The validated, typed Application (unknown fields kept) and its warnings."""
    loaded = application_from_dict(manifest)
    return loaded.value, list(loaded.warnings)


def load_project(manifest: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    loaded = project_from_dict(manifest)
    return loaded.value.to_manifest(), list(loaded.warnings)


def project_or_default(name: str, manifest: dict[str, Any] | None) -> AppProject:
    """The project named ``name``: stored, or the built-in ``default`` that allows all."""
    if manifest is not None:
        return project_from_dict(manifest).value
    if name == DEFAULT_PROJECT:
        return default_project()
    raise NotFoundError(
        f"project {name!r} does not exist: create it (conveyor apply -f project.yaml) "
        "or use the default project"
    )


def check_source(source: Source) -> None:
    """Refuse repo URLs, revisions and paths that could inject options or leave the repo."""
    validate_repo_url(source.repo_url)
    validate_revision(source.revision)
    validate_path(source.path or ".")


def check_project(project: AppProject, app: Application, source: Source | None = None) -> None:
    """Raise ProjectDenied when the project does not permit the app's repo (or that of
    ``source``, a rollback's) or its destination."""
    dest = app.spec.destination
    for verdict in (
        project.permits_source((source or app.spec.source).repo_url),
        project.permits_destination(dest.namespace, server=dest.server, name=dest.name),
    ):
        if not verdict:
            raise ProjectDenied(verdict.reason, obj=f"Application/{app.name}")
