"""Whether a resource is namespaced, by API group and kind, for the project's resource lists.

An AppProject's clusterResourceWhitelist only holds if every cluster-scoped resource is seen
as one. A kind's scope belongs to its (group, kind): ``networking.k8s.io/IPAddress`` is
cluster-scoped, and so is any kind a CustomResourceDefinition declares with ``scope: Cluster``
(``crd_scopes`` reads them from the objects being deployed, since they are applied first).
A kind name that is cluster-scoped in Kubernetes stays cluster-scoped in an unknown group
(``model.objects.CLUSTER_SCOPED_KINDS``), so a lookalike group never loosens a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from conveyor.model.objects import CLUSTER_SCOPED_KINDS, Object

CLUSTER_SCOPED_RESOURCES = frozenset(
    {
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "ComponentStatus"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("apiregistration.k8s.io", "APIService"),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
        ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
        ("storage.k8s.io", "StorageClass"),
        ("storage.k8s.io", "CSIDriver"),
        ("storage.k8s.io", "CSINode"),
        ("storage.k8s.io", "VolumeAttachment"),
        ("storage.k8s.io", "VolumeAttributesClass"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("node.k8s.io", "RuntimeClass"),
        ("networking.k8s.io", "IngressClass"),
        ("networking.k8s.io", "IPAddress"),
        ("networking.k8s.io", "ServiceCIDR"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("certificates.k8s.io", "ClusterTrustBundle"),
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
        ("policy", "PodSecurityPolicy"),
        ("resource.k8s.io", "DeviceClass"),
        ("internal.apiserver.k8s.io", "StorageVersion"),
        ("authentication.k8s.io", "TokenReview"),
        ("authentication.k8s.io", "SelfSubjectReview"),
        ("authorization.k8s.io", "SubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"),
        ("authorization.k8s.io", "SelfSubjectRulesReview"),
    }
)
"""Kubernetes' cluster-scoped built-in resources, by API group and kind."""

CrdScopes = Mapping[tuple[str, str], bool]
"""(group, kind) -> namespaced, as CustomResourceDefinitions declare."""


def crd_scopes(objects: Iterable[Object]) -> dict[tuple[str, str], bool]:
    """The scope of every kind the CustomResourceDefinitions among ``objects`` define."""
    found: dict[tuple[str, str], bool] = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition":
            continue
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            continue
        names = spec.get("names")
        group, kind = spec.get("group"), names.get("kind") if isinstance(names, dict) else None
        if isinstance(group, str) and isinstance(kind, str):
            found[(group, kind)] = spec.get("scope") != "Cluster"
    return found


def is_namespaced(group: str, kind: str, crds: CrdScopes | None = None) -> bool:
    """Whether ``group``/``kind`` is a namespaced resource (see the module docstring)."""
    if (group, kind) in CLUSTER_SCOPED_RESOURCES or kind in CLUSTER_SCOPED_KINDS:
        return False
    if crds is not None and (group, kind) in crds:
        return crds[(group, kind)]
    return True
