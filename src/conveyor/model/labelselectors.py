"""Kubernetes label selectors as text (``-l`` of argocd and kubectl), parsed and matched.

``app list -l``, ``app sync -l`` and ``app wait -l`` select Applications by their labels with
the grammar Kubernetes documents: requirements joined by commas, each ``key``, ``!key``,
``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)`` or ``key notin (a,b)``. All
must hold. A malformed selector is a ValidationError naming the part that does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.errors import ValidationError

MAX_SELECTOR = 4096

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^()]*)\)\s*$")
_EQUALITY = re.compile(rf"^\s*({_KEY})\s*(==|!=|=)\s*({_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    """One ``key op values`` term of a selector."""

    key: str
    op: str  # exists, !exists, =, !=, in, notin
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.op:
            case "exists":
                return present
            case "!exists":
                return not present
            case "=" | "in":
                return present and value in self.values
            case _:  # != and notin hold when the label is absent, as in Kubernetes
                return not present or value not in self.values


@dataclass(frozen=True)
class LabelSelector:
    """A parsed selector: every requirement must hold (the empty one selects everything)."""

    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        return all(r.matches(labels or {}) for r in self.requirements)


def _split(text: str) -> list[str]:
    """Split on the commas outside ``( )``."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_selector(text: str) -> LabelSelector:
    """The selector ``text`` means; ValidationError for one that does not parse."""
    if len(text) > MAX_SELECTOR:
        raise ValidationError(f"label selector is longer than {MAX_SELECTOR} characters")
    if not text.strip():
        return LabelSelector(())
    requirements = []
    for part in _split(text):
        if found := _SET.match(part):
            values = [v.strip() for v in found.group(4).split(",") if v.strip()]
            if not values or not all(_VALUE_RE.match(v) for v in values):
                raise ValidationError(f"label selector {part.strip()!r}: bad value list")
            requirements.append(Requirement(found.group(1), found.group(3), frozenset(values)))
        elif found := _EQUALITY.match(part):
            op = "=" if found.group(3) in ("=", "==") else "!="
            requirements.append(Requirement(found.group(1), op, frozenset([found.group(4)])))
        elif found := _EXISTS.match(part):
            op = "!exists" if found.group(1) else "exists"
            requirements.append(Requirement(found.group(2), op))
        else:
            raise ValidationError(
                f"label selector {part.strip()!r} does not parse (expected key, !key, "
                "key=value, key!=value, key in (a,b) or key notin (a,b))"
            )
    return LabelSelector(tuple(requirements))
