"""The Application kind, with Argo CD's ``argoproj.io/v1alpha1`` field names.

An Application says: render this source from Git and keep that destination matching it. The
models here validate what cannot work, with a message naming the field in Argo CD's terms;
``conveyor.model.loading`` turns a manifest into these models and reports unknown fields.

Two choices differ slightly from Argo CD and are deliberate:

- ``spec.project`` may be left out: Argo CD's code reads an empty project as ``default`` (its
  CRD schema requires the field); Conveyor does the same and warns, so a manifest that works
  here also works there once the warning is fixed.
- ``spec.destination.namespace`` is required: it is where namespaced resources without a
  namespace of their own go, and guessing one (Argo CD leaves them to the kubeconfig's
  default) is how resources end up in the wrong place.
"""

from __future__ import annotations

from typing import Any

import jq  # type: ignore[import-not-found]
from pydantic import Field, field_validator, model_validator

from conveyor.model.manifest import ArgoModel, Manifest
from conveyor.model.source import Source
from conveyor.model.status import ApplicationStatus
from conveyor.model.syncpolicy import BOOLEAN_DEFAULTS, Automated, SyncOptions, SyncPolicy

DEFAULT_PROJECT = "default"
DEFAULT_REVISION_HISTORY_LIMIT = 10


class Destination(ArgoModel):
    """``spec.destination``: a target (by server URL or by name) and a namespace."""

    server: str | None = None
    name: str | None = None
    namespace: str

    @model_validator(mode="after")
    def _server_or_name(self) -> Destination:
        if self.server and self.name:
            raise ValueError("set server or name, not both")
        if not self.server and not self.name:
            raise ValueError(
                "set server or name (server: https://kubernetes.default.svc is the default target)"
            )
        return self


class IgnoreDifference(ArgoModel):
    """One ``spec.ignoreDifferences`` entry: fields of matching resources not to compare."""

    unsupported_fields = {
        "managedFieldsManagers": "field managers are not tracked; use jsonPointers instead",
    }

    group: str = ""
    kind: str
    name: str | None = None
    namespace: str | None = None
    json_pointers: list[str] | None = None
    jq_path_expressions: list[str] | None = None

    @field_validator("json_pointers")
    @classmethod
    def _check_pointers(cls, value: list[str] | None) -> list[str] | None:
        for i, pointer in enumerate(value or []):
            problem = pointer_problem(pointer)
            if problem:
                raise ValueError(f"[{i}] '{pointer}' is not a JSON pointer: {problem}")
        return value

    @field_validator("jq_path_expressions")
    @classmethod
    def _check_jq(cls, value: list[str] | None) -> list[str] | None:
        for i, expression in enumerate(value or []):
            problem = jq_problem(expression)
            if problem:
                raise ValueError(f"[{i}] '{expression}' is not a jq path expression: {problem}")
        return value


def pointer_problem(pointer: str) -> str | None:
    """Why ``pointer`` is not a usable JSON pointer (RFC 6901), or None when it is."""
    if not pointer.startswith("/"):
        return "start it with '/', e.g. /spec/replicas"
    rest = pointer.replace("~0", "").replace("~1", "")
    if "~" in rest:
        return "'~' must be written ~0, and '/' inside a key ~1"
    return None


def jq_problem(expression: str) -> str | None:
    """Why ``expression`` cannot be used in ``del(...)``, or None when it can."""
    try:
        jq.compile(f"del({expression})")
    except ValueError as err:
        first = str(err).splitlines()[0].removeprefix("jq: error: ")
        return first.split(" at <top-level>")[0]
    return None


class ApplicationSpec(ArgoModel):
    """``spec``: what to deploy, where, and how to keep it in sync."""

    unsupported_fields = {
        "sources": "only spec.source is supported; entries of spec.sources are not rendered",
        "info": "informational only",
    }

    project: str = DEFAULT_PROJECT
    source: Source
    destination: Destination
    sync_policy: SyncPolicy | None = None
    ignore_differences: list[IgnoreDifference] | None = None
    revision_history_limit: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _single_source(cls, data: Any) -> Any:
        if isinstance(data, dict) and "source" not in data and "sources" in data:
            raise ValueError(
                "spec.sources is not supported yet: move the source to spec.source"
                " (one source per Application)"
            )
        return data

    def semantic_warnings(self) -> list[tuple[str, str]]:
        if "project" in self.model_fields_set:
            return []
        return [
            (
                "project",
                "not set, so the application belongs to the 'default' project;"
                " Argo CD requires the field: write project: default",
            )
        ]


class Application(Manifest):
    """An Argo CD Application: a source in Git deployed to a destination, kept in sync."""

    kind: str = "Application"
    spec: ApplicationSpec
    status: dict[str, Any] | None = None
    operation: dict[str, Any] | None = None

    @property
    def project(self) -> str:
        """The AppProject this application belongs to (empty means ``default``)."""
        return self.spec.project or DEFAULT_PROJECT

    @property
    def revision_history_limit(self) -> int:
        """How many history entries to keep (Argo CD's default is 10)."""
        limit = self.spec.revision_history_limit
        return DEFAULT_REVISION_HISTORY_LIMIT if limit is None else limit

    @property
    def automated(self) -> Automated | None:
        """The automated sync policy, or None for manual sync."""
        return self.spec.sync_policy.automated if self.spec.sync_policy else None

    @property
    def sync_options(self) -> SyncOptions:
        """``spec.syncPolicy.syncOptions``, parsed (Argo CD's defaults when none is given)."""
        return self.spec.sync_policy.options() if self.spec.sync_policy else SyncOptions()

    def sync_option(self, key: str) -> bool:
        """Whether boolean sync option ``key`` is on, e.g. ``sync_option("CreateNamespace")``.

        An option that is not given takes Argo CD's default (``Validate`` is on, the others off).
        """
        value = self.sync_option_value(key)
        if value is None:
            return BOOLEAN_DEFAULTS.get(key, False)
        return value == "true"

    def sync_option_value(self, key: str) -> str | None:
        """The raw value of sync option ``key``, e.g. ``"foreground"``; None when not given."""
        return self.spec.sync_policy.option_value(key) if self.spec.sync_policy else None

    def with_status(self, status: ApplicationStatus) -> Application:
        """This application carrying ``status`` in Argo CD's shape (for the API and CLI)."""
        return self.model_copy(update={"status": status.to_dict()})
