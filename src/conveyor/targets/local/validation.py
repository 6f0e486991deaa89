"""Admission for the local runtime: what the Kubernetes API server would refuse, refused here.

Messages name the field and say what to do, as the API server's do. Secret ``stringData`` is
folded into base64 ``data`` on the way in, as Kubernetes does.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.analysis.loading import analysis_problem, is_analysis_kind
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.kinds import DEPLOYMENT, POD, REPLICASET, SECRET, WORKLOADS, identity
from conveyor.targets.local.schema import check_fields

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_name(key: ObjectKey) -> None:
    pattern = _DNS_LABEL if key.kind in {"Namespace", "Service"} else _DNS_SUBDOMAIN
    limit = 63 if key.kind in {"Namespace", "Service"} else 253
    if len(key.name) > limit or not pattern.match(key.name):
        raise ValidationError(
            f"metadata.name {key.name!r} is invalid: use lower-case letters, digits and '-'"
            f"{'' if pattern is _DNS_LABEL else ' or .'}, starting and ending with a letter or "
            f"digit, at most {limit} characters",
            obj=str(key),
        )


def _check_pod_spec(spec: Any, where: str, key: ObjectKey) -> None:
    if not isinstance(spec, dict):
        raise ValidationError(f"{where} is required", obj=str(key))
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        raise ValidationError(f"{where}.containers must list at least one container", obj=str(key))
    for i, container in enumerate(containers):
        if not isinstance(container, dict) or not container.get("name"):
            raise ValidationError(f"{where}.containers[{i}].name is required", obj=str(key))
        if not container.get("image"):
            raise ValidationError(f"{where}.containers[{i}].image is required", obj=str(key))


def _check_workload(obj: Object, key: ObjectKey) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise ValidationError("spec is required", obj=str(key))
    template = spec.get("template")
    if not isinstance(template, dict):
        raise ValidationError("spec.template is required", obj=str(key))
    _check_pod_spec(template.get("spec"), "spec.template.spec", key)
    if identity(key) in {DEPLOYMENT, REPLICASET}:
        selector = (spec.get("selector") or {}).get("matchLabels")
        if not isinstance(selector, dict) or not selector:
            raise ValidationError("spec.selector.matchLabels is required", obj=str(key))
        labels = (template.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in selector.items()):
            raise ValidationError(
                "spec.template.metadata.labels: `selector` does not match template `labels`; "
                "give the template every label of spec.selector.matchLabels",
                obj=str(key),
            )
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        raise ValidationError("spec.replicas must be a whole number >= 0", obj=str(key))


def _normalize_secret(obj: Object, key: ObjectKey) -> Object:
    data = dict(obj.get("data") or {})
    for name, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValidationError(
                f"data[{name}] is not valid base64; put plain text under stringData instead",
                obj=str(key),
            ) from err
    string_data = obj.get("stringData") or {}
    if not string_data:
        return obj
    out = copy.deepcopy(obj)
    for name, value in string_data.items():
        data[name] = base64.b64encode(str(value).encode()).decode()
    out["data"] = data
    out.pop("stringData", None)
    return out


def admit(obj: Object, previous: Object | None = None, *, strict: bool = True) -> Object:
    """Validate ``obj`` for storing; return it normalized (or raise ValidationError).

    ``strict`` also refuses fields the kind does not have (``kubectl --validate``); the
    server's own rules (names, required fields, immutable selectors) always apply.
    """
    if not isinstance(obj, dict):
        raise ValidationError("a manifest must be a mapping with apiVersion, kind and metadata")
    key = ObjectKey.of(obj)
    _check_name(key)
    if strict:
        check_fields(obj, key)
    kind = identity(key)  # by group and kind: a CRD's "Pod" is not judged as a Pod
    if kind in WORKLOADS:
        _check_workload(obj, key)
    elif kind == POD:
        _check_pod_spec(obj.get("spec"), "spec", key)
    elif kind == SECRET:
        obj = _normalize_secret(obj, key)
    elif is_analysis_kind(obj):
        # Argo's controller would fail the run on these; refuse them before a release does
        problem = analysis_problem(obj)
        if problem:
            raise ValidationError(problem, obj=str(key))
    if previous is not None and kind == DEPLOYMENT:
        old = (previous.get("spec") or {}).get("selector")
        new = (obj.get("spec") or {}).get("selector")
        if old != new:
            raise ValidationError(
                "spec.selector is immutable; delete the Deployment and create it again "
                "to change it",
                obj=str(key),
            )
    return obj
