"""Source -> render -> compare for one app: what Git says, against what runs.

Git is fetched once per repository however many apps use it: a fetch counts for every app
whose revision is looked up after it started, until it is older than the poll period or a
webhook or refresh says the repository moved. Each commit is exported once (the whole tree,
so kustomize bases in parent directories resolve), shared by every app at that commit, and the
rendered manifests are cached by (repo, commit, path, parameters): a warm reconcile costs no
subprocess, no parse and no request to the target.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.clock import Clock, SystemClock
from conveyor.diff import (
    CLUSTER_SCOPED_KINDS,
    AppDiff,
    IgnoreRule,
    compile_ignore_rules,
    diff_app,
)
from conveyor.engine import reasons
from conveyor.engine.syncoptions import Lookup, option_conditions, shared_resource_conditions
from conveyor.errors import ValidationError
from conveyor.health import aggregate, assess
from conveyor.model.application import Application
from conveyor.model.appproject import AppProject
from conveyor.model.health import Health, HealthStatus
from conveyor.model.objects import Object, ObjectKey, group_of
from conveyor.model.scopes import crd_scopes, is_namespaced
from conveyor.model.source import Source
from conveyor.model.status import (
    Condition,
    ConditionType,
    ResourceStatus,
    Summary,
    SyncStatus,
)
from conveyor.model.synccommon import is_hook
from conveyor.policy import gate as policy_gate
from conveyor.render import CacheKey, Renderer, RenderRequest
from conveyor.source import RepoCache, mirror_name, repo_key
from conveyor.targets.protocol import TRACKING_LABEL

_KEEP_EXPORTS = 4
"""Exported commits kept per repository (the current one, and a few for rollbacks)."""


@dataclass(frozen=True, eq=False)
class CompareInputs:
    """What a comparison was computed from, held by reference: the same objects (the frozen
    app and project, the commit, the very live objects the watch cached, which are replaced,
    never edited, when they change) give the same comparison, so it need not be made again."""

    app: Application
    project: AppProject
    revision: str
    live: tuple[Object, ...]
    keys: tuple[ObjectKey, ...]
    """The desired objects' keys, to look up what else the target holds there."""
    lookups: tuple[Object | None, ...]

    def still(
        self, app: Application, project: AppProject, revision: str, live: list[Object]
    ) -> bool:
        """True when ``app``, ``project``, ``revision`` and ``live`` are the same objects."""
        return (
            app is self.app
            and project is self.project
            and revision == self.revision
            and len(live) == len(self.live)
            and all(a is b for a, b in zip(live, self.live, strict=True))
        )


@dataclass
class Comparison:
    """The outcome of comparing one app at one commit."""

    revision: str
    desired: list[Object]
    """Rendered objects, hooks included, tracking label and namespace set."""
    diff: AppDiff
    source_type: str
    live: list[Object] = field(default_factory=list)
    health: Health = field(default_factory=lambda: Health(HealthStatus.UNKNOWN))
    resources: list[ResourceStatus] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    conditions: list[Condition] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ignore_rules: tuple[IgnoreRule, ...] = ()
    """The app's compiled ignoreDifferences (a sync with RespectIgnoreDifferences uses them)."""
    inputs: CompareInputs | None = field(default=None, repr=False, compare=False)
    """What it was computed from (None: not to be reused)."""

    @property
    def sync_status(self) -> SyncStatus:
        return self.diff.status

    @property
    def desired_count(self) -> int:
        return len(self.diff.resources) - sum(1 for r in self.diff.resources if r.requires_pruning)

    @property
    def out_of_sync(self) -> set[ObjectKey]:
        return {r.key for r in self.diff.out_of_sync}


def prepare(objects: list[Object], app: str, namespace: str) -> list[Object]:
    """Set the tracking label and, on namespaced objects that name none, the namespace."""
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ValidationError(f"{obj.get('kind', 'object')}: metadata must be a mapping")
        if not isinstance(meta.get("namespace", ""), str):
            raise ValidationError(
                f"{obj.get('kind', 'object')}: metadata.namespace must be a string"
            )
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = meta["labels"] = {}
        labels[TRACKING_LABEL] = app
        if obj.get("kind") not in CLUSTER_SCOPED_KINDS and not meta.get("namespace"):
            meta["namespace"] = namespace
    return objects


def _images(live: list[Object]) -> list[str]:
    images: set[str] = set()
    for obj in live:
        spec = obj.get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or spec
        for container in pod_spec.get("containers") or []:
            if isinstance(container, dict) and container.get("image"):
                images.add(str(container["image"]))
    return sorted(images)


def _external_urls(live: list[Object]) -> list[str]:
    urls = []
    for obj in live:
        if obj.get("kind") != "Service" or obj.get("apiVersion") != "v1":
            continue
        for ingress in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
            host = ingress.get("ip") or ingress.get("hostname")
            for port in ingress.get("ports") or []:
                if host and port.get("port"):
                    urls.append(f"http://{host}:{port['port']}")
    return sorted(urls)


def checkout_path(checkouts: Path, url: str, sha: str) -> Path:
    """Where the tree of ``url`` at ``sha`` is exported: a hashed name, never the URL's path.

    The directory is the mirror's name (slug + hash of ``repo_key``), so no spelling of a
    repoURL (``https://host/../../tmp``) can place a checkout outside ``checkouts``.
    """
    return checkouts / mirror_name(url) / sha


DestinationCheck = Callable[[str, str], str | None]
"""(server, name) of a destination -> why this engine's target is not it, or None."""


class Comparer:
    """Resolves, renders and compares; shared by every app of a controller."""

    def __init__(
        self,
        repos: RepoCache,
        renderer: Renderer,
        checkouts: Path,
        *,
        max_fetch_age: float = 30.0,
        clock: Clock | None = None,
        live_lookup: Lookup | None = None,
        live_children: reasons.Children | None = None,
        events: reasons.EventsOf | None = None,
        destination_check: DestinationCheck | None = None,
        server_side_apply: bool = False,
    ) -> None:
        """``live_lookup`` finds a live object by key whichever app tracks it (the engine's
        ``LiveState.get``), to report resources another app tracks too; ``live_children``
        (``LiveState.children``) and ``events`` (``Target.events``) let an unwell resource's
        health name what its Pods say (``engine.reasons``). ``destination_check`` says why an
        app's destination is not the target this engine deploys to (None when it is);
        ``server_side_apply`` says the target applies server-side (for the option warnings)."""
        self.repos = repos
        self.server_side_apply = server_side_apply
        self.destination_check = destination_check
        self.live_lookup = live_lookup
        self.live_children = live_children
        self.events = events
        self.renderer = renderer
        self.checkouts = checkouts
        self.max_fetch_age = max_fetch_age
        self.clock = clock or SystemClock()
        self._fetch_started: dict[str, float] = {}
        self._stale_since: dict[str, float] = {}
        self._fetch_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._resolved: dict[tuple[str, str], tuple[float, str]] = {}
        self._export_locks: dict[tuple[str, str], asyncio.Lock] = defaultdict(asyncio.Lock)
        self._exports: dict[str, list[str]] = defaultdict(list)

    # -- source -----------------------------------------------------------------------------

    def invalidate(self, url: str) -> None:
        """The repository moved (a webhook, a refresh): the next lookup fetches."""
        self._stale_since[repo_key(url)] = self.clock.monotonic()

    async def resolve(self, url: str, revision: str, *, force: bool = False) -> str:
        """The commit SHA ``revision`` names, fetching first when the mirror may be behind."""
        key = repo_key(url)
        if force:
            self.invalidate(url)
        fetched = await self._ensure_fetched(url, key)
        cached = self._resolved.get((key, revision))
        if cached is not None and cached[0] == fetched:
            return cached[1]
        sha = await self.repos.resolve(url, revision)
        self._resolved[(key, revision)] = (fetched, sha)
        return sha

    async def _ensure_fetched(self, url: str, key: str) -> float:
        """Fetch unless a fetch started after the repo went stale and within the max age."""
        needed_after = max(
            self._stale_since.get(key, float("-inf")),
            self.clock.monotonic() - self.max_fetch_age,
        )
        async with self._fetch_locks[key]:
            started = self._fetch_started.get(key)
            if started is not None and started >= needed_after:
                return started
            started = self.clock.monotonic()
            await self.repos.fetch(url)
            self._fetch_started[key] = started
            return started

    async def _checkout(self, url: str, sha: str) -> Path:
        """The whole tree at ``sha``, exported once and shared by every app at that commit."""
        key = mirror_name(url)
        dest = checkout_path(self.checkouts, url, sha)
        async with self._export_locks[(key, sha)]:
            if not dest.is_dir():
                tmp = dest.with_name(f".{sha}.tmp")
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.parent.mkdir(parents=True, exist_ok=True)
                await self.repos.export(url, sha, ".", tmp)
                tmp.rename(dest)
                self._remember_export(key, sha)
        return dest

    def _remember_export(self, key: str, sha: str) -> None:
        kept = self._exports[key]
        kept.append(sha)
        while len(kept) > _KEEP_EXPORTS:
            old = kept.pop(0)
            with contextlib.suppress(OSError):
                shutil.rmtree(self.checkouts / key / old)

    # -- render and compare -----------------------------------------------------------------

    async def desired(
        self,
        app: Application,
        sha: str,
        *,
        source: Source | None = None,
        hard: bool = False,
        project: AppProject | None = None,
    ) -> tuple[list[Object], str]:
        """Rendered, prepared objects of ``app`` (or of ``source``) at ``sha``.

        With ``project``, Kustomize remote bases must match its sourceRepos; no base may be
        read from Conveyor's mirrors or checkouts.
        """
        src = source or app.spec.source
        url = src.repo_url
        namespace = app.spec.destination.namespace
        root = checkout_path(self.checkouts, url, sha)
        request = dataclasses.replace(
            RenderRequest.from_source(root, src, app_name=app.name, namespace=namespace),
            source_repos=tuple(project.spec.source_repos) if project is not None else None,
            project=project.name if project is not None else "",
            private_dirs=(str(self.repos.root), str(self.checkouts)),
        )
        key = CacheKey.of(request, repo_url=repo_key(url), revision=sha)
        cached = None if hard else self.renderer.cache.get(key)
        if cached is None or cached.error is not None:
            await self._checkout(url, sha)
        result = await self.renderer.render(request, None if hard else key)
        if hard:
            self.renderer.cache.put(key, result.source_type, result.manifests)
        # Every render result (cached or not) is a fresh copy this caller owns.
        return prepare(result.manifests, app.name, namespace), str(result.source_type)

    async def compare(
        self,
        app: Application,
        sha: str,
        live: list[Object],
        *,
        project: AppProject,
        hard: bool = False,
        source: Source | None = None,
        previous: Comparison | None = None,
    ) -> Comparison:
        """Compare ``app`` at ``sha`` with its ``live`` objects.

        ``previous`` (the app's last comparison) is returned as it is when nothing it was
        computed from changed and everything in it was well: a render at one commit is fixed,
        and so are diff and health of the same objects (an unwell resource's reason comes from
        its Pods and events, which are not among those inputs, so it is looked at anew). A
        hard refresh, or another source, always compares anew.
        """
        if self.destination_check is not None:
            dest = app.spec.destination
            refused = self.destination_check(dest.server or "", dest.name or "")
            if refused:
                raise ValidationError(refused, obj=f"Application/{app.name}")
        if previous is not None and not hard and source is None and _all_well(previous):
            inputs = previous.inputs
            if inputs is not None and inputs.still(app, project, sha, live):
                lookup = self.live_lookup
                if lookup is None or all(
                    lookup(k) is o for k, o in zip(inputs.keys, inputs.lookups, strict=True)
                ):
                    return previous
        desired, source_type = await self.desired(
            app, sha, source=source, hard=hard, project=project
        )
        comparison = compare_objects(
            app, sha, desired, live,
            project=project, source_type=source_type, live_lookup=self.live_lookup,
            server_side_apply=self.server_side_apply,
        )  # fmt: skip
        if self.live_children is not None:
            await self._explain(comparison, self.live_children)
        if source is None:
            # hooks are never shared (and one named by generateName has no key yet)
            keys = tuple(ObjectKey.of(o) for o in desired if not is_hook(o))
            lookup = self.live_lookup
            comparison.inputs = CompareInputs(
                app, project, sha, tuple(live), keys,
                tuple(lookup(k) for k in keys) if lookup is not None else (),
            )  # fmt: skip
        return comparison

    async def _explain(self, comparison: Comparison, children: reasons.Children) -> None:
        """Unwell resources' health messages name what their Pods say; the app's follows."""
        unwell = (HealthStatus.PROGRESSING, HealthStatus.DEGRADED)
        if not any(
            r.health is not None and r.health.status in unwell for r in comparison.resources
        ):
            return  # the usual case costs nothing
        live_by_key = {}
        for obj in comparison.live:
            with contextlib.suppress(ValidationError):
                live_by_key[ObjectKey.of(obj)] = obj
        changed = False
        resources = []
        for res in comparison.resources:
            key = ObjectKey(res.group, res.kind, res.namespace, res.name)
            live = live_by_key.get(key)
            if live is not None and res.health is not None:
                health = await reasons.explain(live, res.health, children, self.events)
                if health != res.health:
                    res = res.model_copy(update={"health": health})
                    changed = True
            resources.append(res)
        if changed:
            comparison.resources = resources
            comparison.health = aggregate(
                r.health for r in resources if r.health is not None and not r.requires_pruning
            )


def _all_well(comparison: Comparison) -> bool:
    """No resource Progressing or Degraded (whose explanation may have moved on)."""
    unwell = (HealthStatus.PROGRESSING, HealthStatus.DEGRADED)
    return not any(r.health is not None and r.health.status in unwell for r in comparison.resources)


def compare_objects(
    app: Application,
    revision: str,
    desired: list[Object],
    live: list[Object],
    *,
    project: AppProject,
    source_type: str,
    live_lookup: Lookup | None = None,
    server_side_apply: bool = False,
) -> Comparison:
    """Compare prepared ``desired`` objects with ``live`` ones, under the project's rules
    (``app diff --local`` hands objects rendered elsewhere to this). With ``live_lookup``,
    resources another app tracks give SharedResourceWarning conditions."""
    errors = _project_errors(project, app, desired)
    gate = policy_gate.check(project.metadata.annotations, app.metadata.labels, desired)
    errors += gate.errors
    if errors:
        raise ValidationError("; ".join(errors))
    rules = compile_ignore_rules(app.spec.ignore_differences)
    namespace = app.spec.destination.namespace
    diff = diff_app(desired, live, namespace=namespace, ignore_rules=rules)
    comparison = Comparison(
        revision=revision,
        desired=desired,
        diff=diff,
        source_type=source_type,
        live=live,
        ignore_rules=rules,
    )
    _fill_status(comparison)
    warnings = option_conditions(app.sync_options, desired, server_side_apply=server_side_apply)
    if live_lookup is not None:
        warnings += shared_resource_conditions(app.name, desired, live_lookup)
    comparison.conditions.extend(Condition(type=w["type"], message=w["message"]) for w in warnings)
    comparison.conditions.extend(
        Condition(type=policy_gate.POLICY_WARNING, message=m) for m in gate.warnings
    )
    return comparison


def _project_errors(project: AppProject, app: Application, desired: list[Object]) -> list[str]:
    errors = []
    dest = app.spec.destination
    seen: set[tuple[str, str, str]] = set()
    crds = crd_scopes(desired)
    for obj in desired:
        kind = str(obj.get("kind", ""))
        group = group_of(str(obj.get("apiVersion", "")))
        namespaced = is_namespaced(group, kind, crds)
        namespace = str((obj.get("metadata") or {}).get("namespace") or "")
        if (group, kind, namespace) in seen:
            continue
        seen.add((group, kind, namespace))
        verdict = project.permits_resource(group, kind, namespaced)
        if not verdict:
            errors.append(verdict.reason)
        if namespaced and namespace and namespace != dest.namespace:
            where = project.permits_destination(namespace, server=dest.server, name=dest.name)
            if not where:
                errors.append(where.reason)
    return errors


def _fill_status(comparison: Comparison) -> None:
    """Resources, health and summary in Argo CD's status shape."""
    live_by_key = {}
    for obj in comparison.live:
        with contextlib.suppress(ValidationError):
            live_by_key[ObjectKey.of(obj)] = obj
    healths: list[Health] = []
    resources = []
    tracked_live = []
    for res in comparison.diff.resources:
        live = live_by_key.get(res.key)
        if live is None:
            health = Health(HealthStatus.MISSING)
        else:
            health = assess(live)
            tracked_live.append(live)
        if not res.requires_pruning:
            healths.append(health)
        extra = {"requires_pruning": True} if res.requires_pruning else {}
        resources.append(
            ResourceStatus(
                group=res.key.group,
                version=res.api_version.split("/")[-1] if res.api_version else "",
                kind=res.key.kind,
                namespace=res.key.namespace,
                name=res.key.name,
                status=res.status,
                health=health,
                **extra,
            )
        )
    comparison.resources = resources
    comparison.health = aggregate(healths)
    images, urls = _images(tracked_live), _external_urls(tracked_live)
    comparison.summary = Summary(
        **({"images": images} if images else {}), **({"external_urls": urls} if urls else {})
    )
    for warning in comparison.diff.warnings:
        comparison.conditions.append(
            Condition(type=ConditionType.REPEATED_RESOURCE_WARNING, message=warning)
        )
