"""Patches of live objects, computed the way the Kubernetes API server computes them.

One place for what every target's ``patch`` and the engine's ``patch_resource`` share: apply
an RFC 7386 merge patch or an RFC 6902 JSON patch to an object, and the rules a patch may
not break. A patch changes an object; it never turns it into another one (apiVersion, kind,
name and namespace stay), and it cannot be used to read a Secret's values (``copy``,
``move`` and ``test`` on its data are refused, and errors never quote values).
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

from conveyor.errors import NotFoundError, ValidationError
from conveyor.model.merge import merge_patch
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.protocol import STATUS_SUBRESOURCE, PatchType


def patch_type_of(value: str) -> PatchType:
    """The PatchType a media type names; ValidationError for any other."""
    try:
        return PatchType(value)
    except ValueError:
        raise ValidationError(
            f"patch type must be {PatchType.MERGE.value} or {PatchType.JSON.value}"
        ) from None


_WITHOUT_STATUS = frozenset(
    {
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "ServiceAccount"),
        ("", "Endpoints"),
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    }
)
"""Built-in kinds that have no status, so no status subresource to patch."""


def check_subresource(subresource: str | None, key: ObjectKey | None = None) -> None:
    """Only the status subresource can be patched (``scale`` and others are not served),
    and only on kinds that have a status."""
    if subresource not in (None, STATUS_SUBRESOURCE):
        raise ValidationError(
            f"subresource must be {STATUS_SUBRESOURCE!r} (or none), not {subresource!r}"
        )
    if subresource is not None and key is not None and (key.group, key.kind) in _WITHOUT_STATUS:
        raise NotFoundError(f"a {key.kind} has no {subresource} subresource", obj=str(key))


def apply_patch(live: Object, patch: Any, patch_type: PatchType) -> Object:
    """``live`` with ``patch`` applied (``live`` is not changed); ValidationError when the
    patch is malformed, would read a Secret's data, or changes the object's identity."""
    current = copy.deepcopy(live)
    if patch_type is PatchType.MERGE:
        if not isinstance(patch, dict):
            raise ValidationError("a merge patch must be a JSON object")
        patched = merge_patch(current, patch)
    else:
        refuse_secret_reads(live, patch)
        try:
            patched = jsonpatch.apply_patch(current, patch)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as err:
            # jsonpatch's messages can quote the values it compared: never echo them
            raise ValidationError(f"cannot apply the JSON patch ({type(err).__name__})") from err
    if not isinstance(patched, dict):
        raise ValidationError("the patched resource must stay a JSON object")
    same_identity(live, patched)
    return patched


def same_identity(live: Object, patched: Object) -> None:
    """A patch may not change apiVersion, kind, metadata.name or metadata.namespace."""
    try:
        same = ObjectKey.of(patched) == ObjectKey.of(live)
    except ValidationError:
        same = False
    if not same or patched.get("apiVersion") != live.get("apiVersion"):
        raise ValidationError(
            "a patch may not change apiVersion, kind, metadata.name or metadata.namespace"
        )


def split_status(live: Object, patched: Object, subresource: str | None) -> Object:
    """What a patch of the resource or of its status writes, refusing changes outside it.

    On the resource the result has no status (a target keeps the live one); on the status
    subresource it is the new status. Nothing a patch changed is silently dropped.
    """
    live_rest = {k: v for k, v in live.items() if k != "status"}
    patched_rest = {k: v for k, v in patched.items() if k != "status"}
    if subresource == STATUS_SUBRESOURCE:
        if patched_rest != live_rest:
            raise ValidationError(
                "a patch of the status subresource may change only status; "
                "patch the resource itself for the rest"
            )
        status = patched.get("status", {})
        if not isinstance(status, dict):
            raise ValidationError("status must stay a JSON object")
        return status
    if patched.get("status") != live.get("status"):
        raise ValidationError(
            "status is a subresource: patch it with subresource=status, the rest without"
        )
    return patched_rest


def refuse_secret_reads(live: Object, patch: Any) -> None:
    """``copy``, ``move`` and ``test`` could reveal a Secret's values: not on its data."""
    if live.get("kind") != "Secret" or not isinstance(patch, list):
        return
    for op in patch:
        if not isinstance(op, dict) or op.get("op") not in ("copy", "move", "test"):
            continue
        for pointer in (op.get("from"), op.get("path")):
            if isinstance(pointer, str) and pointer.startswith(("/data", "/stringData")):
                raise ValidationError(
                    f"a {op['op']} operation may not touch a Secret's data; use add/replace"
                )
