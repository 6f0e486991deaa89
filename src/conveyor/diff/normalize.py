"""Normalization: turn desired and live into forms where "equal" means "in sync".

A live object always differs from its manifest: the server adds identity fields (uid,
resourceVersion…), status, the last-applied annotation, and defaults (a Deployment's
``strategy``, a container's ``imagePullPolicy``, a Service port's ``protocol``). None of that
is a difference a sync could remove. So, close to what server-side apply does:

- server-set metadata, ``status`` and the last-applied annotation are dropped on both sides;
- live is projected onto the shape of desired: only the fields desired has are kept. Lists of
  maps with a merge key (``name`` for containers, env, volumes; ``containerPort``; ``port``;
  ``mountPath``…) are matched item by item by that key; other lists are compared whole;
- fields Conveyor applied before (the last-applied annotation) also count, so a field removed
  from Git but still live shows as a difference, as in Argo CD's three-way diff;
- a desired ``null`` means "not set"; an empty desired value (``{}``, ``[]``, ``""``, ``0``,
  ``false``) equals an absent live one, as Go's ``omitempty`` drops them;
- resource quantities compare by amount (``cpu: 1`` equals ``cpu: 1000m``);
- Secret ``stringData`` is folded into base64 ``data`` on both sides;
- the ``rollouts-pod-template-hash`` that Argo Rollouts injects into a Service's selector is
  the Rollout controller's field: live's is ignored when desired has none (as Argo CD does,
  the controller owning it), so the Service stays Synced and self-heal never removes it.

Nothing here copies more than it must: desired is returned as is when it needs no change, and
only the projected live object is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from conveyor.diff.quantity import same_quantity
from conveyor.diff.secrets import fold_string_data
from conveyor.model.merge import LAST_APPLIED, last_applied
from conveyor.model.objects import SERVER_METADATA, Object, ObjectKey

# Maps whose values are quantities (resources.limits, a PVC's requests, a quota's hard…).
QUANTITY_MAPS = frozenset({"limits", "requests", "capacity", "allocatable", "hard", "overhead"})
# Keys whose value is a quantity wherever they appear.
QUANTITY_KEYS = frozenset({"sizeLimit"})
# Keys that identify an item of a list of maps, tried in order (strategic merge keys).
MERGE_KEYS = ("name", "containerPort", "port", "mountPath", "devicePath", "ip")

_ABSENT: Any = object()
ROLLOUTS_HASH = "rollouts-pod-template-hash"


class Normalizer(Protocol):
    """One step that rewrites an object before comparing (e.g. an ignoreDifferences rule)."""

    def normalize(self, key: ObjectKey, obj: Object) -> Object:
        """``obj`` rewritten; returns a new object (or ``obj`` itself), never changes it."""
        ...


def normalize(
    desired: Object,
    live: Object,
    *,
    key: ObjectKey | None = None,
    normalizers: Sequence[Normalizer] = (),
) -> tuple[Object, Object]:
    """Desired and live in comparable forms: ``desired == live`` iff they are in sync.

    ``normalizers`` (ignoreDifferences rules…) run on both sides first; they need ``key``.
    """
    live = without_injected_selector(desired, live)
    owned = last_applied(live)
    desired, live = fold_string_data(desired), fold_string_data(live)
    if owned is not None:
        owned = fold_string_data(owned)
    if normalizers:
        if key is None:
            raise ValueError("normalize: normalizers need the object's key")
        for step in normalizers:
            desired, live = step.normalize(key, desired), step.normalize(key, live)
            owned = step.normalize(key, owned) if owned is not None else None
    # Live needs no stripping: the projection keeps only what desired (or owned) has.
    d = strip_server_fields(desired)
    la = strip_server_fields(owned) if owned is not None else None
    if la == d:
        la = None  # what was applied is what is desired: nothing else is owned
    nd, nl = _project(d, live, la, None, False)
    return nd, nl


def without_injected_selector(desired: Object, live: Object) -> Object:
    """``live`` without the selector key a Rollout injected when desired does not set it."""
    if live.get("kind") != "Service" or desired.get("kind") != "Service":
        return live
    live_selector = (live.get("spec") or {}).get("selector")
    wanted = (desired.get("spec") or {}).get("selector")
    if not isinstance(live_selector, dict) or ROLLOUTS_HASH not in live_selector:
        return live
    if isinstance(wanted, dict) and ROLLOUTS_HASH in wanted:
        return live
    selector = {k: v for k, v in live_selector.items() if k != ROLLOUTS_HASH}
    return {**live, "spec": {**live["spec"], "selector": selector}}


def strip_server_fields(obj: Object) -> Object:
    """``obj`` without status, server-set metadata and the last-applied annotation.

    Returns ``obj`` itself when there is nothing to remove; never changes it.
    """
    meta = obj.get("metadata")
    clean_meta = _strip_metadata(meta) if isinstance(meta, dict) else meta
    if "status" not in obj and clean_meta is meta:
        return obj
    out = {k: v for k, v in obj.items() if k != "status"}
    if meta is not None:
        out["metadata"] = clean_meta
    return out


def _strip_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    annotations = meta.get("annotations")
    has_applied = isinstance(annotations, dict) and LAST_APPLIED in annotations
    if not has_applied and SERVER_METADATA.isdisjoint(meta):
        return meta
    out = {k: v for k, v in meta.items() if k not in SERVER_METADATA}
    if has_applied:
        rest = {k: v for k, v in annotations.items() if k != LAST_APPLIED}  # type: ignore[union-attr]
        if rest:
            out["annotations"] = rest
        else:
            del out["annotations"]
    return out


def _project(d: Any, lv: Any, la: Any, key: str | None, qty: bool) -> tuple[Any, Any]:
    """(desired, live projected onto desired); ``la`` is the owned (last-applied) subtree."""
    if d.__class__ is dict:
        if lv.__class__ is dict:
            return _project_map(d, lv, la if la.__class__ is dict else None, key)
        return _clean(d), lv
    if d.__class__ is list:
        if lv.__class__ is list:
            return _project_list(d, lv, la if la.__class__ is list else None, key)
        return _clean(d), lv
    if d == lv or (qty and same_quantity(d, lv)):
        return d, d
    return d, lv


def _project_map(
    d: dict[str, Any], lv: dict[str, Any], la: dict[str, Any] | None, key: str | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    quantities = key in QUANTITY_MAPS
    nd = d
    nl: dict[str, Any] = {}
    for k, dv in d.items():
        live_value = lv.get(k, _ABSENT)
        if dv == live_value:
            nl[k] = dv  # the common case, compared in C: an equal value or subtree
            continue
        if dv is None or (live_value is _ABSENT and not dv):
            if nd is d:
                nd = dict(d)
            del nd[k]
            continue
        if live_value is _ABSENT:
            cd = _clean(dv)
        else:
            owned = la.get(k) if la is not None else None
            cd, nl[k] = _project(dv, live_value, owned, k, quantities or k in QUANTITY_KEYS)
        if cd is not dv:
            if nd is d:
                nd = dict(d)
            nd[k] = cd
    if la is not None:
        for k, owned in la.items():
            if k not in d and k in lv and owned is not None:
                nl[k] = _project(owned, lv[k], owned, k, quantities or k in QUANTITY_KEYS)[1]
    return nd, nl


def _project_list(
    d: list[Any], lv: list[Any], la: list[Any] | None, key: str | None
) -> tuple[list[Any], list[Any]]:
    if not d:
        return d, lv
    merge_key = merge_key_of(d, lv)
    if merge_key is None:
        return _project_positional(d, lv, la, key)
    live_by = {item[merge_key]: item for item in lv if item.get(merge_key) is not None}
    owned_by = _index(la, merge_key)
    nd = d
    nl: list[Any] = []
    for i, item in enumerate(d):
        live_item = live_by.get(item[merge_key], _ABSENT)
        if live_item is _ABSENT:
            cd = _clean(item)
        else:
            owned = owned_by.get(item[merge_key]) if owned_by else None
            cd, cl = _project(item, live_item, owned, key, False)
            nl.append(cl)
        if cd is not item:
            if nd is d:
                nd = list(d)
            nd[i] = cd
    if owned_by:
        wanted = {item[merge_key] for item in d}
        for value, owned in owned_by.items():
            if value not in wanted and value in live_by:
                nl.append(_project(owned, live_by[value], owned, key, False)[1])
    return nd, nl


def _project_positional(
    d: list[Any], lv: list[Any], la: list[Any] | None, key: str | None
) -> tuple[list[Any], list[Any]]:
    """Lists without a merge key are compared whole, item by item in order."""
    if all(item.__class__ not in (dict, list) for item in d):
        return d, lv
    nd = d
    nl: list[Any] = []
    for i, live_item in enumerate(lv):
        if i >= len(d):
            nl.append(live_item)
            continue
        owned = la[i] if la is not None and i < len(la) else None
        cd, cl = _project(d[i], live_item, owned, key, False)
        nl.append(cl)
        if cd is not d[i]:
            if nd is d:
                nd = list(d)
            nd[i] = cd
    return nd, nl


def merge_key_of(d: list[Any], lv: list[Any]) -> str | None:
    """The key that identifies items of these lists of maps, or None (compare in order)."""
    for item in d:
        if item.__class__ is not dict:
            return None
    for item in lv:
        if item.__class__ is not dict:
            return None
    for candidate in MERGE_KEYS:
        values = set()
        for item in d:
            value = item.get(candidate)
            if value.__class__ is not str and value.__class__ is not int:
                break
            values.add(value)
        else:
            if len(values) == len(d):
                return candidate
    return None


def _index(items: list[Any] | None, merge_key: str) -> dict[Any, Any] | None:
    if not items:
        return None
    out = {}
    for item in items:
        value = item.get(merge_key) if item.__class__ is dict else None
        if value is not None and value.__class__ in (str, int):
            out[value] = item
    return out or None


def _clean(value: Any) -> Any:
    """A desired value with its nulls ("not set") removed; ``value`` itself if it has none."""
    if value.__class__ is dict:
        out = None
        for k, v in value.items():
            cv = _clean(v) if v is not None else _ABSENT
            if cv is not v:
                if out is None:
                    out = dict(value)
                if cv is _ABSENT:
                    del out[k]
                else:
                    out[k] = cv
        return value if out is None else out
    if value.__class__ is list:
        cleaned = [_clean(v) for v in value]
        return value if all(a is b for a, b in zip(cleaned, value, strict=True)) else cleaned
    return value
