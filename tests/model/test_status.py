"""Status types render Argo CD's `status` JSON shape and read it back."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.model.health import Health, HealthStatus
from conveyor.model.loading import application_from_dict
from conveyor.model.status import (
    ApplicationStatus,
    Condition,
    ConditionType,
    HistoryEntry,
    InitiatedBy,
    Operation,
    OperationPhase,
    OperationState,
    ResourceResult,
    ResourceStatus,
    ResultCode,
    Summary,
    SyncOperation,
    SyncPhase,
    SyncResult,
    SyncState,
    SyncStatus,
)

WHEN = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


def full_status() -> ApplicationStatus:
    return ApplicationStatus(
        sync=SyncState(status=SyncStatus.OUT_OF_SYNC, revision="3f2a9c1"),
        health=Health(HealthStatus.PROGRESSING, "Waiting for rollout to finish"),
        history=[
            HistoryEntry(
                id=1,
                revision="3f2a9c1",
                deployed_at=WHEN,
                initiated_by=InitiatedBy(automated=True),
                source={"repoURL": "https://github.com/org/config", "path": "apps/web"},
            )
        ],
        operation_state=OperationState(
            operation=Operation(
                sync=SyncOperation(revision="3f2a9c1", prune=True),
                initiated_by=InitiatedBy(username="alice"),
            ),
            phase=OperationPhase.RUNNING,
            message="waiting for healthy state of apps/Deployment/web",
            sync_result=SyncResult(
                revision="3f2a9c1",
                resources=[
                    ResourceResult(
                        group="apps",
                        version="v1",
                        kind="Deployment",
                        namespace="prod",
                        name="web",
                        status=ResultCode.SYNCED,
                        message="deployment.apps/web configured",
                        sync_phase=SyncPhase.SYNC,
                    )
                ],
            ),
            started_at=WHEN,
        ),
        conditions=[
            Condition(
                type=ConditionType.SHARED_RESOURCE_WARNING,
                message="ConfigMap/prod/c is also managed by app 'other'",
                last_transition_time=WHEN,
            )
        ],
        resources=[
            ResourceStatus(
                group="apps",
                version="v1",
                kind="Deployment",
                namespace="prod",
                name="web",
                status=SyncStatus.OUT_OF_SYNC,
                health=Health(HealthStatus.PROGRESSING),
            )
        ],
        summary=Summary(images=["registry.local/web:3f2a9c1"], external_urls=["http://web.local"]),
    )


def test_status_has_argo_cd_shape() -> None:
    assert full_status().to_dict() == {
        "sync": {"status": "OutOfSync", "revision": "3f2a9c1"},
        "health": {"status": "Progressing", "message": "Waiting for rollout to finish"},
        "history": [
            {
                "id": 1,
                "revision": "3f2a9c1",
                "deployedAt": "2024-05-01T10:00:00Z",
                "initiatedBy": {"automated": True},
                "source": {"repoURL": "https://github.com/org/config", "path": "apps/web"},
            }
        ],
        "operationState": {
            "operation": {
                "sync": {"revision": "3f2a9c1", "prune": True},
                "initiatedBy": {"username": "alice"},
            },
            "phase": "Running",
            "message": "waiting for healthy state of apps/Deployment/web",
            "syncResult": {
                "revision": "3f2a9c1",
                "resources": [
                    {
                        "group": "apps",
                        "version": "v1",
                        "kind": "Deployment",
                        "namespace": "prod",
                        "name": "web",
                        "status": "Synced",
                        "message": "deployment.apps/web configured",
                        "syncPhase": "Sync",
                    }
                ],
            },
            "startedAt": "2024-05-01T10:00:00Z",
        },
        "conditions": [
            {
                "type": "SharedResourceWarning",
                "message": "ConfigMap/prod/c is also managed by app 'other'",
                "lastTransitionTime": "2024-05-01T10:00:00Z",
            }
        ],
        "resources": [
            {
                "group": "apps",
                "version": "v1",
                "kind": "Deployment",
                "namespace": "prod",
                "name": "web",
                "status": "OutOfSync",
                "health": {"status": "Progressing"},
            }
        ],
        "summary": {
            "images": ["registry.local/web:3f2a9c1"],
            "externalURLs": ["http://web.local"],
        },
    }


def test_status_round_trips_through_json() -> None:
    data = full_status().to_dict()
    assert ApplicationStatus.from_dict(data).to_dict() == data


def test_empty_status_still_has_sync_and_health() -> None:
    assert ApplicationStatus().to_dict() == {
        "sync": {"status": "Unknown"},
        "health": {"status": "Unknown"},
    }


def test_enums() -> None:
    assert OperationPhase.SUCCEEDED.completed and OperationPhase.SUCCEEDED.successful
    assert OperationPhase.ERROR.completed and not OperationPhase.RUNNING.completed
    assert ConditionType.COMPARISON_ERROR.is_error
    assert not ConditionType.ORPHANED_RESOURCE_WARNING.is_error


def test_application_with_status() -> None:
    app = application_from_dict(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "web"},
            "spec": {
                "project": "default",
                "source": {"repoURL": "https://x/y"},
                "destination": {"name": "in-cluster", "namespace": "web"},
            },
        }
    ).value
    shown = app.with_status(full_status()).to_manifest()
    assert shown["status"]["sync"] == {"status": "OutOfSync", "revision": "3f2a9c1"}
    assert shown["status"]["health"]["status"] == "Progressing"
    assert "status" not in app.to_manifest()
