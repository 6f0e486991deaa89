"""Rego policies over rendered manifests, evaluated by regorus (a Rego engine in Rust).

Teams already write their admission rules in Rego for OPA; Conveyor runs the same files
before anything is applied, with no OPA server: the regorus binding evaluates them in process.
Each rendered object is handed over in AdmissionReview's shape (``input.request.kind``,
``input.request.object``, ``input.request.namespace``), so the seeds' policies run unchanged,
plus ``input.environment`` for rules that depend on it. Every package's ``deny`` (and
``violation``, as conftest names it) refuses the object with the rule's message; ``warn``
reports without refusing.

Policies load in Rego v0 mode, which also accepts v1 files that ``import rego.v1``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import regorus

from conveyor.errors import ValidationError

DEFAULT_BUNDLE = "default"
"""The bundle that ships with Conveyor (``conveyor/policy/bundle``): the seeds' rules."""
DENY_RULES = ("deny", "violation")
WARN_RULES = ("warn",)


@dataclass(frozen=True)
class Violation:
    """One rule's message about one object."""

    object: str
    """``Kind/namespace/name`` of the object."""
    message: str
    package: str
    deny: bool
    """True refuses the object; False is a warning."""


def _first_line(err: Exception) -> str:
    return str(err).split("\n\nStack backtrace", 1)[0].strip()


@dataclass(frozen=True)
class Bundle:
    """A set of Rego files, compiled once; ``evaluate`` works on a clone per call."""

    name: str
    files: tuple[tuple[str, str], ...]

    def engine(self) -> Any:
        engine = regorus.Engine()
        engine.set_rego_v0(True)
        for path, text in self.files:
            try:
                engine.add_policy(path, text)
            except RuntimeError as err:
                raise ValidationError(
                    f"policy {path} does not compile: {_first_line(err)}"
                ) from err
        return engine

    def packages(self) -> list[str]:
        return sorted(str(p) for p in self.engine().get_packages())


@functools.cache
def _default_bundle() -> Bundle:
    """Read once per process: the sync gate asks for it on every comparison."""
    root = resources.files("conveyor.policy") / "bundle"
    files = sorted(
        (f"bundle/{p.name}", p.read_text()) for p in root.iterdir() if p.name.endswith(".rego")
    )
    return Bundle(DEFAULT_BUNDLE, tuple(files))


def load_bundle(where: str | Path) -> Bundle:
    """The default bundle (``"default"``) or every ``*.rego`` under a directory (tests,
    ``*_test.rego``, excluded)."""
    if str(where) == DEFAULT_BUNDLE:
        root = resources.files("conveyor.policy") / "bundle"
        files = sorted(
            (f"bundle/{p.name}", p.read_text()) for p in root.iterdir() if p.name.endswith(".rego")
        )
        return Bundle(DEFAULT_BUNDLE, tuple(files))
    base = Path(where)
    if not base.is_dir():
        raise ValidationError(f"policy bundle {str(where)!r} is not a directory")
    found = sorted(p for p in base.rglob("*.rego") if not p.name.endswith("_test.rego"))
    if not found:
        raise ValidationError(f"policy bundle {str(where)!r} holds no .rego file")
    return Bundle(str(base), tuple((str(p.relative_to(base)), p.read_text()) for p in found))


def object_name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    parts = [
        str(obj.get("kind", "?")),
        str(meta.get("namespace") or ""),
        str(meta.get("name", "?")),
    ]
    return "/".join(p for p in parts if p)


def admission_input(obj: Mapping[str, Any], environment: str) -> dict[str, Any]:
    """The input document for one object (AdmissionReview's request, plus the environment)."""
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    meta = obj.get("metadata") or {}
    return {
        "request": {
            "kind": {"group": group, "version": version, "kind": obj.get("kind", "")},
            "operation": "CREATE",
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", ""),
            "object": obj,
        },
        "environment": environment,
    }


def _values(engine: Any, query: str) -> list[str]:
    try:
        answer = engine.eval_query(query)
    except RuntimeError as err:
        raise ValidationError(f"policy query {query} failed: {_first_line(err)}") from err
    found: list[str] = []
    for result in answer.get("result") or []:
        for expression in result.get("expressions") or []:
            value = expression.get("value")
            if isinstance(value, (set, list, tuple, frozenset)):
                found.extend(_message(v) for v in value)
            elif value not in (None, False):
                found.append(_message(value))
    return sorted(found)


def _message(value: Any) -> str:
    if isinstance(value, Mapping) and "msg" in value:  # conftest's {"msg": ...} form
        return str(value["msg"])
    return str(value)


_lock = threading.Lock()
_compiled: dict[Bundle, tuple[Any, list[str]]] = {}


def _engine(bundle: Bundle) -> tuple[Any, list[str]]:
    with _lock:
        if bundle not in _compiled:
            engine = bundle.engine()
            _compiled[bundle] = (engine, [str(p) for p in engine.get_packages()])
        engine, packages = _compiled[bundle]
        return engine.clone(), packages


def evaluate(
    bundle: Bundle, objects: Iterable[Mapping[str, Any]], *, environment: str = ""
) -> list[Violation]:
    """Every violation (deny and warn) of ``bundle``'s rules by ``objects``, in object order."""
    engine, packages = _engine(bundle)
    violations: list[Violation] = []
    for obj in objects:
        engine.set_input(admission_input(obj, environment))
        name = object_name(obj)
        for package in packages:
            for rule in (*DENY_RULES, *WARN_RULES):
                for message in _values(engine, f"{package}.{rule}"):
                    violations.append(
                        Violation(name, message, package.removeprefix("data."), rule != "warn")
                    )
    return violations
