"""The cluster's resource types, from its discovery endpoints, CRDs included.

``/api/v1`` and ``/apis/<group>/<version>`` list each resource with its kind, plural name,
scope (namespaced or not) and verbs. The list is cached; a kind that is not in it (a CRD just
applied) makes it read again, at most once per ``min_refresh`` seconds, before the kind is
called unknown. The scope of a kind comes from here, never from a list of built-in kinds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from conveyor.targets.kubernetes.api import KubeApi
from conveyor.targets.protocol import UnknownKindError

_POLL = 0.5
"""Seconds between looks while waiting for a new kind to be served."""


@dataclass(frozen=True)
class ResourceType:
    """One resource the API server serves."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str = "", name: str = "", subresource: str = "") -> str:
        """The REST path of the collection, or of one object (and its subresource)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base

    @property
    def watchable(self) -> bool:
        return {"list", "watch"} <= self.verbs


class Discovery:
    """The cached resource list of one cluster."""

    def __init__(
        self,
        api: KubeApi,
        *,
        min_refresh: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._min_refresh = min_refresh
        self._monotonic = monotonic
        self._by_gvk: dict[tuple[str, str, str], ResourceType] = {}
        self._preferred: dict[tuple[str, str], ResourceType] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def resources(self) -> list[ResourceType]:
        """Every resource type, preferred versions only, in a stable order."""
        return sorted(self._preferred.values(), key=lambda r: (r.group, r.kind))

    async def refresh(self, *, force: bool = True) -> None:
        """Read the resource list again (unless read less than ``min_refresh`` ago)."""
        async with self._lock:
            now = self._monotonic()
            recent = self._loaded_at is not None and now - self._loaded_at < self._min_refresh
            if recent and not force:
                return
            by_gvk: dict[tuple[str, str, str], ResourceType] = {}
            preferred: dict[tuple[str, str], ResourceType] = {}
            versions: list[tuple[str, str, bool]] = [("", "v1", True)]
            groups = await self._api.request("GET", "/apis", what="discovery")
            for group in groups.get("groups") or []:
                best = (group.get("preferredVersion") or {}).get("version")
                for version in group.get("versions") or []:
                    v = version.get("version")
                    if v:
                        versions.append((group["name"], v, v == best))
            lists = await asyncio.gather(
                *(self._resources(g, v) for g, v, _ in versions), return_exceptions=True
            )
            for (group_name, _, is_preferred), found in zip(versions, lists, strict=True):
                if isinstance(found, BaseException):
                    if group_name == "":
                        raise found
                    continue  # an aggregated API that is down hides its group only
                for res in found:
                    by_gvk[(res.group, res.version, res.kind)] = res
                    if is_preferred or (res.group, res.kind) not in preferred:
                        preferred[(res.group, res.kind)] = res
            self._by_gvk, self._preferred = by_gvk, preferred
            self._loaded_at = self._monotonic()

    async def _resources(self, group: str, version: str) -> list[ResourceType]:
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        answer = await self._api.request("GET", path, what=f"discovery {path}")
        found = []
        for item in answer.get("resources") or []:
            name = str(item.get("name", ""))
            if not name or "/" in name:  # subresources (pods/log, deployments/status)
                continue
            found.append(
                ResourceType(
                    group=group,
                    version=version,
                    kind=str(item.get("kind", "")),
                    plural=name,
                    namespaced=bool(item.get("namespaced")),
                    verbs=frozenset(str(v) for v in item.get("verbs") or []),
                )
            )
        return found

    def cached(self, group: str, kind: str, version: str | None = None) -> ResourceType | None:
        if version is None:
            return self._preferred.get((group, kind))
        return self._by_gvk.get((group, version, kind))

    async def find(
        self, group: str, kind: str, version: str | None = None, *, wait: float = 0.0
    ) -> ResourceType:
        """The resource type, reading the list again on a miss; UnknownKindError.

        With ``wait``, a kind still missing is looked for again for that many seconds: a
        CustomResourceDefinition applied a moment ago takes a while to be served.
        """
        if self._loaded_at is None:
            await self.refresh()
        found = self.cached(group, kind, version)
        if found is None:
            await self.refresh(force=False)
            found = self.cached(group, kind, version)
        deadline = self._monotonic() + wait
        while found is None and self._monotonic() < deadline:
            await asyncio.sleep(min(_POLL, max(deadline - self._monotonic(), 0.0)))
            await self.refresh()
            found = self.cached(group, kind, version)
        if found is None:
            api_version = f"{group}/{version}" if group and version else (version or group or "v1")
            raise UnknownKindError(
                f'the cluster serves no resource of kind "{kind}" in version '
                f'"{api_version or group}": is its CustomResourceDefinition installed?'
            )
        return found
