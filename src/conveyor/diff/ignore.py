"""``ignoreDifferences``: fields of matching resources that are left out of the comparison.

A rule names resources (group and kind as globs, optionally a name and a namespace) and the
fields to ignore, as JSON pointers (``/spec/replicas``) or jq path expressions
(``.spec.template.spec.containers[] | select(.name == "app") | .image``). The fields are
removed from both desired and live before comparing, so a field another controller owns
(replicas under an HPA) never makes the application OutOfSync.

Rules are compiled once per application with ``compile_ignore_rules``; a malformed pointer or
jq expression is a ValidationError naming the rule. A pointer or expression that does not
apply to a given object (the path is absent, jq cannot iterate) leaves the object as it is,
as in Argo CD.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jq  # type: ignore[import-not-found]
import pydantic

from conveyor.errors import ValidationError
from conveyor.model.application import IgnoreDifference
from conveyor.model.globs import glob_match
from conveyor.model.messages import describe_errors
from conveyor.model.objects import Object, ObjectKey


@dataclass(frozen=True)
class IgnoreRule:
    """One compiled ignoreDifferences entry; a Normalizer (see ``conveyor.diff.normalize``)."""

    kind: str
    group: str = ""
    name: str = ""
    namespace: str = ""
    json_pointers: tuple[str, ...] = ()
    jq_path_expressions: tuple[str, ...] = ()
    _tokens: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    _programs: tuple[Any, ...] = field(init=False, repr=False, compare=False)
    _matched: dict[tuple[str, str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matched", {})
        object.__setattr__(self, "_tokens", tuple(_tokens(p) for p in self.json_pointers))
        object.__setattr__(
            self, "_programs", tuple(_compile_jq(e) for e in self.jq_path_expressions)
        )

    def matches(self, key: ObjectKey) -> bool:
        """Whether this rule applies to the object named by ``key``."""
        kinds = (key.group, key.kind)
        matched = self._matched.get(kinds)
        if matched is None:  # a handful of kinds per application: remember each answer
            matched = glob_match(self.kind, key.kind) and glob_match(self.group, key.group)
            self._matched[kinds] = matched
        return (
            matched
            and (not self.name or self.name == key.name)
            and (not self.namespace or self.namespace == key.namespace)
        )

    def normalize(self, key: ObjectKey, obj: Object) -> Object:
        """``obj`` without the ignored fields when the rule applies (``obj`` is not changed)."""
        if not self.matches(key):
            return obj
        out: Any = obj
        for tokens in self._tokens:
            out = remove_pointer(out, tokens)
        for program in self._programs:
            try:
                out = program.input_value(out).first()
            except (ValueError, TypeError, StopIteration):
                continue  # the expression does not apply to this object
        return out if isinstance(out, dict) else obj


def compile_ignore_rules(
    entries: Iterable[IgnoreDifference | Mapping[str, Any]] | None,
    *,
    where: str = "spec.ignoreDifferences",
) -> tuple[IgnoreRule, ...]:
    """Rules from an Application's ignoreDifferences (models or plain mappings).

    Raises ValidationError naming the entry and the field when one is malformed.
    """
    rules = []
    for i, entry in enumerate(entries or ()):
        if not isinstance(entry, IgnoreDifference):
            try:
                entry = IgnoreDifference.model_validate(dict(entry))
            except pydantic.ValidationError as err:
                problems = describe_errors(err.errors())
                raise ValidationError("; ".join(f"{where}[{i}].{p}" for p in problems)) from None
        try:
            rules.append(
                IgnoreRule(
                    kind=entry.kind,
                    group=entry.group,
                    name=entry.name or "",
                    namespace=entry.namespace or "",
                    json_pointers=tuple(entry.json_pointers or ()),
                    jq_path_expressions=tuple(entry.jq_path_expressions or ()),
                )
            )
        except ValueError as err:
            raise ValidationError(f"{where}[{i}]: {err}") from None
    return tuple(rules)


def remove_pointer(obj: Any, tokens: tuple[str, ...]) -> Any:
    """``obj`` without the value at ``tokens`` (a parsed JSON pointer), copying only the path
    to it; ``obj`` itself when there is nothing there."""
    if not tokens:
        return obj
    head, rest = tokens[0], tokens[1:]
    if isinstance(obj, dict):
        if head not in obj:
            return obj
        out = dict(obj)
        if rest:
            child = remove_pointer(obj[head], rest)
            if child is obj[head]:
                return obj
            out[head] = child
        else:
            del out[head]
        return out
    if isinstance(obj, list) and head.isdigit() and int(head) < len(obj):
        index = int(head)
        items = list(obj)
        if rest:
            child = remove_pointer(obj[index], rest)
            if child is obj[index]:
                return obj
            items[index] = child
        else:
            del items[index]
        return items
    return obj


def _tokens(pointer: str) -> tuple[str, ...]:
    if not pointer.startswith("/"):
        raise ValueError(
            f"'{pointer}' is not a JSON pointer: start it with '/', e.g. /spec/replicas"
        )
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/"))


def _compile_jq(expression: str) -> Any:
    try:
        return jq.compile(f"del({expression})")
    except ValueError as err:
        first = str(err).splitlines()[0].removeprefix("jq: error: ").split(" at <top-level>")[0]
        raise ValueError(f"'{expression}' is not a jq path expression: {first}") from None
