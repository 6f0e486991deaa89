"""The base of Conveyor's own kinds: Argo CD's field names, strict types, nothing dropped.

A manifest written for Argo CD must load into Conveyor unchanged and be written back
unchanged. So every model here:

- reads Argo CD's camelCase names only (``repoURL``, not ``repo_url``: a snake_case key is an
  unknown field, reported with a "did you mean" hint, as the Kubernetes API would reject it);
- is strict, as the Kubernetes API server is (``prune: "true"`` is an error, not a coercion),
  so that what was read is exactly what is written back;
- keeps every field it does not know (``extra="allow"``); loading reports them as warnings;
- renders back with ``to_manifest()``: only the fields that were given, in Argo CD's names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from conveyor.model.objects import SERVER_METADATA

API_VERSION = "argoproj.io/v1alpha1"

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class ArgoModel(BaseModel):
    """Base of every manifest model: camelCase names, strict, unknown fields kept, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        extra="allow",
        frozen=True,
        strict=True,
    )

    # Fields Argo CD defines that Conveyor keeps but does not act on yet: key -> why.
    # Loading reports these with the note instead of calling them unknown.
    unsupported_fields: ClassVar[Mapping[str, str]] = {}
    # Extra fields that are expected and need no warning at all.
    quiet_fields: ClassVar[frozenset[str]] = frozenset()

    def semantic_warnings(self) -> list[tuple[str, str]]:
        """Warnings about valid but doubtful values, as (relative path, message)."""
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _given_by_alias_only(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """A snake_case key (``target_revision``) is an unknown field, not the field itself:
        pydantic marks the field as set when an extra key has its Python name, which would
        write ``targetRevision: null`` back; undo that."""
        model = handler(data)
        if isinstance(data, dict) and isinstance(model, ArgoModel):
            for name, info in type(model).model_fields.items():
                if info.alias and info.alias != name and name in data and info.alias not in data:
                    model.__pydantic_fields_set__.discard(name)
        return model


class ObjectMeta(ArgoModel):
    """``metadata``: the name and labels a person sets; server-filled fields are kept quietly."""

    quiet_fields = SERVER_METADATA | {"generateName"}

    name: str
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    finalizers: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
            raise ValueError(
                f"'{value}' is not a valid name: use lower-case letters, digits, '-' and '.',"
                " starting and ending with a letter or digit (at most 253 characters)"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 63 or not _DNS_LABEL.match(value)):
            raise ValueError(
                f"'{value}' is not a valid namespace: use lower-case letters, digits and '-'"
                " (at most 63 characters)"
            )
        return value


class Manifest(ArgoModel):
    """A whole document: apiVersion, kind, metadata and a spec; renders back to a manifest."""

    api_version: str = API_VERSION
    kind: str
    metadata: ObjectMeta

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return self.metadata.name

    def to_manifest(self) -> dict[str, Any]:
        """The manifest as it was given: Argo CD's names, unknown fields included.

        Only fields that were set are written (explicit nulls included), so loading a
        manifest and writing it back gives the same document.
        """
        body = self.model_dump(by_alias=True, exclude_unset=True)
        body.pop("apiVersion", None)
        body.pop("kind", None)
        return {"apiVersion": self.api_version, "kind": self.kind, **body}
