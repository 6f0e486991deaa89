"""Which kinds the local runtime accepts: built-in API groups, Conveyor's own, and CRDs'.

An API server refuses an object whose resource type it does not serve ("the server could not
find the requested resource"); the local runtime does the same, so that a custom resource
whose CustomResourceDefinition was never applied fails its sync instead of being stored as
if it meant something. Kinds of the Kubernetes API groups are accepted (the runtime stores
those it has no behaviour for); the ``argoproj.io`` kinds are Conveyor's own; any other kind
needs a stored CustomResourceDefinition that defines it (``spec.group``, ``spec.names.kind``).
"""

from __future__ import annotations

from collections.abc import Iterable

from conveyor.model.objects import Object, ObjectKey, crd_defines
from conveyor.targets.protocol import UnknownKindError

# The API groups a Kubernetes API server serves without any CRD.
BUILT_IN_GROUPS = frozenset(
    {"", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "node.k8s.io",
     "rbac.authorization.k8s.io", "storage.k8s.io", "apiextensions.k8s.io",
     "admissionregistration.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
     "discovery.k8s.io", "apiregistration.k8s.io", "certificates.k8s.io", "events.k8s.io",
     "flowcontrol.apiserver.k8s.io", "resource.k8s.io", "authentication.k8s.io",
     "authorization.k8s.io", "internal.apiserver.k8s.io", "storagemigration.k8s.io"}
)  # fmt: skip
# Conveyor's own kinds (Argo CD's and Argo Rollouts'), served without a CRD.
CONVEYOR_GROUP = "argoproj.io"

CRD_KIND = "CustomResourceDefinition"
CRD = ("apiextensions.k8s.io", CRD_KIND)

# What the runtime gives behaviour to, by (API group, kind): never by kind alone, so that a
# ``Pod`` of another group (a CRD may define one) is stored and never run.
NAMESPACE = ("", "Namespace")
CONFIGMAP = ("", "ConfigMap")
SECRET = ("", "Secret")
POD = ("", "Pod")
SERVICE = ("", "Service")
DEPLOYMENT = ("apps", "Deployment")
REPLICASET = ("apps", "ReplicaSet")
JOB = ("batch", "Job")
KINDS_WITH_BEHAVIOUR = frozenset(
    {NAMESPACE, CONFIGMAP, SECRET, POD, SERVICE, DEPLOYMENT, REPLICASET, JOB}
)
"""Kinds the runtime acts on (or, for ConfigMaps and Secrets, that Pods read)."""
WORKLOADS = frozenset({DEPLOYMENT, REPLICASET, JOB, ("apps", "StatefulSet"), ("apps", "DaemonSet")})
"""Kinds whose pod template admission checks."""

NO_BEHAVIOUR_REASON = "NoLocalBehaviour"
"""The event reason on an object of a kind the runtime stores but does not act on."""


def identity(key: ObjectKey) -> tuple[str, str]:
    """``key``'s kind as the runtime knows it: (API group, kind)."""
    return key.group, key.kind


def has_behaviour(key: ObjectKey) -> bool:
    """Whether the runtime (or, for ``argoproj.io`` kinds, Conveyor) acts on ``key``'s kind."""
    return (
        identity(key) in KINDS_WITH_BEHAVIOUR
        or identity(key) == CRD
        or (key.group == CONVEYOR_GROUP)
    )


def no_behaviour_message(key: ObjectKey) -> str:
    """What the event on a stored-only object says."""
    kind = f"{key.kind}.{key.group}" if key.group else key.kind
    return (
        f"{kind} is stored but has no behaviour on the local runtime: nothing runs or "
        "enforces it here (a Kubernetes target would)"
    )


def check_kind(key: ObjectKey, crds: Iterable[Object]) -> None:
    """Raise UnknownKindError unless the target serves ``key``'s kind."""
    if key.group in BUILT_IN_GROUPS or key.group == CONVEYOR_GROUP:
        return
    if any(crd_defines(crd) == (key.group, key.kind) for crd in crds):
        return
    raise UnknownKindError(
        f'the server could not find the requested resource: no kind "{key.kind}" in group '
        f'"{key.group}" (apply its CustomResourceDefinition first)',
        obj=str(key),
    )
