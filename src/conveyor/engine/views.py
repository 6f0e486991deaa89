"""Read-side views of an application for the API and CLI: manifests, diff, resource tree.

Everything here is computed from what the controller already holds (the last comparison
and the live-state cache), so reading an app never fetches, renders or lists the target.
Secret values are masked in every view, with equal values getting equal masks.
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.diff import mask_secret
from conveyor.engine.compare import Comparison, compare_objects, prepare
from conveyor.engine.controller import Controller
from conveyor.engine.fleet import owner
from conveyor.engine.validation import project_or_default
from conveyor.errors import NotFoundError, ValidationError
from conveyor.health import assess
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets import patching
from conveyor.targets.protocol import TRACKING_LABEL, PatchType

MERGE_PATCH = PatchType.MERGE.value
JSON_PATCH = PatchType.JSON.value


def _masked(objects: list[Object]) -> list[Object]:
    return [mask_secret(o) if o.get("kind") == "Secret" else o for o in objects]


def manifests(controller: Controller, name: str, source: str = "git") -> list[Object]:
    """The app's objects as Git renders them (``git``) or as they run (``live``)."""
    controller = owner(controller, name)
    if source == "live":
        return _masked([copy.deepcopy(o) for o in controller.live.app_objects(name)])
    if source != "git":
        raise ValidationError(f"source must be git or live, not {source!r}")
    comparison = controller.comparison(name)
    if comparison is None:
        raise NotFoundError(f"application {name!r} has not been compared yet (see its conditions)")
    return _masked(copy.deepcopy(comparison.desired))


def diff(controller: Controller, name: str) -> dict[str, Any]:
    """Per resource: sync status, reason and a unified YAML diff (live -> Git), masked."""
    comparison = controller.comparison(name)
    if comparison is None:
        raise NotFoundError(f"application {name!r} has not been compared yet (see its conditions)")
    return comparison_diff(comparison)


async def diff_at(controller: Controller, name: str, revision: str) -> dict[str, Any]:
    """``diff`` against ``revision`` (a branch, tag or SHA) instead of the target revision:
    looked up in the remote now (as argocd does), rendered, the project rules applied,
    nothing recorded."""
    controller = owner(controller, name)
    spec = controller.app_model(name)
    stored = await controller.repo.get_project(spec.project)
    project = project_or_default(spec.project, stored.manifest if stored else None)
    sha = await controller.comparer.resolve(spec.spec.source.repo_url, revision, force=True)
    comparison = await controller.comparer.compare(
        spec, sha, controller.live.app_objects(name), project=project
    )
    return comparison_diff(comparison)


async def diff_local(controller: Controller, name: str, objects: list[Object]) -> dict[str, Any]:
    """``diff`` against ``objects`` rendered elsewhere (``argocd app diff --local``), under the
    app's project rules and ignoreDifferences; nothing recorded."""
    controller = owner(controller, name)
    spec = controller.app_model(name)
    stored = await controller.repo.get_project(spec.project)
    project = project_or_default(spec.project, stored.manifest if stored else None)
    for index, obj in enumerate(objects):
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        if not isinstance(meta, dict) or not all(
            isinstance(obj.get(f), str) and obj.get(f) for f in ("apiVersion", "kind")
        ):
            raise ValidationError(
                f"manifests[{index}]: an object with apiVersion, kind and metadata is needed"
            )
        ObjectKey.of(obj)  # a name, or a ValidationError
    desired = prepare(copy.deepcopy(objects), spec.name, spec.spec.destination.namespace)
    comparison = compare_objects(
        spec, "local", desired, controller.live.app_objects(name),
        project=project, source_type="Local",
    )  # fmt: skip
    return comparison_diff(comparison)


def orphaned(controller: Controller, objects: list[Object], name: str) -> list[dict[str, Any]]:
    """Argo CD's orphaned resources of an app: top-level objects (no owner) in its destination
    namespace that no application tracks (left by ``delete --cascade=false``, or made by hand)."""
    controller = owner(controller, name)
    namespace = controller.app_model(name).spec.destination.namespace
    tracked = {
        ObjectKey.of(o) for app in controller.names() for o in controller.live.app_objects(app)
    }
    out = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        key = ObjectKey.of(obj)
        if key.namespace != namespace or key in tracked or meta.get("ownerReferences"):
            continue
        out.append({"group": key.group, "kind": key.kind, "namespace": key.namespace,
                    "name": key.name})  # fmt: skip
    return sorted(out, key=lambda r: (r["group"], r["kind"], r["name"]))


def comparison_diff(comparison: Comparison) -> dict[str, Any]:
    """A comparison as the diff view shows it."""
    resources = []
    for res in comparison.diff.resources:
        resources.append(
            {
                "group": res.key.group,
                "kind": res.key.kind,
                "namespace": res.key.namespace,
                "name": res.key.name,
                "status": str(res.status),
                "reason": res.reason,
                "requiresPruning": res.requires_pruning,
                "diff": "" if res.synced else res.unified_diff,
            }
        )
    return {
        "status": str(comparison.diff.status),
        "reason": comparison.diff.reason,
        "revision": comparison.revision,
        "resources": resources,
    }


def resource_tree(controller: Controller, name: str) -> dict[str, Any]:
    """Argo CD's resource tree: the app's objects and, under them, what they own."""
    controller = owner(controller, name)
    nodes: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(obj: Object, parent: Object | None) -> None:
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        if uid in seen:
            return
        seen.add(uid)
        key = ObjectKey.of(obj)
        node: dict[str, Any] = {
            "group": key.group,
            "version": str(obj.get("apiVersion", "")).split("/")[-1],
            "kind": key.kind,
            "namespace": key.namespace,
            "name": key.name,
            "uid": uid,
            "resourceVersion": meta.get("resourceVersion", ""),
            "createdAt": meta.get("creationTimestamp", ""),
            "health": assess(obj).to_dict(),
        }
        if parent is not None:
            pkey = ObjectKey.of(parent)
            node["parentRefs"] = [
                {"group": pkey.group, "kind": pkey.kind, "namespace": pkey.namespace,
                 "name": pkey.name, "uid": parent["metadata"].get("uid", "")}
            ]  # fmt: skip
        images = [
            c.get("image")
            for c in ((obj.get("spec") or {}).get("containers") or [])
            if isinstance(c, dict) and c.get("image")
        ]
        if images:
            node["images"] = images
        nodes.append(node)
        for child in controller.live.children(obj):
            visit(child, obj)

    for obj in controller.live.app_objects(name):
        visit(obj, None)
    return {"nodes": nodes}


def find_resource(
    controller: Controller, name: str, *, kind: str, resource_name: str,
    namespace: str | None = None, group: str | None = None,
) -> Object:  # fmt: skip
    """One object of the app (or owned by it), by kind and name."""
    controller = owner(controller, name)
    candidates = [
        n for n in resource_tree(controller, name)["nodes"]
        if n["kind"] == kind and n["name"] == resource_name
        and (namespace is None or n["namespace"] == namespace)
        and (group is None or n["group"] == group)
    ]  # fmt: skip
    if not candidates:
        raise NotFoundError(f"application {name!r} has no {kind} named {resource_name!r}")
    if len(candidates) > 1:
        raise ValidationError(
            f"{len(candidates)} {kind}s named {resource_name!r}: give --namespace or --group"
        )
    node = candidates[0]
    obj = controller.live.get(ObjectKey(node["group"], kind, node["namespace"], resource_name))
    if obj is None:
        raise NotFoundError(f"{kind} {resource_name!r} is gone")
    return obj


async def patch_resource(
    controller: Controller,
    name: str,
    *,
    kind: str,
    resource_name: str,
    patch: Any,
    patch_type: str = MERGE_PATCH,
    namespace: str | None = None,
    group: str | None = None,
    subresource: str | None = None,
) -> Object:
    """Patch a live object of the app, as ``argocd app patch-resource`` does; with
    ``subresource="status"``, its status (as Argo CD's resource actions do).

    A live change: with selfHeal on, the controller reverts it to what Git says.
    """
    controller = owner(controller, name)
    kind_of_patch = patching.patch_type_of(patch_type)
    patching.check_subresource(subresource)
    live = find_resource(
        controller, name, kind=kind, resource_name=resource_name, namespace=namespace, group=group
    )
    # Judged on the cached object first, so that nothing is sent that would break the rules.
    _same_identity(live, patching.apply_patch(live, patch, kind_of_patch))
    result = await controller.target.patch(
        ObjectKey.of(live),
        patch,
        patch_type=kind_of_patch,
        subresource=subresource,
        field_manager="patch-resource",
    )
    controller.live.observe(result)
    return _masked([result])[0]


def _same_identity(live: Object, patched: Object) -> None:
    """A patch changes a resource; it never turns it into another one, moves it, or takes
    it away from its app (which would escape the AppProject's rules and pruning)."""
    patching.same_identity(live, patched)
    labels = (patched.get("metadata") or {}).get("labels")
    old = (live.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, dict) or labels.get(TRACKING_LABEL) != old.get(TRACKING_LABEL):
        raise ValidationError(f"a patch may not change the {TRACKING_LABEL} label")
