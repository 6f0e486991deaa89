"""What the engine and the API report about applications, in Argo CD's shapes.

``ApplicationStatus.to_dict()`` is an Application's ``status`` as Argo CD writes it
(``status.sync``, ``status.health``, ``status.history``, ``status.operationState``,
``status.conditions``, ``status.resources``, ``status.summary``), so ``conveyor app get -o
json`` reads like ``argocd app get -o json`` and tools written for one work with the other.
``from_dict`` reads it back (the store keeps it as JSON) and writes it back unchanged: a field
is written when it was set (by the engine, or in the JSON read), and left out when it was not,
as Go's ``omitempty`` leaves out what was never filled; times are RFC 3339 in UTC with whole
seconds, as Kubernetes writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, model_validator
from pydantic.alias_generators import to_camel

from conveyor.model.health import Health, HealthStatus
from conveyor.model.synccommon import HookType, ResultCode, SyncPhase

__all__ = [
    "ApplicationStatus",
    "Condition",
    "ConditionType",
    "Health",
    "HealthStatus",
    "HistoryEntry",
    "HookType",
    "InitiatedBy",
    "Operation",
    "OperationPhase",
    "OperationState",
    "ResourceResult",
    "ResourceStatus",
    "ResultCode",
    "RetryLimit",
    "Summary",
    "SyncOperation",
    "SyncOperationResource",
    "SyncPhase",
    "SyncResult",
    "SyncState",
    "SyncStatus",
    "rfc3339",
]


def rfc3339(moment: datetime) -> str:
    """A time as Kubernetes writes it: UTC, whole seconds, ``Z`` suffix (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Time = Annotated[datetime, PlainSerializer(rfc3339, return_type=str)]
"""A timestamp field, written the Kubernetes way."""

HealthField = Annotated[Health, PlainSerializer(Health.to_dict, return_type=dict)]
"""A health field, written as Argo CD writes it (no empty message)."""


class SyncStatus(StrEnum):
    """Whether live state matches Git, for one resource or a whole application."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"  # the comparison could not be made


class OperationPhase(StrEnum):
    """Where a sync operation is."""

    RUNNING = "Running"
    TERMINATING = "Terminating"
    FAILED = "Failed"  # the operation ran and something it did failed
    ERROR = "Error"  # the operation could not run
    SUCCEEDED = "Succeeded"

    @property
    def completed(self) -> bool:
        """The operation has ended, one way or the other."""
        return self in (OperationPhase.FAILED, OperationPhase.ERROR, OperationPhase.SUCCEEDED)

    @property
    def successful(self) -> bool:
        """The operation ended well."""
        return self is OperationPhase.SUCCEEDED


class ConditionType(StrEnum):
    """Kinds of ``status.conditions`` entries; those ending in Error block syncing."""

    DELETION_ERROR = "DeletionError"
    INVALID_SPEC_ERROR = "InvalidSpecError"  # the Application or its project is invalid
    COMPARISON_ERROR = "ComparisonError"  # rendering or diffing failed
    SYNC_ERROR = "SyncError"  # the last sync could not run
    UNKNOWN_ERROR = "UnknownError"
    SHARED_RESOURCE_WARNING = "SharedResourceWarning"  # another app manages a resource too
    REPEATED_RESOURCE_WARNING = "RepeatedResourceWarning"  # the same resource twice in Git
    EXCLUDED_RESOURCE_WARNING = "ExcludedResourceWarning"
    ORPHANED_RESOURCE_WARNING = "OrphanedResourceWarning"
    # Conveyor's: a sync option (or per-resource sync-options annotation) this target cannot
    # honour, named with what happens instead.
    SYNC_OPTION_WARNING = "SyncOptionWarning"
    # Conveyor's: a hook annotation names a hook type or delete policy that does not exist.
    HOOK_ANNOTATION_WARNING = "HookAnnotationWarning"
    UNKNOWN_FIELD = "UnknownField"  # a manifest field Conveyor keeps but does not act on

    @property
    def is_error(self) -> bool:
        """An error condition, as opposed to a warning."""
        return self.value.endswith("Error")


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


class StatusModel(BaseModel):
    """Base of the status types: camelCase JSON, immutable, unknown fields kept on reading."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        extra="allow",
    )

    @model_validator(mode="after")
    def _share_fields_set(self) -> Self:
        """Models with the same fields set share one set object (never changed in place:
        ``model_copy`` copies it first); the engine holds tens of these per app."""
        shared = _FIELDS_SETS.setdefault(frozenset(self.__pydantic_fields_set__), set())
        if not shared:
            shared.update(self.__pydantic_fields_set__)
        object.__setattr__(self, "__pydantic_fields_set__", shared)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Argo CD's JSON shape: the fields that were set (unset ones left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Read the shape ``to_dict`` writes (or Argo CD's)."""
        return cls.model_validate(data)


class SyncState(StatusModel):
    """``status.sync``: the comparison result and the revision compared against."""

    status: SyncStatus
    revision: str = ""
    compared_to: dict[str, Any] | None = None  # {source, destination} the comparison used


class Condition(StatusModel):
    """One ``status.conditions`` entry: something a person should know or fix.

    ``type`` is one of ``ConditionType`` or, for what a target reports about itself
    (``Target.conditions()``), the target's own type name.
    """

    type: ConditionType | str
    message: str
    last_transition_time: Time | None = None


class ResourceStatus(StatusModel):
    """One ``status.resources`` entry: a managed resource's sync and health status."""

    group: str = ""
    version: str = ""
    kind: str
    namespace: str = ""
    name: str
    status: SyncStatus
    health: HealthField | None = None
    hook: bool = False
    requires_pruning: bool = False
    sync_wave: int = 0


class ResourceResult(StatusModel):
    """What one sync did to one resource (``syncResult.resources`` entries)."""

    group: str = ""
    version: str = ""
    kind: str
    namespace: str = ""
    name: str
    status: ResultCode | None = None
    message: str = ""
    hook_type: HookType | None = None
    hook_phase: OperationPhase | Literal[""] | None = None  # "" for a hook a dry run lists
    sync_phase: SyncPhase | None = None


class SyncResult(StatusModel):
    """``operationState.syncResult``: the revision synced and what happened to each resource."""

    revision: str
    source: dict[str, Any] | None = None  # spec.source as it was synced
    resources: list[ResourceResult] = []

    def pruned(self) -> tuple[str, ...]:
        """``Kind namespace/name`` (``Kind name`` when cluster-scoped) of each pruned resource."""
        return tuple(
            f"{r.kind} {r.namespace}/{r.name}" if r.namespace else f"{r.kind} {r.name}"
            for r in self.resources
            if r.status == ResultCode.PRUNED
        )


class InitiatedBy(StatusModel):
    """Who started an operation: a user, or the controller (``automated``)."""

    username: str = ""
    automated: bool = False


class SyncOperationResource(StatusModel):
    """One ``operation.sync.resources`` entry: a resource the sync is limited to."""

    group: str = ""
    kind: str
    namespace: str = ""
    name: str


class SyncOperation(StatusModel):
    """``operation.sync``: what a sync was asked to do."""

    revision: str = ""
    prune: bool = False
    dry_run: bool = False
    sync_options: list[str] = []
    resources: list[SyncOperationResource] = []
    """Only these resources (``app sync --resource``); empty for all."""
    source: dict[str, Any] | None = None  # spec.source to sync (a rollback's, or the app's)


class RetryLimit(StatusModel):
    """``operation.retry``: how many times a failed sync is tried again."""

    limit: int = 0


class Info(StatusModel):
    """One ``operation.info`` entry: a name and a value shown with the operation."""

    name: str
    value: str


INITIATOR_INFO = "initiator"
"""The ``operation.info`` entry that says why an operation started (user, automated,
rollback, self-heal): ``initiatedBy`` tells only a user from the controller."""


class Operation(StatusModel):
    """``operationState.operation``: the request that started the operation."""

    sync: SyncOperation = SyncOperation()
    initiated_by: InitiatedBy = InitiatedBy()
    info: list[Info] | None = None
    retry: RetryLimit | None = None

    def info_value(self, name: str) -> str | None:
        """The value of info entry ``name``, if there is one."""
        return next((i.value for i in self.info or [] if i.name == name), None)


class OperationState(StatusModel):
    """``status.operationState``: the current or last sync operation and its results."""

    operation: Operation = Operation()
    phase: OperationPhase
    message: str = ""
    sync_result: SyncResult | None = None
    started_at: Time
    finished_at: Time | None = None
    retry_count: int = 0


class HistoryEntry(StatusModel):
    """One ``status.history`` entry: a sync that succeeded, for rollback."""

    id: int
    revision: str
    deployed_at: Time
    deploy_started_at: Time | None = None
    initiated_by: InitiatedBy = InitiatedBy()
    source: dict[str, Any] | None = None  # spec.source as it was deployed


class Summary(StatusModel):
    """``status.summary``: the images an application runs and the URLs it exposes."""

    images: list[str] = []
    external_urls: list[str] = Field(
        default=[],
        serialization_alias="externalURLs",
        validation_alias=AliasChoices("externalURLs", "external_urls"),
    )


class ApplicationStatus(StatusModel):
    """An Application's ``status``, as Argo CD writes it."""

    sync: SyncState = SyncState(status=SyncStatus.UNKNOWN)
    health: HealthField = Health(HealthStatus.UNKNOWN)
    history: list[HistoryEntry] = []
    operation_state: OperationState | None = None
    conditions: list[Condition] = []
    resources: list[ResourceStatus] = []
    summary: Summary = Summary()
    reconciled_at: Time | None = None
    source_type: str = ""  # Directory, Kustomize or Helm

    def to_dict(self) -> dict[str, Any]:
        """Argo CD's shape; ``sync`` and ``health`` are always present, as in Argo CD."""
        out = super().to_dict()
        out["sync"] = self.sync.to_dict()
        out["health"] = self.health.to_dict()
        return out
