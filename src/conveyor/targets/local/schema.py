"""Field validation for the kinds the local runtime runs: unknown fields are refused.

``kubectl apply`` validates a manifest against the kind's schema by default, so a misspelt
field (``spec.replica``) is an error instead of a setting that silently does nothing; sync
option ``Validate=false`` turns that off. This module holds the fields of the kinds with
behaviour here (as data, from the Kubernetes API reference) and reports the first unknown one
in the API server's words. Kinds the runtime only stores are not checked.
"""

from __future__ import annotations

from typing import Any

from conveyor.errors import ValidationError
from conveyor.model.objects import Object, ObjectKey, group_of

_METADATA = frozenset(
    {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
     "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
     "annotations", "ownerReferences", "finalizers", "managedFields"}
)  # fmt: skip
_OBJECT = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
_TOP = {
    "ConfigMap": frozenset({"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"}),
    "Secret": frozenset(
        {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"}
    ),
}
_POD_SPEC = frozenset(
    {"volumes", "initContainers", "containers", "ephemeralContainers", "restartPolicy",
     "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "nodeSelector",
     "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName",
     "hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "securityContext",
     "imagePullSecrets", "hostname", "subdomain", "affinity", "schedulerName", "tolerations",
     "hostAliases", "priorityClassName", "priority", "dnsConfig", "readinessGates",
     "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead",
     "topologySpreadConstraints", "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates",
     "resourceClaims", "resources"}
)  # fmt: skip
_CONTAINER = frozenset(
    {"name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
     "resizePolicy", "restartPolicy", "volumeMounts", "volumeDevices", "livenessProbe",
     "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath",
     "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin", "stdinOnce",
     "tty"}
)  # fmt: skip
_SPEC = {
    "Deployment": frozenset(
        {
            "replicas",
            "selector",
            "template",
            "strategy",
            "minReadySeconds",
            "revisionHistoryLimit",
            "paused",
            "progressDeadlineSeconds",
        }
    ),
    "ReplicaSet": frozenset({"replicas", "minReadySeconds", "selector", "template"}),
    "Job": frozenset(
        {
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "podFailurePolicy",
            "successPolicy",
            "backoffLimit",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
            "selector",
            "manualSelector",
            "template",
            "ttlSecondsAfterFinished",
            "completionMode",
            "suspend",
            "podReplacementPolicy",
            "managedBy",
        }
    ),
    "Service": frozenset(
        {
            "ports",
            "selector",
            "clusterIP",
            "clusterIPs",
            "type",
            "externalIPs",
            "sessionAffinity",
            "loadBalancerIP",
            "loadBalancerSourceRanges",
            "externalName",
            "externalTrafficPolicy",
            "healthCheckNodePort",
            "publishNotReadyAddresses",
            "sessionAffinityConfig",
            "ipFamilies",
            "ipFamilyPolicy",
            "allocateLoadBalancerNodePorts",
            "loadBalancerClass",
            "internalTrafficPolicy",
            "trafficDistribution",
        }
    ),
    "Pod": _POD_SPEC,
    "Namespace": frozenset({"finalizers"}),
}
CHECKED_KINDS = frozenset({"ConfigMap", "Secret", *_SPEC})
_APPS_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"})


def _built_in_group(kind: str) -> str:
    """The API group of a checked kind (a CRD may define a kind of the same name elsewhere)."""
    if kind in _APPS_KINDS:
        return "apps"
    return "batch" if kind in ("Job", "CronJob") else ""


def _unknown(value: Any, known: frozenset[str], where: str) -> str | None:
    if not isinstance(value, dict):
        return None
    for name in sorted(value):
        if name not in known:
            return f"{where}{name}"
    return None


def _pod_template(template: Any, where: str) -> str | None:
    if not isinstance(template, dict):
        return None
    found = _unknown(template, frozenset({"metadata", "spec"}), where)
    found = found or _unknown(template.get("metadata"), _METADATA, f"{where}metadata.")
    return found or _pod_spec(template.get("spec"), f"{where}spec.")


def _pod_spec(spec: Any, where: str) -> str | None:
    found = _unknown(spec, _POD_SPEC, where)
    if found or not isinstance(spec, dict):
        return found
    for field in ("initContainers", "containers"):
        for i, container in enumerate(spec.get(field) or []):
            found = _unknown(container, _CONTAINER, f"{where}{field}[{i}].")
            if found:
                return found
    return None


def unknown_field(obj: Object) -> str | None:
    """The first field of ``obj`` its kind does not have (``spec.replica``), or None."""
    kind = str(obj.get("kind", ""))
    if kind not in CHECKED_KINDS or group_of(str(obj.get("apiVersion", ""))) != _built_in_group(
        kind
    ):
        return None
    found = _unknown(obj, _TOP.get(kind, _OBJECT), "")
    found = found or _unknown(obj.get("metadata"), _METADATA, "metadata.")
    spec = obj.get("spec")
    if found or kind not in _SPEC or not isinstance(spec, dict):
        return found
    found = _unknown(spec, _SPEC[kind], "spec.")
    if found or kind == "Service":
        return found
    if kind == "Pod":
        return _pod_spec(spec, "spec.")
    return _pod_template(spec.get("template"), "spec.template.")


def check_fields(obj: Object, key: ObjectKey) -> None:
    """Raise ValidationError for a field ``obj``'s kind does not have."""
    found = unknown_field(obj)
    if found is not None:
        raise ValidationError(
            f'strict decoding error: unknown field "{found}" (fix its name, or skip this '
            "check with the sync option Validate=false)",
            obj=str(key),
        )
