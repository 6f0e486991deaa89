"""What the test API server (``kube_api``) does to objects: managed fields, settled
workload status, Status answers. Split from it to keep each module to one job."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import kmock


@dataclass(frozen=True)
class Res:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True


def leaves(fields: dict[str, Any], prefix: str = "") -> list[str]:
    """``.data.k`` paths of a FieldsV1 set (``f:`` keys only)."""
    out = []
    for key, value in fields.items():
        if not key.startswith("f:"):
            continue
        path = f"{prefix}.{key[2:]}"
        out.extend(leaves(value, path) if value else [path])
    return out


def fields_of(body: dict[str, Any]) -> dict[str, Any]:
    def walk(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not value:
            return {}
        return {f"f:{k}": walk(v) for k, v in value.items()}

    return {
        f"f:{k}": walk(v)
        for k, v in body.items()
        if k not in ("apiVersion", "kind", "metadata", "status")
    }


def record_apply(obj: dict[str, Any], body: dict[str, Any], manager: str, api_version: str) -> None:
    """The applier's Apply entry in managedFields: the fields its body sets."""
    entries = [
        e
        for e in obj["metadata"].get("managedFields") or []
        if not (e.get("manager") == manager and e.get("operation") == "Apply")
    ]
    entries.append(
        {
            "manager": manager,
            "operation": "Apply",
            "apiVersion": api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_of(body),
        }
    )
    obj["metadata"]["managedFields"] = entries


def new_meta() -> dict[str, Any]:
    return {"uid": str(uuid.uuid4()), "creationTimestamp": "2026-12-05T00:00:00Z", "generation": 1}


def av(res: Res) -> str:
    return f"{res.group}/{res.version}" if res.group else res.version


def in_namespace(obj: dict[str, Any], namespace: str | None) -> bool:
    return namespace is None or obj.get("metadata", {}).get("namespace") == namespace


def at(obj: dict[str, Any], path: str) -> Any:
    value: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def settle(obj: dict[str, Any]) -> None:
    if obj.get("kind") != "Deployment":
        return
    replicas = int((obj.get("spec") or {}).get("replicas", 1))
    obj["status"] = {
        "observedGeneration": obj["metadata"].get("generation", 1),
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
        "conditions": [
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        ],
    }


def status(
    code: int,
    reason: str,
    message: str,
    *,
    status: str = "Failure",
    causes: list[Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": status,
        "code": code,
        "reason": reason,
        "message": message,
    }
    if causes:
        body["details"] = {"causes": causes}
    return body


def error(
    code: int,
    reason: str,
    message: str,
    *,
    causes: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> kmock.Response:
    return kmock.Response(
        status=code, payload=status(code, reason, message, causes=causes), headers=headers
    )


def not_found(res: Res, name: str | None) -> kmock.Response:
    return error(404, "NotFound", f'{res.plural} "{name}" not found')
