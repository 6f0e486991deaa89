"""Client-side apply migration: fields a client-side applier owns become Conveyor's.

An object Argo CD (or ``kubectl apply``) applied client-side has its fields owned by an
``Update`` entry in ``metadata.managedFields`` (manager ``kubectl-client-side-apply``, or
``argocd-controller``). A server-side apply by ``conveyor`` that sets them to the same values
co-owns them; changing one later would be a conflict with that manager. So before the first
server-side apply, the fields those managers own are moved into Conveyor's ``Apply`` entry, as
Argo CD's ClientSideApplyMigration (and client-go's ``csaupgrade``) does: one JSON patch of
``metadata.managedFields``, guarded by a test of the resourceVersion. Fields that then leave
Git are removed by the next apply, since Conveyor owns them.
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.model.objects import Object

CLIENT_SIDE_MANAGERS = ("kubectl-client-side-apply", "argocd-controller")
"""Managers whose client-side (``Update``) fields are taken over."""


def _union(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Two FieldsV1 sets joined (nested ``f:``/``k:``/``v:`` keys, ``{}`` leaves)."""
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _union(into[key], value)
        else:
            into[key] = copy.deepcopy(value)
    return into


def migration_patch(live: Object, manager: str) -> list[dict[str, Any]] | None:
    """The JSON patch moving client-side appliers' fields to ``manager``'s Apply entry, or
    None when there is nothing to move."""
    meta = live.get("metadata") or {}
    entries = [e for e in meta.get("managedFields") or [] if isinstance(e, dict)]

    def client_side(entry: dict[str, Any]) -> bool:
        return (
            entry.get("manager") in CLIENT_SIDE_MANAGERS
            and entry.get("operation") == "Update"
            and not entry.get("subresource")
        )

    moved = [e for e in entries if client_side(e)]
    if not moved:
        return None
    ours = next(
        (e for e in entries
         if e.get("manager") == manager and e.get("operation") == "Apply"
         and not e.get("subresource")),
        None,
    )  # fmt: skip
    fields: dict[str, Any] = copy.deepcopy((ours or {}).get("fieldsV1") or {})
    for entry in moved:
        _union(fields, entry.get("fieldsV1") or {})
    taken = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": (ours or moved[0]).get("apiVersion") or live.get("apiVersion"),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if (ours or moved[-1]).get("time"):
        taken["time"] = (ours or moved[-1])["time"]
    kept = [e for e in entries if not client_side(e) and e is not ours]
    return [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")},
        {"op": "replace", "path": "/metadata/managedFields", "value": [*kept, taken]},
    ]
