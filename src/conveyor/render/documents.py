"""Turn YAML and JSON text into Kubernetes objects, the way Kubernetes itself reads them.

Kubernetes converts YAML to JSON before it reads an object, so the loader yields JSON types
only: timestamps stay strings (``2024-01-01`` in a ConfigMap is text, not a date), ``!!binary``
stays its base64 text (as Secret ``data`` expects), ``!!set`` becomes a mapping to nulls, and
mapping keys that YAML reads as numbers or booleans become strings. Anchors and aliases are
expanded into independent copies, so that changing one object never changes another, with a
budget that stops an alias bomb ("billion laughs") before it eats the memory.

The loader is PyYAML's safe loader (the C parser when libyaml is present): no tag can build a
Python object. Errors name the file and the 1-based line and never quote the offending text,
which could be part of a Secret.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from conveyor.model.objects import Object
from conveyor.render.errors import RenderError

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_NODES_PER_DOCUMENT = 1_000_000
"""Values one document may expand to through aliases; far above any real manifest."""


class _KubeLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that builds JSON types only (see the module docstring)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if all(type(key) is str for key in mapping):
            return mapping
        return {_json_key(key): value for key, value in mapping.items()}

    def construct_yaml_binary_text(self, node: yaml.ScalarNode) -> str:
        return "".join(str(self.construct_scalar(node)).split())

    def construct_yaml_set_as_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))


# Kubernetes reads timestamps as strings, and '=' alone would resolve to the "value" tag, which
# no safe constructor builds.
_DROPPED_RESOLVERS = frozenset({"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"})
_KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_RESOLVERS]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_KubeLoader.add_constructor("tag:yaml.org,2002:timestamp", _KubeLoader.construct_yaml_str)
_KubeLoader.add_constructor("tag:yaml.org,2002:binary", _KubeLoader.construct_yaml_binary_text)
_KubeLoader.add_constructor("tag:yaml.org,2002:set", _KubeLoader.construct_yaml_set_as_map)


def _json_key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


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
    has_aliases = "&" in text and "*" in text
    try:
        for document in yaml.load_all(text, Loader=_KubeLoader):  # a safe loader (see above)
            yield _expand_aliases(document, source) if has_aliases else document
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "is not valid YAML"
        context = f" ({err.context})" if err.context and err.problem else ""
        raise RenderError(
            f"YAML syntax error: {problem}{context}",
            file=source,
            line=mark.line + 1 if mark is not None else None,
        ) from err
    except yaml.YAMLError as err:
        raise RenderError(f"YAML error: {err}", file=source) from err


def _expand_aliases(document: Any, source: str) -> Any:
    """A copy in which no value is shared, refusing documents that expand too far."""
    budget = [MAX_NODES_PER_DOCUMENT]

    def copy(value: Any) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise RenderError(
                f"a document expands to more than {MAX_NODES_PER_DOCUMENT:,} values through "
                "YAML aliases: remove the alias chain",
                file=source,
            )
        if type(value) is dict:
            return {key: copy(item) for key, item in value.items()}
        if type(value) is list:
            return [copy(item) for item in value]
        return value

    return copy(document)


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
