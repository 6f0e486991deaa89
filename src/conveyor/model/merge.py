"""Apply semantics: a three-way merge, as ``kubectl apply`` does.

Conveyor owns the fields it applied last time. A field it applied before and no longer applies
is removed; a field someone else set (a label added by hand, a field the runtime filled in) is
kept. What Conveyor applied last is recorded in the last-applied-configuration annotation,
which Argo CD users know and which the differ ignores.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from conveyor.model.objects import Object

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

_MISSING = object()


def _merge(live: Any, last: Any, desired: Any) -> Any:
    """Merge ``desired`` into ``live``, removing what ``last`` had and ``desired`` dropped."""
    if not isinstance(desired, dict) or not isinstance(live, dict):
        return copy.deepcopy(desired)
    last_map = last if isinstance(last, dict) else {}
    merged = dict(live)
    for key in last_map:
        if key not in desired:
            merged.pop(key, None)
    for key, value in desired.items():
        merged[key] = _merge(live.get(key, _MISSING), last_map.get(key), value)
    return merged


def last_applied(obj: Object) -> Object | None:
    """What the field manager applied last time, or None."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def applied_view(desired: Object) -> Object:
    """The part of an applied object that is recorded: no status, no annotation recursion."""
    view = {k: v for k, v in desired.items() if k != "status"}
    meta = dict(view.get("metadata") or {})
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    view["metadata"] = meta
    return view


def three_way_apply(live: Object | None, desired: Object) -> Object:
    """The object that results from applying ``desired`` over ``live``.

    Status is never applied (it is the runtime's). The result carries the new
    last-applied-configuration annotation.
    """
    view = applied_view(desired)
    if live is None:
        result = copy.deepcopy(view)
    else:
        base = {k: v for k, v in live.items()}
        result = _merge(base, last_applied(live), view)
        if "status" in live:
            result["status"] = live["status"]
    meta = result.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations[LAST_APPLIED] = json.dumps(view, sort_keys=True, separators=(",", ":"))
    meta["annotations"] = annotations
    return result


def replaced(live: Object | None, desired: Object) -> Object:
    """The object that results from replacing ``live`` by ``desired`` (``kubectl replace``):
    exactly the manifest, no last-applied record, the live status kept."""
    result = copy.deepcopy(applied_view(desired))
    if live is not None and "status" in live:
        result["status"] = copy.deepcopy(live["status"])
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge key by key, ``null`` removes, anything else
    replaces. ``target`` is not modified."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out
