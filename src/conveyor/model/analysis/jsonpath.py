"""The part of Kubernetes' JSONPath that the web provider's ``jsonPath`` uses.

Argo reads ``jsonPath: "{$.data.ok}"`` with Kubernetes' JSONPath (braces around the path,
``$`` for the root) and takes the first value it finds. This reads ``{$}``, ``{.a.b}``,
``{$.a['b.c'][0]}`` and ``[*]``, and says so when a path uses anything else (filters,
recursive descent, ranges).
"""

from __future__ import annotations

import re
from typing import Any

_STEP = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-$]+)"""
    r"""|\[(?P<index>-?\d+)\]"""
    r"""|\[(?P<quote>['"])(?P<key>(?:(?!(?P=quote)).)*)(?P=quote)\]"""
    r"""|\[(?P<all>\*)\]"""
)


class JSONPathError(ValueError):
    """A path that cannot be read or finds nothing."""


def parse(path: str) -> list[re.Match[str]]:
    """The steps of ``path``; raises JSONPathError naming what is not supported."""
    text = path.strip() or "{$}"
    if not (text.startswith("{") and text.endswith("}")):
        raise JSONPathError(f"'{path}' is not a JSONPath template: write it as {{$.field}}")
    expr = text[1:-1].strip()
    expr = expr[1:] if expr.startswith("$") else expr
    steps = []
    pos = 0
    while pos < len(expr):
        step = _STEP.match(expr, pos)
        if step is None or expr.startswith("..", pos):
            raise JSONPathError(f"'{path}': '{expr[pos:]}' is not supported by Conveyor")
        pos = step.end()
        steps.append(step)
    return steps


def find_first(path: str, data: Any) -> Any:
    """The first value ``path`` selects in ``data``; raises JSONPathError when none."""
    values = [data]
    for step in parse(path):
        values = [v for value in values for v in _apply(step, value)]
    if not values:
        raise JSONPathError(f"'{path}' finds no value in the response")
    return values[0]


def _apply(step: re.Match[str], value: Any) -> list[Any]:
    key = step.group("field") or step.group("key")
    if key is not None:
        return [value[key]] if isinstance(value, dict) and key in value else []
    if step.group("index") is not None:
        index = int(step.group("index"))
        ok = isinstance(value, list) and -len(value) <= index < len(value)
        return [value[index]] if ok else []
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else []
