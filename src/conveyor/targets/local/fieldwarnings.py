"""``FieldNotHonoured`` Warning events, once per pod template, on the object a person wrote.

The runtime calls ``FieldWarnings.check`` as it reconciles a Pod or a workload
(``unhonoured.POD_TEMPLATE_KINDS``). Only objects without a controlling owner are checked: a
Deployment's ReplicaSets and Pods carry the Deployment's template, and the warning belongs on
the Deployment, in the app's resource tree, where it is said once per template revision
rather than once per Pod or restart. The work is keyed by the object's uid and
``metadata.generation``, so a reconcile that changes nothing costs one dict lookup; a new
generation whose template is unchanged (a scale) says nothing again.

Events are in memory: after a restart of Conveyor, the first reconcile of each object says
them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.unhonoured import REASON, HostUser, pod_spec_fields, pod_template_of

Record = Callable[[ObjectKey, str, str, str], None]
"""(object, reason, message, type): ``EventRecorder.record``."""


class FieldWarnings:
    """Says, once per pod template, which of its fields the runtime does not honour."""

    def __init__(self, record: Record, user: HostUser | None = None) -> None:
        self._record = record
        self._user = user or HostUser.current()
        self._seen: dict[ObjectKey, tuple[str, int]] = {}
        """The (uid, generation) last checked, per object."""
        self._templates: dict[ObjectKey, tuple[str, str]] = {}
        """The (uid, template fingerprint) last warned about, per object."""

    def check(self, key: ObjectKey, obj: Object) -> None:
        """Record the warnings for ``obj``'s pod template unless already said for it."""
        meta = obj.get("metadata") or {}
        if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
            return
        uid = str(meta.get("uid") or "")
        seen = (uid, int(meta.get("generation") or 0))
        if self._seen.get(key) == seen:
            return
        self._seen[key] = seen
        found = pod_template_of(obj)
        if found is None:
            return
        spec, where = found
        fingerprint = hashlib.sha256(
            json.dumps(spec, sort_keys=True, default=str).encode()
        ).hexdigest()
        if self._templates.get(key) == (uid, fingerprint):
            return
        self._templates[key] = (uid, fingerprint)
        for field in pod_spec_fields(spec, where, self._user):
            self._record(key, REASON, field.message, "Warning")

    def forget(self, key: ObjectKey) -> None:
        """Drop what is remembered of a deleted object."""
        self._seen.pop(key, None)
        self._templates.pop(key, None)
