"""Deleting an application's live objects: in the reverse of the order a sync applies them.

A sync applies Namespaces first, then what configures workloads, then the workloads
(``syncplan.KIND_ORDER``, wave by wave); a cascade delete undoes that: later waves first, and
within a wave what uses other objects before what it uses, Namespaces last.
"""

from __future__ import annotations

from conveyor.engine.livestate import LiveState
from conveyor.engine.syncplan import KIND_ORDER, kept_on_app_delete, wave_of
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.syncoptions import SyncOptions
from conveyor.targets.protocol import Target

_RANK = {kind: n for n, kind in enumerate(KIND_ORDER)}


def _applied(obj: Object) -> tuple[int, int, str, str]:
    meta = obj.get("metadata") or {}
    return (
        wave_of(obj),
        _RANK.get(str(obj.get("kind", "")), len(KIND_ORDER)),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def delete_order(objects: list[Object]) -> list[Object]:
    """``objects`` in the reverse of their apply order."""
    return sorted(objects, key=_applied, reverse=True)


async def delete_all(
    target: Target, live: LiveState, objects: list[Object], options: SyncOptions
) -> None:
    """Delete ``objects`` from ``target`` in delete order, forgetting each in ``live``; what
    ``Delete=false`` (the app's or the object's sync option) keeps stays."""
    for obj in delete_order(objects):
        if kept_on_app_delete(obj, options):
            continue
        key = ObjectKey.of(obj)
        await target.delete(key)
        live.forget(key)
