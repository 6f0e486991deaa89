"""Loading Application and AppProject manifests: validate at the edge, warn, never drop.

Every manifest that comes from outside (a file, ``conveyor apply -f``, an API body) goes
through here. A valid manifest comes back as a model plus warnings: one per field Conveyor
does not know or does not act on, named by its path, so a typo or an unsupported Argo CD field
is visible instead of silently ignored (the field itself is kept and written back by
``to_manifest()``). An invalid manifest raises one ``ManifestError`` listing every problem,
each naming the field in Argo CD's terms and saying what to do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic
from pydantic import BaseModel

from conveyor.errors import ValidationError
from conveyor.model.application import Application
from conveyor.model.appproject import AppProject
from conveyor.model.manifest import API_VERSION, ArgoModel, Manifest
from conveyor.model.messages import COMMON_HINTS, FIELD_HINTS, describe_errors, type_name
from conveyor.model.objects import Object
from conveyor.model.yamldocs import RawDocument, split_documents

M = TypeVar("M", bound=Manifest)

KINDS: dict[str, type[Application] | type[AppProject]] = {
    "Application": Application,
    "AppProject": AppProject,
}


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """A validated manifest and what a person should know about it."""

    value: M
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoadedDocument:
    """One document of a YAML stream, loaded.

    ``object`` is an Application or AppProject model for those kinds, the plain mapping for
    any other kind (rendered resources stay unstructured), or None when ``error`` is set.
    """

    source: str  # where the text came from, e.g. a file name
    index: int  # 0-based position among the stream's non-empty documents
    line: int  # 1-based line where the document starts
    kind: str | None
    object: Application | AppProject | Object | None
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The document loaded."""
        return self.error is None


class ManifestError(ValidationError):
    """A manifest is invalid; ``problems`` holds one actionable sentence per field."""

    def __init__(self, problems: list[str], *, obj: str | None = None) -> None:
        lines = "\n".join(f"  - {p}" for p in problems)
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"invalid manifest, {count}:\n{lines}", obj=obj)
        self.problems = tuple(problems)


def load_documents(text: str, source_name: str = "<input>") -> list[LoadedDocument]:
    """Every document of a multi-document YAML stream; a bad one carries its error."""
    return [_load_document(raw, source_name) for raw in split_documents(text)]


def _load_document(raw: RawDocument, source: str) -> LoadedDocument:
    where = f"{source}: document {raw.index + 1} (line {raw.line})"
    data = raw.data
    kind = data.get("kind") if isinstance(data, dict) else None
    kind = kind if isinstance(kind, str) and kind else None

    def failed(error: str) -> LoadedDocument:
        return LoadedDocument(source, raw.index, raw.line, kind, None, error=f"{where}: {error}")

    if raw.error:
        return failed(raw.error)
    if not isinstance(data, dict):
        return failed(f"expected a mapping (a Kubernetes object), got {type_name(data)}")
    if kind is None:
        return failed("kind: field required (e.g. kind: Application)")
    if kind not in KINDS:
        return LoadedDocument(source, raw.index, raw.line, kind, data)
    try:
        loaded = manifest_from_dict(data)
    except ManifestError as err:
        return failed(str(err))
    return LoadedDocument(source, raw.index, raw.line, kind, loaded.value, loaded.warnings)


def application_from_dict(obj: Mapping[str, Any]) -> Loaded[Application]:
    """Validate an Application manifest; raises ManifestError naming every bad field."""
    return _load(obj, Application)


def project_from_dict(obj: Mapping[str, Any]) -> Loaded[AppProject]:
    """Validate an AppProject manifest; raises ManifestError naming every bad field."""
    return _load(obj, AppProject)


def manifest_from_dict(obj: Mapping[str, Any]) -> Loaded[Application] | Loaded[AppProject]:
    """Validate an Application or AppProject, chosen by ``kind``."""
    if not isinstance(obj, Mapping):
        raise ManifestError([f"expected a mapping (a YAML document), got {type_name(obj)}"])
    kind = obj.get("kind")
    if kind == "Application":
        return application_from_dict(obj)
    if kind == "AppProject":
        return project_from_dict(obj)
    raise ManifestError(
        [f"kind: '{kind}' is not Application or AppProject: set kind to one of those"],
        obj=_identity(obj),
    )


def load_as(obj: Mapping[str, Any], model: type[M]) -> Loaded[M]:
    """Validate ``obj`` as ``model`` (any Manifest kind, e.g. an AnalysisTemplate); raises
    ManifestError naming every bad field."""
    return _load(obj, model)


def _load(obj: Mapping[str, Any], model: type[M]) -> Loaded[M]:
    kind = model.model_fields["kind"].default
    if not isinstance(obj, Mapping):
        raise ManifestError([f"expected a mapping (a YAML document), got {type_name(obj)}"])
    problems = []
    if "apiVersion" not in obj:
        problems.append(f"apiVersion: field required (write apiVersion: {API_VERSION})")
    elif obj.get("apiVersion") != API_VERSION:
        problems.append(
            f"apiVersion: '{obj.get('apiVersion')}' is not {API_VERSION}:"
            f" an {kind} needs apiVersion: {API_VERSION}"
        )
    if obj.get("kind") != kind:
        problems.append(f"kind: '{obj.get('kind')}' is not {kind}")
    try:
        value = model.model_validate(dict(obj))
    except pydantic.ValidationError as err:
        hints = FIELD_HINTS if kind == "Application" else COMMON_HINTS
        problems.extend(describe_errors(err.errors(), hints))
        raise ManifestError(problems, obj=_identity(obj)) from None
    if problems:
        raise ManifestError(problems, obj=_identity(obj))
    return Loaded(value, tuple(_warnings(value, "")))


def _warnings(model: BaseModel, path: str) -> Iterator[str]:
    """Unknown and unsupported fields, then doubtful values, depth first, by Argo CD name."""
    if isinstance(model, ArgoModel):
        known = [f.alias or name for name, f in type(model).model_fields.items()]
        for key in model.model_extra or {}:
            if key in model.quiet_fields:
                continue
            where = f"{path}.{key}" if path else key
            note = model.unsupported_fields.get(key)
            if note is not None:
                yield f"{where}: not supported by Conveyor yet ({note}), kept as is"
                continue
            hint = _did_you_mean(key, known)
            also = f" (did you mean {hint}?)" if hint else ""
            yield f"{where}: unknown field, kept as is{also}"
        for rel, message in model.semantic_warnings():
            yield f"{path}.{rel}: {message}" if path else f"{rel}: {message}"
    for name, info in type(model).model_fields.items():
        child = getattr(model, name)
        child_path = f"{path}.{info.alias or name}" if path else (info.alias or name)
        yield from _walk(child, child_path)


def _did_you_mean(key: str, known: list[str]) -> str | None:
    """The known field ``key`` was probably meant to be: same letters in another case or
    spelling (``repo_url`` for ``repoURL``), or a close match."""
    by_letters = {k.lower(): k for k in known}
    squashed = key.lower().replace("_", "").replace("-", "")
    if squashed in by_letters:
        return by_letters[squashed]
    close = difflib.get_close_matches(key.lower(), list(by_letters), n=1)
    return by_letters[close[0]] if close else None


def _walk(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, BaseModel):
        yield from _warnings(value, path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def _identity(obj: Any) -> str | None:
    if not isinstance(obj, Mapping):
        return None
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    return f"{obj.get('kind') or '?'}/{name or '?'}"
