"""Secret values: compared by content, never shown.

Two things make Secrets special in a diff:

- ``stringData`` is a write-only convenience: the API server folds it into base64 ``data``.
  A manifest with ``stringData: {password: s3cret}`` is in sync with a live Secret holding
  ``data: {password: czNjcmV0}``, so both sides are folded before comparing.
- Values must never reach a diff, the API, the UI or a log. Like Argo CD, each value is
  replaced by a run of ``+``: per key, the first distinct value gets ``++++++++``, the next
  ``++++++++++++`` and so on, across desired, live and the live last-applied annotation. Equal
  values get equal masks, so a changed value still shows as a change, and nothing about the
  value itself (not even its length) is revealed.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from conveyor.model.merge import LAST_APPLIED
from conveyor.model.objects import Object

MASK = "++++++++"
_SECRET_FIELDS = ("data", "stringData")


def is_secret(obj: Object | None) -> bool:
    """Whether ``obj`` is a Secret of the core group, whatever version it claims.

    Masking errs on the safe side: a ``v2`` or misspelled version is still masked.
    """
    if obj is None or obj.get("kind") != "Secret":
        return False
    return "/" not in str(obj.get("apiVersion") or "")


def fold_string_data(obj: Object) -> Object:
    """``obj`` with ``stringData`` folded into base64 ``data``, as the API server stores it.

    Returns ``obj`` itself when there is nothing to fold; never changes ``obj``.
    """
    string_data = obj.get("stringData")
    if not is_secret(obj) or not isinstance(string_data, dict):
        return obj
    out = dict(obj)
    del out["stringData"]
    data = dict(obj.get("data") or {})
    for key, value in string_data.items():
        if value is not None:
            data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        out["data"] = data
    return out


def mask_secrets(
    desired: Object | None, live: Object | None
) -> tuple[Object | None, Object | None]:
    """Copies of a desired/live pair with every Secret value masked (others unchanged).

    Masks are assigned per key across both objects, so equal values get equal masks.
    """
    if not is_secret(desired) and not is_secret(live):
        return desired, live
    masks = _Masks()
    return (
        _mask(desired, masks) if is_secret(desired) else desired,
        _mask(live, masks) if is_secret(live) else live,
    )


def mask_secret(obj: Object) -> Object:
    """A copy of ``obj`` with its Secret values masked, for manifests output and logs."""
    return mask_secrets(obj, None)[0] or obj


class _Masks:
    """The mask each distinct value of each key gets, in order of first sight."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[bytes, str]] = {}

    def mask(self, key: str, value: bytes) -> str:
        per_key = self._seen.setdefault(key, {})
        if value not in per_key:
            per_key[value] = MASK + "++++" * len(per_key)
        return per_key[value]


def _mask(obj: Object | None, masks: _Masks) -> Object | None:
    if obj is None:
        return None
    out = dict(obj)
    for field in _SECRET_FIELDS:
        values = obj.get(field)
        if isinstance(values, dict):
            out[field] = {
                key: None if value is None else masks.mask(str(key), _content(field, value))
                for key, value in values.items()
            }
        elif values is not None:  # a malformed shape (a list, a string): hide it whole
            out[field] = masks.mask(f"<{field}>", repr(values).encode())
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if isinstance(meta, dict) and isinstance(annotations, dict) and LAST_APPLIED in annotations:
        out["metadata"] = {
            **meta,
            "annotations": {**annotations, LAST_APPLIED: _mask_last_applied(annotations, masks)},
        }
    return out


def _mask_last_applied(annotations: dict[str, Any], masks: _Masks) -> str:
    try:
        applied = json.loads(annotations[LAST_APPLIED])
    except (TypeError, ValueError):
        return MASK
    if not isinstance(applied, dict):
        return MASK
    return json.dumps(_mask(applied, masks), sort_keys=True, separators=(",", ":"))


def _content(field: str, value: Any) -> bytes:
    """The bytes a value stands for, so that ``data`` and ``stringData`` forms compare."""
    text = str(value)
    if field == "stringData":
        return text.encode()
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()
