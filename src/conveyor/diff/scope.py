"""Which kinds are cluster-scoped, and so how a desired object is keyed.

A rendered manifest often leaves out ``metadata.namespace``: a namespaced object then goes to
the Application's destination namespace, and a cluster-scoped one has no namespace at all.
Desired and live objects are paired by that key, so both sides must agree on it.
"""

from __future__ import annotations

from collections.abc import Collection

from conveyor.errors import ValidationError
from conveyor.model.objects import CLUSTER_SCOPED_KINDS, Object, ObjectKey, group_of

__all__ = ["CLUSTER_SCOPED_KINDS", "KeyTuple", "key_tuple", "resource_key"]


KeyTuple = tuple[str, str, str, str]
"""(group, kind, namespace, name): ObjectKey's fields, cheap to hash in large indexes."""


def resource_key(
    obj: Object,
    default_namespace: str,
    cluster_scoped: Collection[str] = CLUSTER_SCOPED_KINDS,
) -> ObjectKey:
    """The (group, kind, namespace, name) of ``obj``; a namespaced object without a namespace
    takes ``default_namespace``. Raises ValidationError naming what is missing."""
    return ObjectKey(*key_tuple(obj, default_namespace, cluster_scoped))


def key_tuple(obj: Object, default_namespace: str, cluster_scoped: Collection[str]) -> KeyTuple:
    """``resource_key`` as a plain tuple."""
    kind = obj.get("kind")
    api_version = obj.get("apiVersion")
    meta = obj.get("metadata")
    if meta.__class__ is not dict:
        meta = {}
    name = meta.get("name")
    if kind.__class__ is not str or not kind:
        raise ValidationError("kind: field required", obj=f"?/{name or '?'}")
    if api_version.__class__ is not str or not api_version:
        raise ValidationError("apiVersion: field required", obj=f"{kind}/{name or '?'}")
    if name.__class__ is not str or not name:
        raise ValidationError("metadata.name: field required", obj=f"{kind}/?")
    namespace = "" if kind in cluster_scoped else (meta.get("namespace") or default_namespace)
    return (group_of(api_version), kind, namespace, name)
