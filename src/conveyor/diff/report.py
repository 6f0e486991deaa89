"""Saying what differs: field paths with both values, and a unified YAML diff.

The reason a person reads first is one line: the first differing field, its live value and
the value Git wants (``spec.replicas: 2 → 5``: a sync changes 2 into 5). The unified diff is
the whole picture, built only when asked for: the engine compares every app on every pass,
and nobody reads most of those diffs.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from conveyor.diff.normalize import merge_key_of

ABSENT: Any = object()
"""Stands for a field that one side does not have."""

_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Difference:
    """One field that differs: where, what is live, what Git wants."""

    path: str
    live: Any
    desired: Any

    def __str__(self) -> str:
        return f"{self.path or '(object)'}: {show(self.live)} → {show(self.desired)}"


def differences(live: Any, desired: Any, path: str = "") -> Iterator[Difference]:
    """The differing leaves of two normalized objects, desired's order first."""
    if live.__class__ is dict and desired.__class__ is dict:
        for k, dv in desired.items():
            yield from differences(live.get(k, ABSENT), dv, _child(path, k))
        for k, lv in live.items():
            if k not in desired:
                yield Difference(_child(path, k), lv, ABSENT)
    elif live.__class__ is list and desired.__class__ is list and desired:
        yield from _list_differences(live, desired, path)
    elif live != desired:
        yield Difference(path, live, desired)


def _list_differences(live: list[Any], desired: list[Any], path: str) -> Iterator[Difference]:
    merge_key = merge_key_of(desired, live)
    if merge_key is None:
        if live == desired:
            return
        if all(x.__class__ not in (dict, list) for x in desired + live):
            yield Difference(path, live, desired)
            return
        for i in range(max(len(live), len(desired))):
            lv = live[i] if i < len(live) else ABSENT
            dv = desired[i] if i < len(desired) else ABSENT
            yield from differences(lv, dv, f"{path}[{i}]")
        return
    live_by = {item.get(merge_key): item for item in live}
    for item in desired:
        value = item[merge_key]
        yield from differences(live_by.pop(value, ABSENT), item, f"{path}[{merge_key}={value}]")
    for value, item in live_by.items():
        yield Difference(f"{path}[{merge_key}={value}]", item, ABSENT)


def summarize(found: list[Difference], total: int | None = None) -> str:
    """``spec.replicas: 2 → 5``, plus how many more differences there are."""
    if not found:
        return ""
    more = (total if total is not None else len(found)) - 1
    tail = "" if more <= 0 else f" (and {more} more difference{'s' if more > 1 else ''})"
    return f"{found[0]}{tail}"


def show(value: Any) -> str:
    """A value, short, as a person reads it in a one-line reason."""
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, str):
        text = (
            value if value and value.strip() == value and "\n" not in value else json.dumps(value)
        )
    elif isinstance(value, dict):
        return "{…}" if value else "{}"
    elif isinstance(value, list):
        return "[…]" if value else "[]"
    else:
        text = json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"


def unified_yaml(label: str, live: Any, desired: Any) -> str:
    """A unified diff from live to desired, both written as YAML with sorted keys."""
    before = _yaml_lines(live)
    after = _yaml_lines(desired)
    return "".join(
        difflib.unified_diff(before, after, fromfile=f"live/{label}", tofile=f"desired/{label}")
    )


def _yaml_lines(obj: Any) -> list[str]:
    if obj is None:
        return []
    text = yaml.dump(obj, Dumper=_Dumper, sort_keys=True, default_flow_style=False)
    return text.splitlines(keepends=True)


def _child(path: str, key: Any) -> str:
    name = str(key)
    if _PLAIN_KEY.match(name):
        return f"{path}.{name}" if path else name
    return f"{path}[{json.dumps(name)}]"
