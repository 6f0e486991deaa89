"""A Kubernetes API server for the Kubernetes target's tests: kmock on 127.0.0.1.

kmock serves discovery (from the resources declared here) and records every request; the
reactions below keep objects the way an API server does, over real HTTP: server-side apply
(create or merge, ``dryRun=All`` stores nothing, a field another manager owns is a 409 naming
it), PUT and POST, merge patches of a resource or its status subresource, DELETE with the
propagation policy (children go with their owner unless orphaned), list with a
resourceVersion, and watch streams that resume from a version, send bookmarks, answer 410
Gone for a compacted version and can be cut in the middle. Workloads settle as a healthy
cluster's controllers would, unless a test holds them. Tests inject the API server's errors
with kmock's own DSL (``api.kmock[criteria][:1] << Response(...)``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import kmock

from conveyor.model.merge import merge_patch
from support.kube_objects import (
    Res,
    at,
    av,
    error,
    in_namespace,
    leaves,
    new_meta,
    not_found,
    record_apply,
    settle,
    status,
)

_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>[^/]+))?$"
)
RESOURCE_PATHS = re.compile(r"^/api/v1/.+|^/apis/[^/]+/[^/]+/.+")

VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}


BUILT_IN = (
    # Namespaces are served without list/watch: kmock cannot parse the path /api/v1/namespaces.
    Res("", "v1", "namespaces", "Namespace", namespaced=False),
    Res("", "v1", "configmaps", "ConfigMap"),
    Res("", "v1", "secrets", "Secret"),
    Res("", "v1", "services", "Service"),
    Res("", "v1", "pods", "Pod"),
    Res("", "v1", "events", "Event"),
    Res("apps", "v1", "deployments", "Deployment"),
    Res("apps", "v1", "replicasets", "ReplicaSet"),
    Res("batch", "v1", "jobs", "Job"),
    Res("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    Res("argoproj.io", "v1alpha1", "rollouts", "Rollout"),
)


@dataclass
class Watcher:
    res: Res
    namespace: str | None
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)


class KubeApiServer:
    """The state behind the kmock reactions; ``kmock`` is the running handler."""

    def __init__(self, handler: kmock.KubernetesScaffold, *, settle: bool = True) -> None:
        self.kmock = handler
        self.settle = settle
        self.resources: dict[tuple[str, str, str], Res] = {}
        self.objects: dict[tuple[Res, str, str], dict[str, Any]] = {}
        self.history: list[tuple[int, Res, dict[str, Any]]] = []
        self.compacted = 0
        """Watches from a version below this get 410 Gone."""
        self.deletes: list[tuple[str, str]] = []
        """(path, propagationPolicy) of every DELETE."""
        self.events: list[dict[str, Any]] = []
        self.logs: dict[tuple[str, str], list[str]] = {}
        self.held: set[str] = set()
        self._version = itertools.count(100)
        self._watchers: list[Watcher] = []
        for res in BUILT_IN:
            self.serve(res)
        handler.fallback[RESOURCE_PATHS] << self._react

    def serve(self, res: Res) -> None:
        """Declare a resource in discovery (a CRD being installed)."""
        verbs = VERBS - ({"list", "watch"} if res.plural == "namespaces" else set())
        info = kmock.ResourceInfo(kind=res.kind, namespaced=res.namespaced, verbs=verbs)
        self.kmock.resources[f"{res.group}/{res.version}/{res.plural}".lstrip("/")] = info
        self.resources[(res.group, res.version, res.plural)] = res

    # -- what tests look at and do -----------------------------------------------------------

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        for (res, ns, n), obj in self.objects.items():
            if res.plural == plural and ns == namespace and n == name:
                return obj
        return None

    def own(self, plural: str, namespace: str, name: str, path: str, manager: str) -> None:
        """Make ``manager`` own the field ``path`` (``.spec.replicas``), as a client-side
        ``Update`` would (a ``kubectl edit``, ``kubectl apply``, an HPA)."""
        key = next(
            k for k in self.objects if (k[0].plural, k[1], k[2]) == (plural, namespace, name)
        )
        live = copy.deepcopy(self.objects[key])
        fields: dict[str, Any] = {}
        node = fields
        for part in path.strip(".").split("."):
            node = node.setdefault(f"f:{part}", {})
        live["metadata"].setdefault("managedFields", []).append(
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": av(key[0]),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            }
        )
        self._store(key, live, "MODIFIED")

    async def write(self, obj: dict[str, Any], *, manager: str = "kubectl-edit") -> None:
        """Change an object as someone else would (kubectl edit, a controller)."""
        res = self._res_of(obj)
        meta = obj["metadata"]
        key = (res, meta.get("namespace", "") if res.namespaced else "", meta["name"])
        obj = copy.deepcopy(obj)
        live = self.objects.get(key)
        for field_name in ("uid", "creationTimestamp", "generation"):
            default = live["metadata"].get(field_name) if live else None
            obj["metadata"].setdefault(field_name, default or new_meta()[field_name])
        self._store(key, obj, "MODIFIED" if live else "ADDED")

    def bookmark(self) -> None:
        """Every open watch gets a BOOKMARK at the current version."""
        version = str(self._current())
        for watcher in self._watchers:
            watcher.queue.put_nowait(
                {
                    "type": "BOOKMARK",
                    "object": {
                        "kind": watcher.res.kind,
                        "apiVersion": av(watcher.res),
                        "metadata": {"resourceVersion": version},
                    },
                }
            )

    def compact(self) -> None:
        """Forget history: a watch resuming from an older version gets 410 Gone."""
        self.compacted = self._current() + 1

    def expire_watches(self) -> None:
        """Send 410 Gone as an ERROR event on every open watch (etcd compacted under it)."""
        self.compact()
        for watcher in self._watchers:
            watcher.queue.put_nowait(
                {"type": "ERROR", "object": status(410, "Expired", "too old resource version")}
            )

    def cut_watches(self) -> None:
        """Drop every open watch stream in the middle (the connection is closed)."""
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)

    @property
    def open_watches(self) -> int:
        return len(self._watchers)

    # -- the API ------------------------------------------------------------------------------

    def _current(self) -> int:
        return self.history[-1][0] if self.history else 99

    def _res_of(self, obj: dict[str, Any]) -> Res:
        group, _, version = str(obj["apiVersion"]).rpartition("/")
        return next(
            r
            for r in self.resources.values()
            if (r.group, r.version, r.kind) == (group, version, obj["kind"])
        )

    async def _react(self, request: kmock.Request) -> kmock.Response:
        # Always a fresh Response with its status: kmock keeps the status of the last
        # Response a callable returned on the reaction itself, for every later request.
        result = self._answer(request)
        if isinstance(result, kmock.Response):
            return result
        return kmock.Response(status=200, payload=result)

    def _answer(self, request: kmock.Request) -> Any:
        match = _PATH.match(request.url.path)
        if match is None:
            return error(404, "NotFound", "the server could not find the requested resource")
        group = match["group"] or ""
        version = match["version"] or match["core"]
        res = self.resources.get((group, version, match["plural"]))
        if res is None:
            return error(404, "NotFound", "the server could not find the requested resource")
        namespace = match["ns"] or ""
        name, sub = match["name"], match["sub"]
        if res.plural == "pods" and sub == "log":
            return "".join(
                f"{line}\n" for line in self.logs.get((namespace, name or ""), [])
            ).encode()
        method = (
            request.method.value.upper()
            if hasattr(request.method, "value")
            else str(request.method).upper()
        )
        params = dict(request.params)
        if method == "GET" and params.get("watch") == "true":
            return self._watch(request, res, match["ns"], params.get("resourceVersion"))
        if method == "GET" and name is None:
            return self._list(res, match["ns"], params)
        key = (res, namespace if res.namespaced else "", name or "")
        if method == "GET":
            obj = self.objects.get(key)
            return copy.deepcopy(obj) if obj else not_found(res, name)
        if method == "PATCH":
            return self._patch(key, request, params, sub)
        if method == "PUT":
            return self._put(key, request.data, params)
        if method == "POST":
            body = request.data
            key = (res, namespace if res.namespaced else "", body["metadata"]["name"])
            if key in self.objects:
                return error(409, "AlreadyExists", f'{res.plural} "{key[2]}" already exists')
            return self._create(key, body, params)
        if method == "DELETE":
            return self._delete(key, request)
        return error(405, "MethodNotAllowed", method)

    def _list(self, res: Res, namespace: str | None, params: dict[str, str]) -> dict[str, Any]:
        wanted = dict(
            p.split("=", 1) for p in params.get("labelSelector", "").split(",") if "=" in p
        )
        items = []
        for (r, ns, _), obj in sorted(self.objects.items(), key=lambda i: (i[0][1], i[0][2])):
            labels = obj["metadata"].get("labels") or {}
            if (
                r == res
                and (namespace is None or ns == namespace)
                and all(labels.get(k) == v for k, v in wanted.items())
            ):
                items.append(
                    {k: v for k, v in copy.deepcopy(obj).items() if k not in ("apiVersion", "kind")}
                )
        if res.plural == "events":
            items = copy.deepcopy(self.events)
        return {
            "kind": f"{res.kind}List",
            "apiVersion": av(res),
            "metadata": {"resourceVersion": str(self._current())},
            "items": items,
        }

    async def _watch(
        self, request: kmock.Request, res: Res, namespace: str | None, since: str | None
    ) -> AsyncIterator[Any]:
        yield b""
        if since and int(since) < self.compacted:
            yield {
                "type": "ERROR",
                "object": status(410, "Expired", f"too old resource version: {since}"),
            }
            return
        watcher = Watcher(res, namespace)
        self._watchers.append(watcher)
        try:
            start = int(since) if since else 0
            for version, r, event in list(self.history):
                if r == res and version > start and in_namespace(event["object"], namespace):
                    yield copy.deepcopy(event)
            while True:
                event = await watcher.queue.get()
                if event is None:  # cut: close the connection in the middle of the response
                    raw = request._raw_request  # kmock keeps aiohttp's request, "at your own risk"
                    if raw is not None and raw.transport is not None:
                        raw.transport.close()
                    return
                if event["type"] in ("BOOKMARK", "ERROR") or in_namespace(
                    event["object"], namespace
                ):
                    yield event
                if event["type"] == "ERROR":
                    return
        finally:
            self._watchers.remove(watcher)

    def _store(self, key: tuple[Res, str, str], obj: dict[str, Any], kind: str) -> dict[str, Any]:
        res = key[0]
        version = next(self._version)
        obj["metadata"]["resourceVersion"] = str(version)
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            if self.settle and obj["metadata"]["name"] not in self.held:
                settle(obj)
            self.objects[key] = obj
        event = {"type": kind, "object": copy.deepcopy(obj)}
        self.history.append((version, res, event))
        for watcher in self._watchers:
            if watcher.res == res:
                watcher.queue.put_nowait(copy.deepcopy(event))
        return copy.deepcopy(obj)

    def _create(
        self, key: tuple[Res, str, str], body: dict[str, Any], params: dict[str, str]
    ) -> Any:
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if key[1]:
            meta["namespace"] = key[1]
        meta.update(uid=str(uuid.uuid4()), generation=1, creationTimestamp="2026-12-05T00:00:00Z")
        meta["managedFields"] = []
        record_apply(obj, body, params.get("fieldManager", ""), av(key[0]))
        if params.get("dryRun") == "All":
            return obj
        return self._store(key, obj, "ADDED")

    def _patch(
        self,
        key: tuple[Res, str, str],
        request: kmock.Request,
        params: dict[str, str],
        sub: str | None,
    ) -> Any:
        content_type = request.headers.get("Content-Type", "")
        live = self.objects.get(key)
        body = request.data
        if content_type == "application/apply-patch+yaml":
            if live is None:
                return self._create(key, body, params)
            applier = params.get("fieldManager")
            conflicts = [
                (path, entry["manager"])
                for entry in live["metadata"].get("managedFields") or []
                if entry.get("manager") != applier
                for path in leaves(entry.get("fieldsV1") or {})
                if at(body, path) not in (None, at(live, path))
            ]
            if conflicts and params.get("force") != "true":
                causes = [
                    {
                        "type": "FieldManagerConflict",
                        "message": f'conflict with "{m}" using {av(key[0])}',
                        "field": p,
                    }
                    for p, m in conflicts
                ]
                message = f"Apply failed with {len(conflicts)} conflict(s): " + "; ".join(
                    f'conflict with "{m}" using {av(key[0])}: {p}' for p, m in conflicts
                )
                return error(409, "Conflict", message, causes=causes)
            merged = copy.deepcopy(live)
            for part, value in body.items():
                if part == "metadata":
                    for k, v in value.items():
                        merged["metadata"][k] = v
                elif part != "status":
                    merged[part] = copy.deepcopy(value)
            record_apply(merged, body, str(applier), av(key[0]))
        elif live is None:
            return not_found(key[0], key[2])
        elif content_type == "application/json-patch+json":
            try:
                merged = jsonpatch.apply_patch(copy.deepcopy(live), body)
            except jsonpatch.JsonPatchException as err:
                return error(422, "Invalid", f"the JSON patch failed: {err}")
            merged["status"] = live.get("status", {})
        else:
            patched = merge_patch(copy.deepcopy(live), body)
            merged = copy.deepcopy(live)
            if sub == "status":
                merged["status"] = patched.get("status", {})
            else:
                merged = {**patched, "status": live.get("status", {})}
        if merged.get("spec") != live.get("spec"):
            merged["metadata"]["generation"] = int(live["metadata"].get("generation", 1)) + 1
        if params.get("dryRun") == "All":
            return merged
        return self._store(key, merged, "MODIFIED")

    def _put(self, key: tuple[Res, str, str], body: dict[str, Any], params: dict[str, str]) -> Any:
        live = self.objects.get(key)
        if live is None:
            return not_found(key[0], key[2])
        if body["metadata"].get("resourceVersion") != live["metadata"]["resourceVersion"]:
            return error(
                409,
                "Conflict",
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
            )
        obj = copy.deepcopy(body)
        for k in ("uid", "creationTimestamp"):
            obj["metadata"][k] = live["metadata"][k]
        obj["metadata"]["generation"] = int(live["metadata"].get("generation", 1)) + 1
        obj["status"] = live.get("status", {})
        if params.get("dryRun") == "All":
            return obj
        return self._store(key, obj, "MODIFIED")

    def _delete(self, key: tuple[Res, str, str], request: kmock.Request) -> Any:
        live = self.objects.get(key)
        if live is None:
            return not_found(key[0], key[2])
        options = request.data if isinstance(request.data, dict) else {}
        policy = options.get("propagationPolicy") or request.params.get("propagationPolicy") or ""
        self.deletes.append((request.url.path, policy))
        uid = live["metadata"]["uid"]
        self._store(key, copy.deepcopy(live), "DELETED")
        for child_key, child in list(self.objects.items()):
            refs = child["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                if policy == "Orphan":
                    orphan = copy.deepcopy(child)
                    orphan["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    self._store(child_key, orphan, "MODIFIED")
                else:
                    self._store(child_key, copy.deepcopy(child), "DELETED")
        return status(200, "", "", status="Success")


@contextlib.contextmanager
def served_in_thread() -> Iterator[KubeApiServer]:
    """The API server on its own event loop in a thread, for tests whose client is another
    process (``conveyor server``) and whose waits block."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["stop"] = asyncio.Event()
        async with kmock.KubernetesScaffold() as handler, kmock.Server(handler):
            holder["api"] = KubeApiServer(handler)
            ready.set()
            await holder["stop"].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the Kubernetes API mock did not start"
    try:
        yield holder["api"]
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(30)
        loop.close()
