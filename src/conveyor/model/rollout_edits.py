"""Set image and undo as patches of a Rollout (``kubectl argo rollouts set image|undo``).

Like the actions in ``conveyor.model.rollout_actions`` these are edits of the Rollout, not
calls into its controller: set image rewrites one container's image in the Pod template,
undo copies the Pod template of an earlier revision's ReplicaSet back into the Rollout
(``rollout.argoproj.io/revision`` names a ReplicaSet's revision). A merge patch replaces a
list whole, so the patches carry the full container lists.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from conveyor.model.rollout_actions import ActionPatch, ActionRefused, Patch

REVISION_ANNOTATION = "rollout.argoproj.io/revision"
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _pod_spec(rollout: Patch) -> Patch:
    template = (rollout.get("spec") or {}).get("template") or {}
    spec = template.get("spec") if isinstance(template, dict) else None
    return spec if isinstance(spec, dict) else {}


def set_image(rollout: Patch, container: str, image: str) -> ActionPatch:
    """Give ``container`` (``*``: every container) ``image``; refused if none is named so."""
    pod = _pod_spec(rollout)
    changes: Patch = {}
    for field in CONTAINER_LISTS:
        containers = pod.get(field)
        if not isinstance(containers, list):
            continue
        updated = copy.deepcopy(containers)
        hit = False
        for item in updated:
            if isinstance(item, dict) and container in ("*", item.get("name")):
                item["image"] = image
                hit = True
        if hit:
            changes[field] = updated
    if not changes:
        raise ActionRefused(f"the Rollout has no container named {container!r}")
    return ActionPatch(spec={"spec": {"template": {"spec": changes}}})


def revision_of(replicaset: Patch) -> int | None:
    annotations = (replicaset.get("metadata") or {}).get("annotations") or {}
    try:
        return int(annotations.get(REVISION_ANNOTATION, ""))
    except ValueError:
        return None


def undo(rollout: Patch, replicasets: Iterable[Patch], to_revision: int = 0) -> ActionPatch:
    """Go back to the Pod template of revision ``to_revision`` (0: the one before the
    current), as ``kubectl argo rollouts undo [--to-revision]``."""
    by_revision = {r: rs for rs in replicasets if (r := revision_of(rs)) is not None}
    if not by_revision:
        raise ActionRefused("the Rollout has no earlier revision to go back to")
    if to_revision == 0:
        earlier = sorted(by_revision)[:-1]
        if not earlier:
            raise ActionRefused("the Rollout has no earlier revision to go back to")
        to_revision = earlier[-1]
    chosen = by_revision.get(to_revision)
    if chosen is None:
        known = ", ".join(str(r) for r in sorted(by_revision))
        raise ActionRefused(f"the Rollout has no revision {to_revision} (it has {known})")
    template = copy.deepcopy((chosen.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    current = (rollout.get("spec") or {}).get("template") or {}
    patch: dict[str, Any] = dict(template)
    # merge patch: keys the old template lacks must be removed explicitly
    for key in current:
        patch.setdefault(key, None)
    return ActionPatch(spec={"spec": {"template": patch}})
