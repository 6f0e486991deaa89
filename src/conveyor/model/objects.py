"""Identity of unstructured Kubernetes objects (plain dicts, as Kubernetes clients keep them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.errors import ValidationError

Object = dict[str, Any]
"""An unstructured object: apiVersion, kind, metadata, spec, status…"""

# Metadata the server sets; never part of what Git says.
SERVER_METADATA = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "ownerReferences",
        "selfLink",
    }
)

# Kinds that are not namespaced; everything else defaults to a namespace.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "APIService",
        "ComponentStatus",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "FlowSchema",
        "IngressClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SubjectAccessReview",
        "TokenReview",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "VolumeAttachment",
        "ClusterAnalysisTemplate",
    }
)
"""The one list every layer uses (keys, project rules, the local target). Custom kinds are
namespaced unless listed; a Kubernetes target will learn scopes from API discovery."""


def group_of(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; ``v1`` -> ``""`` (the core group)."""
    return api_version.split("/", 1)[0] if "/" in api_version else ""


@dataclass(frozen=True, order=True)
class ObjectKey:
    """What names an object uniquely in a target: group, kind, namespace, name."""

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def of(cls, obj: Object, default_namespace: str = "default") -> ObjectKey:
        """The key of ``obj``; raises ValidationError when kind or name is missing."""
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not isinstance(api_version, str) or not api_version:
            raise ValidationError("apiVersion is required", obj=f"{kind or '?'}/{name or '?'}")
        if not isinstance(kind, str) or not kind:
            raise ValidationError("kind is required", obj=f"?/{name or '?'}")
        if not isinstance(name, str) or not name:
            raise ValidationError("metadata.name is required", obj=f"{kind}/?")
        namespace = (
            "" if kind in CLUSTER_SCOPED_KINDS else (meta.get("namespace") or default_namespace)
        )
        return cls(group_of(api_version), kind, namespace, name)

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind}/{self.namespace}/{self.name}" if self.namespace else f"{kind}/{self.name}"


def crd_defines(crd: Object | None) -> tuple[str, str] | None:
    """The (group, kind) a CustomResourceDefinition defines, or None when malformed."""
    spec = (crd or {}).get("spec")
    if not isinstance(spec, dict):
        return None
    names = spec.get("names")
    group, kind = spec.get("group"), names.get("kind") if isinstance(names, dict) else None
    if isinstance(group, str) and isinstance(kind, str) and group and kind:
        return group, kind
    return None
