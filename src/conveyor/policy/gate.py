"""The policy sync gate of an AppProject: enforce (refuse) or warn, by annotation.

A project opts in with annotations, which Argo CD keeps as they are (no unknown spec field):

- ``policy.conveyor.dev/gate``: ``enforce`` refuses a sync whose rendered manifests violate
  a ``deny`` rule, with the rules' messages; ``warn`` shows them as PolicyWarning conditions
  and syncs; absent or ``off``: no policy check.
- ``policy.conveyor.dev/bundle``: ``default`` (the only bundle a project may name: a path would
  let whoever edits a project read files on the server).

The app's environment, for rules such as "probes required in prod", is its
``conveyor.dev/environment`` label, else its ``environment`` label (as the demo's apps have).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from conveyor.errors import ValidationError
from conveyor.policy.rego import DEFAULT_BUNDLE, Violation, evaluate, load_bundle

GATE_ANNOTATION = "policy.conveyor.dev/gate"
"""``enforce``, ``warn`` or ``off``, on an AppProject."""
BUNDLE_ANNOTATION = "policy.conveyor.dev/bundle"
"""Which bundle the gate runs (``default``)."""
ENVIRONMENT_LABEL = "conveyor.dev/environment"
"""An Application's environment (``dev``, ``staging``, ``prod``), given to the rules."""
PLAIN_ENVIRONMENT_LABEL = "environment"
"""The label many repositories already use for it; read when the first is absent."""
POLICY_WARNING = "PolicyWarning"
"""Condition type of a violation under ``warn`` (and of a ``warn`` rule under ``enforce``)."""


class GateMode(StrEnum):
    OFF = "off"
    WARN = "warn"
    ENFORCE = "enforce"


@dataclass(frozen=True)
class GateResult:
    """What the gate decided: errors refuse the sync, warnings become conditions."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def gate_mode(annotations: Mapping[str, str] | None) -> GateMode:
    value = (annotations or {}).get(GATE_ANNOTATION, "off").strip().lower()
    try:
        return GateMode(value)
    except ValueError as err:
        raise ValidationError(
            f"project annotation {GATE_ANNOTATION} is {value!r}: use enforce, warn or off"
        ) from err


def check(
    project_annotations: Mapping[str, str] | None,
    app_labels: Mapping[str, str] | None,
    desired: Sequence[Mapping[str, Any]],
) -> GateResult:
    """Run the project's policy gate over the app's rendered objects."""
    mode = gate_mode(project_annotations)
    if mode is GateMode.OFF:
        return GateResult()
    name = (project_annotations or {}).get(BUNDLE_ANNOTATION, DEFAULT_BUNDLE)
    if name != DEFAULT_BUNDLE:
        raise ValidationError(
            f"project annotation {BUNDLE_ANNOTATION} is {name!r}: only {DEFAULT_BUNDLE!r} is "
            "available to projects"
        )
    labels = app_labels or {}
    environment = labels.get(ENVIRONMENT_LABEL) or labels.get(PLAIN_ENVIRONMENT_LABEL, "")
    violations = evaluate(load_bundle(name), desired, environment=environment)
    return split(violations, mode)


def split(violations: Sequence[Violation], mode: GateMode) -> GateResult:
    result = GateResult()
    for v in violations:
        text = f"policy {v.package}: {v.message}"
        if v.deny and mode is GateMode.ENFORCE:
            result.errors.append(text)
        else:
            result.warnings.append(text)
    return result
