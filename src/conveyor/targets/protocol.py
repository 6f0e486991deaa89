"""The Target protocol: everything the engine needs from a place where objects live.

Both the embedded local runtime and Kubernetes implement it, so diff, health and sync code is
shared. Live objects come back in Kubernetes' own shape: apiVersion, kind, metadata (uid,
resourceVersion, generation, creationTimestamp, labels, annotations, ownerReferences), spec,
status. Objects belong to an application through the tracking label (Argo CD's default).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from conveyor.errors import NotFoundError
from conveyor.model.objects import Object, ObjectKey
from conveyor.model.syncoptions import PropagationPolicy

TRACKING_LABEL = "app.kubernetes.io/instance"
"""Label naming the application an object belongs to (Argo CD's default tracking method)."""

FIELD_MANAGER = "conveyor"
"""Field manager recorded for what Conveyor applies (as server-side apply does)."""


STATUS_SUBRESOURCE = "status"
"""The subresource a patch can write instead of the resource (Kubernetes' ``/status``)."""


class PatchType(StrEnum):
    """How a patch is written, named by its media type as in the Kubernetes API."""

    MERGE = "application/merge-patch+json"
    """RFC 7386 JSON merge patch: objects merge key by key, null removes."""
    JSON = "application/json-patch+json"
    """RFC 6902 JSON patch: a list of operations."""


class UnknownKindError(NotFoundError):
    """The target serves no such resource type (a custom resource whose CRD is not there).

    A sync dry run that meets it is skipped when the CRD comes in the same sync, or with
    sync option SkipDryRunOnMissingResource=true, as Argo CD does.
    """


class WatchEventType(StrEnum):
    """What happened to an object, as in a Kubernetes watch."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class WatchEvent:
    """One change to one live object."""

    type: WatchEventType
    object: Object


@dataclass(frozen=True)
class Event:
    """A Kubernetes-style event about an object (``kubectl get events``)."""

    involved: ObjectKey
    reason: str
    message: str
    type: str = "Normal"
    count: int = 1
    first_timestamp: str = ""
    last_timestamp: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The core/v1 Event shape, trimmed to what people read."""
        return {
            "involvedObject": {
                "kind": self.involved.kind,
                "namespace": self.involved.namespace,
                "name": self.involved.name,
            },
            "reason": self.reason,
            "message": self.message,
            "type": self.type,
            "count": self.count,
            "firstTimestamp": self.first_timestamp,
            "lastTimestamp": self.last_timestamp,
        }


@dataclass(frozen=True)
class ApplyOptions:
    """How an apply behaves."""

    field_manager: str = FIELD_MANAGER
    """Who owns the fields being set; fields set by other managers are kept."""
    dry_run: bool = False
    """Validate and compute the result without storing it."""
    replace: bool = False
    """Replace the live object by ``obj`` (``kubectl replace``/``create``) instead of a
    three-way merge: fields other managers set are dropped (sync option Replace=true)."""
    validate: bool = True
    """Refuse fields the kind does not have, as ``kubectl apply --validate`` does; False skips
    that schema check but not the server's own rules (sync option Validate=false)."""
    client_side_apply_migration: bool = True
    """Before a server-side apply, take over the fields client-side appliers (Argo CD,
    ``kubectl apply``) own, so that changing them later is no conflict (sync option
    ClientSideApplyMigration). Only targets that apply server-side have such fields."""


@dataclass(frozen=True)
class TargetCondition:
    """Something wrong with the target itself, shown on every app that deploys to it.

    For example: the local runtime cannot write its journal, so what it runs would not survive
    a restart. The controller adds these to each app's ``status.conditions``.
    """

    type: str
    message: str


@dataclass(frozen=True)
class LogOptions:
    """Which part of a Pod's log to read."""

    container: str | None = None
    """Container name; the Pod's first container when not given."""
    tail_lines: int | None = None
    """Only the last N lines."""
    previous: bool = False
    """The log of the previous (terminated) instance of the container."""
    follow: bool = False
    """Keep streaming new lines until the Pod goes away."""


@dataclass(frozen=True)
class Selector:
    """Which live objects to list: an application's, or all of a kind."""

    labels: dict[str, str] = field(default_factory=dict)
    kind: str | None = None
    namespace: str | None = None


@runtime_checkable
class Target(Protocol):
    """A place where live objects are: the local runtime or a Kubernetes cluster."""

    async def apply(self, obj: Object, options: ApplyOptions = ApplyOptions()) -> Object:
        """Create or update ``obj``; return the live object as stored."""
        ...

    async def patch(
        self,
        key: ObjectKey,
        patch: Any,
        *,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str | None = None,
        field_manager: str = FIELD_MANAGER,
    ) -> Object:
        """Patch a live object, as the Kubernetes API's PATCH does; return it as stored.

        Without ``subresource`` the resource is patched and its status is the controllers':
        a patch that changes status is refused. With ``subresource="status"`` only the status
        is written (what Argo CD's resource actions, such as a Rollout's abort or promote,
        change), and a patch that changes anything else is refused. Either way a patch may
        not change apiVersion, kind, name or namespace, nor read a Secret's data
        (ValidationError); NotFoundError when the object is absent.
        """
        ...

    async def delete(
        self,
        key: ObjectKey,
        *,
        grace_period_seconds: float | None = None,
        propagation_policy: PropagationPolicy = PropagationPolicy.BACKGROUND,
    ) -> bool:
        """Delete an object; its owned children go as ``propagation_policy`` says (Kubernetes'
        garbage collection: ``orphan`` leaves them, without the owner reference). False if
        absent."""
        ...

    async def get(self, key: ObjectKey) -> Object | None:
        """The live object, or None."""
        ...

    async def list(self, selector: Selector = Selector()) -> list[Object]:
        """Live objects matching ``selector``, in a deterministic order."""
        ...

    def watch(self, selector: Selector = Selector()) -> AsyncIterator[WatchEvent]:
        """Changes to matching objects as they happen, starting with ADDED for existing ones."""
        ...

    def logs(
        self, namespace: str, pod: str, options: LogOptions = LogOptions()
    ) -> AsyncIterator[str]:
        """Lines of a Pod container's log."""
        ...

    async def events(self, key: ObjectKey | None = None) -> builtins.list[Event]:
        """Events about one object, or all of them."""
        ...

    def conditions(self) -> builtins.list[TargetCondition]:
        """What is wrong with the target right now (empty when all is well)."""
        ...


def application_selector(app_name: str) -> Selector:
    """The selector for every live object an application owns."""
    return Selector(labels={TRACKING_LABEL: app_name})


def sorted_objects(objects: Iterable[Object]) -> list[Object]:
    """Deterministic order: by key."""
    return sorted(objects, key=lambda o: ObjectKey.of(o))
