"""Turn YAML and JSON text into Kubernetes objects, the way Kubernetes itself reads them.

YAML is read by the one loader for text from outside (``conveyor.model.yamldocs``): JSON types
only, aliases expanded into independent copies within a budget, a safe loader. This module adds
Argo CD's rules on top: which files are manifests, ``List`` kinds, and errors that name the
file and the 1-based line and never quote the offending text, which could be part of a Secret.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conveyor.model import yamldocs
from conveyor.model.objects import Object
from conveyor.render.errors import RenderError


@dataclass(frozen=True)
class Parsed:
    """What a file holds: its objects, or why it does not look like manifests at all."""

    objects: list[Object]
    not_manifest: str | None = None
    """Set when the file should be skipped (Argo CD ignores YAML that is not Kubernetes')."""


def looks_like_manifest(text: str, *, json_keys: bool = False) -> bool:
    """Argo CD's test for whether a file that failed to load was meant to be a manifest."""
    keys = (
        ('"apiVersion"', '"kind"', '"metadata"')
        if json_keys
        else ("apiVersion:", "kind:", "metadata:")
    )
    return all(key in text for key in keys)


def load_yaml_documents(text: str, source: str) -> Iterator[Any]:
    """Each document of ``text``; RenderError with the line for a syntax error."""
    try:
        yield from yamldocs.load_stream(text)
    except yamldocs.YamlError as err:
        raise RenderError(err.message, file=source, line=err.line) from err


def parse_yaml(text: str, source: str) -> Parsed:
    """The objects of a YAML file, with Argo CD's rule for files that are not manifests.

    A file whose first document is not a Kubernetes object (and has no kind), or that fails
    to parse before yielding any object, is skipped unless it contains ``apiVersion:``,
    ``kind:`` and ``metadata:``: then the user meant a manifest and gets the error.
    """
    objects: list[Object] = []
    loaded = load_yaml_documents(text, source)
    for index in itertools.count(1):
        try:
            document = next(loaded)
        except StopIteration:
            break
        except RenderError as err:  # the YAML itself is broken
            if not objects and not looks_like_manifest(text):
                return Parsed([], err.message)
            raise
        if document is None:
            continue
        problem = object_problem(document)
        if problem is not None:
            if not objects and not _has_kind(document) and not looks_like_manifest(text):
                return Parsed([], f"document {index} {problem}")
            raise RenderError(f"document {index} {problem}", file=source)
        objects.extend(flatten(document, source))
    return Parsed(objects)


def parse_json(text: str, source: str) -> Parsed:
    """The object of a JSON file (one object, or a ``List``), with the same skip rule."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        if not looks_like_manifest(text, json_keys=True):
            return Parsed([], f"is not valid JSON ({err.msg})")
        raise RenderError(f"JSON syntax error: {err.msg}", file=source, line=err.lineno) from err
    problem = object_problem(document)
    if problem is not None:
        if not _has_kind(document) and not looks_like_manifest(text, json_keys=True):
            return Parsed([], problem)
        raise RenderError(problem, file=source)
    return Parsed(flatten(document, source))


def parse_stream(text: str, source: str) -> list[Object]:
    """Objects from a tool's output (kustomize, helm): every document must be an object."""
    objects: list[Object] = []
    for index, document in enumerate(load_yaml_documents(text, source), start=1):
        if document is None:
            continue
        problem = object_problem(document)
        if problem is not None:
            raise RenderError(f"document {index} {problem}", file=source)
        objects.extend(flatten(document, source))
    return objects


def object_problem(document: Any) -> str | None:
    """Why ``document`` is not a Kubernetes object, or None when it is one."""
    if not isinstance(document, dict):
        return f"is a {_yaml_type(document)}, not a Kubernetes object (a mapping with kind)"
    kind = document.get("kind")
    if not isinstance(kind, str) or not kind:
        return "has no kind: every Kubernetes object needs apiVersion, kind and metadata"
    api_version = document.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        return f"({kind}) has no apiVersion"
    return None


def flatten(obj: Object, source: str) -> list[Object]:
    """``obj`` itself, or the items of a ``List`` kind (``List``, ``ConfigMapList`` …)."""
    items = obj.get("items")
    if not (obj["kind"].endswith("List") and isinstance(items, list)):
        return [obj]
    for position, item in enumerate(items):
        problem = object_problem(item)
        if problem is not None:
            raise RenderError(f"{obj['kind']} item {position} {problem}", file=source)
    return items


def _has_kind(document: Any) -> bool:
    """A mapping with a kind was meant as an object, whatever else is wrong with it."""
    return isinstance(document, dict) and bool(document.get("kind"))


def _yaml_type(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return type(value).__name__
