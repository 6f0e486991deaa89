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

import copy
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
    _path_programs: tuple[Any, ...] = field(init=False, repr=False, compare=False)
    _matched: dict[tuple[str, str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matched", {})
        object.__setattr__(self, "_tokens", tuple(_tokens(p) for p in self.json_pointers))
        object.__setattr__(
            self, "_programs", tuple(_compile_jq(e) for e in self.jq_path_expressions)
        )
        object.__setattr__(
            self,
            "_path_programs",
            tuple(jq.compile(f"[path({e})]") for e in self.jq_path_expressions),
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

    def paths(self, key: ObjectKey, obj: Object) -> list[tuple[str | int, ...]]:
        """The paths in ``obj`` this rule ignores (none when it does not apply)."""
        if not self.matches(key):
            return []
        found: list[tuple[str | int, ...]] = [
            tuple(int(t) if t.isdigit() else t for t in tokens) for tokens in self._tokens
        ]
        for program in self._path_programs:
            try:
                found.extend(tuple(p) for p in program.input_value(obj).first())
            except (ValueError, TypeError, StopIteration):
                continue  # the expression does not apply to this object
        return found


def keep_ignored(
    key: ObjectKey, desired: Object, live: Object, rules: Iterable[IgnoreRule]
) -> Object:
    """``desired`` with every ignored field set to its live value (removed when live has none):
    what sync option RespectIgnoreDifferences applies. ``desired`` is not changed."""
    out: Any = copy.deepcopy(desired)
    for rule in rules:
        for path in rule.paths(key, live) + rule.paths(key, desired):
            found, value = _get(live, path)
            out = _set(out, path, copy.deepcopy(value)) if found else _drop(out, path)
    return out if isinstance(out, dict) else desired


def _get(obj: Any, path: tuple[str | int, ...]) -> tuple[bool, Any]:
    for step in path:
        in_map = isinstance(obj, dict) and isinstance(step, str) and step in obj
        in_list = isinstance(obj, list) and isinstance(step, int) and 0 <= step < len(obj)
        if not (in_map or in_list):
            return False, None
        obj = obj[step]
    return True, obj


def _set(obj: Any, path: tuple[str | int, ...], value: Any) -> Any:
    """``obj`` with ``value`` at ``path``, maps made on the way; unchanged when a list index
    is out of range or a step does not fit."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, str) and (obj is None or isinstance(obj, dict)):
        out = dict(obj or {})
        out[head] = _set(out.get(head), rest, value)
        return out
    if isinstance(head, int) and isinstance(obj, list) and 0 <= head < len(obj):
        items = list(obj)
        items[head] = _set(items[head], rest, value)
        return items
    return obj


def _drop(obj: Any, path: tuple[str | int, ...]) -> Any:
    return remove_pointer(obj, tuple(str(p) for p in path))


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
