"""An AnalysisRun built from a Rollout's request and its templates (Argo's
NewAnalysisRunFromTemplates).

The planner asks for a run by name with template references and arguments; the runtime looks
the templates up (AnalysisTemplates in the Rollout's namespace, ClusterAnalysisTemplates by
``clusterScope``) and this module merges them into one AnalysisRun as Argo does: the metrics
of every template (a metric name twice is an error), their arguments with the Rollout's values
winning, an argument left without a value an error naming it, and the templates' and
Rollout's dryRun and measurementRetention together.

A template may name others in ``spec.templates`` (Argo Rollouts v1.7+): they are followed
depth first, each after the template naming it, and a template reached twice counts once. A
missing one is an error naming who referenced it; a template that reaches itself again is an
error showing the loop (Argo itself would recurse without end).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from conveyor.model.objects import Object
from conveyor.targets.local.controllers.rollout_types import AnalysisRunRequest

TemplateLookup = Callable[[str, bool], Object | None]
"""(template name, cluster scope) -> the AnalysisTemplate or ClusterAnalysisTemplate, or None."""


class AnalysisRunBuildError(ValueError):
    """A template is missing, or the templates and arguments do not make one run."""


def build_analysis_run(request: AnalysisRunRequest, lookup: TemplateLookup) -> Object:
    """The AnalysisRun object ``request`` asks for; raises AnalysisRunBuildError."""
    metrics: list[dict[str, Any]] = []
    template_args: list[dict[str, Any]] = []
    dry_run: list[dict[str, Any]] = []
    retention: list[dict[str, Any]] = []
    for template in resolve_templates(request.templates, lookup):
        spec = template.get("spec") or {}
        for metric in spec.get("metrics") or []:
            if any(m.get("name") == metric.get("name") for m in metrics):
                raise AnalysisRunBuildError(
                    f"two metrics have the same name '{metric.get('name')}'"
                )
            metrics.append(copy.deepcopy(metric))
        for arg in spec.get("args") or []:
            _add_template_arg(template_args, arg)
        dry_run.extend(copy.deepcopy(spec.get("dryRun") or []))
        retention.extend(copy.deepcopy(spec.get("measurementRetention") or []))
    args = _merge_args(list(request.args), template_args)
    dry_run.extend(copy.deepcopy(list(request.dry_run)))
    retention.extend(copy.deepcopy(list(request.measurement_retention)))
    spec_out: dict[str, Any] = {"metrics": metrics}
    if args:
        spec_out["args"] = args
    if dry_run:
        spec_out["dryRun"] = dry_run
    if retention:
        spec_out["measurementRetention"] = retention
    metadata: dict[str, Any] = {
        "name": request.name,
        "labels": dict(request.labels),
        "annotations": dict(request.annotations),
        "ownerReferences": [copy.deepcopy(request.owner_reference)],
    }
    if request.namespace:
        metadata["namespace"] = request.namespace
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": metadata,
        "spec": spec_out,
    }


def resolve_templates(refs: Iterable[dict[str, Any]], lookup: TemplateLookup) -> list[Object]:
    """The templates ``refs`` name and every template they name in turn, in Argo's order;
    raises AnalysisRunBuildError for a missing template or a loop."""
    found: list[Object] = []
    seen: set[tuple[bool, str]] = set()

    def follow(ref: Any, path: tuple[tuple[bool, str], ...]) -> None:
        ref = ref if isinstance(ref, dict) else {}
        at = (bool(ref.get("clusterScope")), str(ref.get("templateName") or ""))
        if at in path:
            loop = " -> ".join(_describe(p) for p in (*path[path.index(at) :], at))
            raise AnalysisRunBuildError(f"{_describe(at)} references itself: {loop}")
        if at in seen:
            return
        template = lookup(at[1], at[0])
        if template is None:
            by = f" (referenced by {_describe(path[-1])})" if path else ""
            raise AnalysisRunBuildError(f"{_describe(at)} not found{by}")
        seen.add(at)
        found.append(template)
        for nested in (template.get("spec") or {}).get("templates") or []:
            follow(nested, (*path, at))

    for ref in refs:
        follow(ref, ())
    return found


def _describe(at: tuple[bool, str]) -> str:
    return f"{'ClusterAnalysisTemplate' if at[0] else 'AnalysisTemplate'} '{at[1]}'"


def _add_template_arg(args: list[dict[str, Any]], arg: dict[str, Any]) -> None:
    """Args of several templates: one per name; two different values for a name conflict."""
    for existing in args:
        if existing.get("name") != arg.get("name"):
            continue
        a, b = existing.get("value"), arg.get("value")
        if a is not None and b is not None and a != b:
            raise AnalysisRunBuildError(
                f"Argument `{arg.get('name')}` specified multiple times with different values:"
                f" '{a}', '{b}'"
            )
        if a is None and b is not None:
            existing["value"] = b
        return
    args.append(copy.deepcopy(arg))


def _merge_args(incoming: list[dict[str, Any]], template: list[dict[str, Any]]) -> list[Any]:
    """MergeArgs: the Rollout's values override the templates'; each must end with one."""
    merged = []
    for arg in template:
        out = dict(arg)
        given = next((a for a in incoming if a.get("name") == arg.get("name")), None)
        if given is not None:
            if given.get("value") is not None:
                out["value"] = given["value"]
                out.pop("valueFrom", None)
            elif given.get("valueFrom") is not None:
                out["valueFrom"] = copy.deepcopy(given["valueFrom"])
                out.pop("value", None)
        if out.get("value") is None and out.get("valueFrom") is None:
            raise AnalysisRunBuildError(f"args.{arg.get('name')} was not resolved")
        merged.append(out)
    return merged
