"""Validation errors as sentences a person can act on, naming the field in Argo CD's terms.

Pydantic reports ``('spec', 'destination', 'namespace')`` and ``type=missing``; a person
wants ``spec.destination.namespace: field required (the namespace that resources without
one are deployed to)``. This module does that translation and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# What a required field is for, said once where it is missing (for any kind).
COMMON_HINTS = {
    "apiVersion": "write apiVersion: argoproj.io/v1alpha1",
    "metadata": "give the manifest a metadata.name",
    "metadata.name": "the name of the object",
}

# An Application's own required fields.
FIELD_HINTS = {
    **COMMON_HINTS,
    "spec": "an Application needs spec.source and spec.destination",
    "spec.source": "the Git repository and path to deploy from",
    "spec.source.repoURL": "the Git repository to deploy from, e.g. https://github.com/org/repo",
    "spec.destination": "where to deploy: server (or name) and namespace",
    "spec.destination.namespace": "the namespace that resources without one are deployed to",
    "spec.ignoreDifferences[].kind": "the kind of resource whose fields are ignored",
}

_INDEX = re.compile(r"\[\d+\]")


def describe_errors(errors: Iterable[Any], hints: Mapping[str, str] = FIELD_HINTS) -> list[str]:
    """Each pydantic error (``ValidationError.errors()``) as one or more sentences; ``hints``
    say what a missing field is for (an Application's by default)."""
    out: list[str] = []
    for error in errors:
        out.extend(describe_error(error, hints))
    return out


def describe_error(error: Any, hints: Mapping[str, str] = FIELD_HINTS) -> list[str]:
    """One pydantic error as sentences (a validator may report several list items)."""
    path = field_path(error["loc"])
    kind = error["type"]
    got = type_name(error.get("input"))
    if kind == "missing":
        hint = hints.get(_INDEX.sub("[]", path))
        return [f"{path}: field required" + (f" ({hint})" if hint else "")]
    simple = {
        "string_type": f"expected a string, got {got}"
        + (": quote it in YAML" if got in ("a number", "true/false") else ""),
        "bool_type": f"expected true or false, got {got}",
        "int_type": f"expected a whole number, got {got}",
        "list_type": f"expected a list, got {got}",
        "dict_type": f"expected a mapping (key: value pairs), got {got}",
        "model_type": f"expected a mapping (key: value pairs), got {got}",
        "model_attributes_type": f"expected a mapping (key: value pairs), got {got}",
    }
    if kind in simple:
        return [_join(path, simple[kind])]
    ctx = error.get("ctx") or {}
    if kind in ("greater_than_equal", "greater_than"):
        return [
            _join(path, f"must be at least {ctx.get('ge', ctx.get('gt'))}, got {got_value(error)}")
        ]
    message = str(error["msg"]).removeprefix("Value error, ")
    return [_join(path, part) for part in message.split("; ")]


def _join(path: str, message: str) -> str:
    """``path`` and ``message``; a message about a list item (``[2] ...``) extends the path."""
    if not path:
        return message
    item = re.match(r"^(\[\d+\]) (.*)$", message, re.DOTALL)
    if item:
        return f"{path}{item.group(1)}: {item.group(2)}"
    return f"{path}: {message}"


def field_path(loc: Iterable[Any]) -> str:
    """``('spec', 'ignoreDifferences', 0, 'kind')`` -> ``spec.ignoreDifferences[0].kind``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def got_value(error: Any) -> str:
    """The offending input, short."""
    text = repr(error.get("input"))
    return text if len(text) <= 40 else text[:39] + "…"


def type_name(value: Any) -> str:
    """What a YAML value is, in YAML's words."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
