"""Health assessment against live objects in Kubernetes' own shape, one fixture per scenario.

Each fixture in testdata/ is named ``<kind>-<scenario>.yaml`` and has exactly one line in
CASES: the status Conveyor must report and a fragment of the message a person would read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conveyor.health import REGISTRY, Registry, aggregate, assess, register
from conveyor.model.health import Health, HealthStatus

TESTDATA = Path(__file__).parent / "testdata"

H, P, D, S, M, U = (
    HealthStatus.HEALTHY,
    HealthStatus.PROGRESSING,
    HealthStatus.DEGRADED,
    HealthStatus.SUSPENDED,
    HealthStatus.MISSING,
    HealthStatus.UNKNOWN,
)

CASES = [
    # Deployment
    ("deployment-healthy.yaml", H, ""),
    ("deployment-scaled-to-zero.yaml", H, ""),
    ("deployment-paused.yaml", S, "Deployment is paused"),
    ("deployment-old-generation.yaml", P, "not yet observed generation 6"),
    ("deployment-rolling.yaml", P, "1 out of 3 new replicas have been updated"),
    ("deployment-old-replicas-terminating.yaml", P, "1 old replicas are pending termination"),
    ("deployment-updated-unavailable.yaml", P, "1 of 3 updated replicas are available"),
    (
        "deployment-progress-deadline-exceeded.yaml",
        D,
        'Deployment "api" exceeded its progress deadline',
    ),
    # ReplicaSet
    ("replicaset-healthy.yaml", H, ""),
    ("replicaset-scaling-up.yaml", P, "1 out of 3 new replicas are available"),
    ("replicaset-old-generation.yaml", P, "not yet observed generation 3"),
    ("replicaset-replica-failure.yaml", D, "exceeded quota: compute"),
    # Pod, long-running (restartPolicy Always)
    ("pod-running-ready.yaml", H, ""),
    ("pod-running-not-ready.yaml", P, "Waiting for containers to become ready: api"),
    ("pod-running-restarted-not-ready.yaml", D, "last exited with code 137"),
    ("pod-crashloop.yaml", D, "back-off 2m40s restarting failed container=api"),
    ("pod-image-pull-backoff.yaml", D, 'Back-off pulling image "ghcr.io/acme/api:0000000"'),
    ("pod-err-image-pull.yaml", D, "failed to pull and unpack image"),
    ("pod-invalid-image-name.yaml", D, "invalid reference format"),
    ("pod-create-container-config-error.yaml", D, 'configmap "api-config" not found'),
    ("pod-init-crashloop.yaml", D, "restarting failed container=migrate"),
    ("pod-pending-unschedulable.yaml", P, "3 Insufficient cpu"),
    ("pod-deleting.yaml", P, "Pending deletion"),
    # Pod, run to completion (hooks: restartPolicy Never)
    ("pod-succeeded.yaml", H, ""),
    ("pod-failed.yaml", D, 'Container "migrate" failed with exit code 3'),
    ("pod-oomkilled.yaml", D, "out of memory (OOMKilled)"),
    ("pod-evicted.yaml", D, "The node was low on resource: ephemeral-storage"),
    ("pod-hook-running.yaml", P, "running to completion"),
    ("pod-hook-image-pull-backoff.yaml", P, "Waiting for containers to start: migrate (ImagePull"),
    ("pod-hook-deleting-with-finalizer.yaml", H, ""),
    ("pod-running-ignore-restart-policy.yaml", H, ""),
    # Job
    ("job-running.yaml", P, "1 pods running, 0 succeeded, 0 failed"),
    ("job-complete.yaml", H, "Reached expected number of succeeded pods"),
    ("job-failed.yaml", D, "Job has reached the specified backoff limit"),
    ("job-suspended.yaml", S, "Job suspended"),
    ("job-resumed.yaml", P, "Waiting for the job to finish"),
    # Service
    ("service-clusterip.yaml", H, ""),
    ("service-lb-pending.yaml", P, "load balancer"),
    ("service-lb-ready.yaml", H, ""),
    # PersistentVolumeClaim
    ("pvc-bound.yaml", H, ""),
    ("pvc-pending.yaml", P, "bound to a volume"),
    ("pvc-lost.yaml", D, "no longer exists"),
    # StatefulSet
    ("statefulset-healthy.yaml", H, "Rolling update complete: 3 pods at revision postgres-6d8f"),
    ("statefulset-rolling.yaml", P, "Waiting for 1 pods to be ready"),
    ("statefulset-partition-pending.yaml", P, "0 out of 1 new pods have been updated"),
    ("statefulset-revision-pending.yaml", P, "1 pods at revision postgres-7f9a8c6d65"),
    ("statefulset-ondelete.yaml", H, "3 ready pods (1 updated)"),
    # DaemonSet
    ("daemonset-healthy.yaml", H, ""),
    ("daemonset-rolling.yaml", P, "1 out of 3 new pods have been updated"),
    # Argo Rollouts' AnalysisRun: its phase decides
    ("analysisrun-running.yaml", P, "Analysis run is running"),
    ("analysisrun-successful.yaml", H, "Analysis run completed successfully"),
    ("analysisrun-failed.yaml", D, "failed (4) > failureLimit (3)"),
    ("analysisrun-error.yaml", D, "Analysis run had an error"),
    ("analysisrun-inconclusive.yaml", U, "inconclusive (1) > inconclusiveLimit (0)"),
    ("analysisrun-not-reconciled.yaml", P, "status has not been reconciled"),
    # Argo Rollouts' Rollout, as Argo CD's Rollout check reads it
    ("rollout-new-without-status.yaml", P, "Waiting for rollout spec update to be observed"),
    ("rollout-new-generation.yaml", P, "Waiting for rollout spec update to be observed"),
    ("rollout-workload-generation-pending.yaml", P, "spec update to be observed"),
    ("rollout-legacy-observed-generation-hash.yaml", H, ""),
    ("rollout-invalid-spec.yaml", D, "Rollout has missing field '.spec.strategy.canary or"),
    ("rollout-progress-deadline-exceeded.yaml", D, 'ReplicaSet "api-6b8cf6f7db" has timed out'),
    ("rollout-aborted.yaml", D, "RolloutAborted: Rollout aborted update to revision 2: Metric"),
    ("rollout-paused-phase.yaml", S, "CanaryPauseStep"),
    ("rollout-controller-pause.yaml", S, "Rollout is paused"),
    ("rollout-user-pause.yaml", S, "Rollout is paused"),
    ("rollout-bluegreen-serving-active.yaml", H, ""),
    ("rollout-bluegreen-adding-replicas.yaml", P, "More replicas need to be updated"),
    ("rollout-bluegreen-waiting-until-available.yaml", P, "still becoming available"),
    ("rollout-bluegreen-cutover-pending.yaml", P, "active service cutover pending"),
    ("rollout-canary-set-weight-step.yaml", P, "More replicas need to be updated"),
    ("rollout-canary-killing-old-replicas.yaml", P, "old replicas are pending termination"),
    ("rollout-canary-waiting-for-steps.yaml", P, "Waiting for rollout to finish steps"),
    ("rollout-canary-no-steps-progressing.yaml", P, "still becoming available"),
    ("rollout-canary-executed-all-steps.yaml", H, ""),
    # Kinds without a check: existing is enough
    ("configmap.yaml", H, ""),
    ("custom-resource.yaml", H, ""),
]


def load(name: str) -> dict[str, Any]:
    with (TESTDATA / name).open() as f:
        obj = yaml.safe_load(f)
    assert isinstance(obj, dict)
    return obj


@pytest.mark.parametrize(
    ("fixture", "status", "fragment"), CASES, ids=[c[0].removesuffix(".yaml") for c in CASES]
)
def test_fixture_health(fixture: str, status: HealthStatus, fragment: str) -> None:
    health = assess(load(fixture))
    assert health.status == status, health.message
    assert fragment in health.message


def test_every_fixture_has_a_case() -> None:
    on_disk = sorted(p.name for p in TESTDATA.glob("*.yaml"))
    in_table = sorted(c[0] for c in CASES)
    assert on_disk == in_table


def test_healthy_objects_say_nothing_more() -> None:
    assert assess(load("deployment-healthy.yaml")) == Health(HealthStatus.HEALTHY)


def test_missing_object() -> None:
    assert assess(None).status == M


def test_malformed_status_is_unknown_not_a_crash() -> None:
    obj = load("deployment-healthy.yaml")
    obj["status"]["availableReplicas"] = "three"
    health = assess(obj)
    assert health.status == U
    assert 'Deployment "api"' in health.message


def test_deletion_wins_over_the_kind_check() -> None:
    obj = load("job-failed.yaml")
    obj["metadata"]["deletionTimestamp"] = "2024-05-06T14:08:00Z"
    assert assess(obj) == Health(P, "Pending deletion")


def test_kind_in_another_group_is_not_confused_with_a_known_one() -> None:
    obj = load("deployment-progress-deadline-exceeded.yaml")
    obj["apiVersion"] = "example.com/v1"
    assert assess(obj) == Health(H)


# aggregate


def test_empty_application_is_healthy() -> None:
    assert aggregate([]) == Health(H)


@pytest.mark.parametrize(
    ("statuses", "worst"),
    [
        ([H, H], H),
        ([H, S], S),
        ([S, P, H], P),
        ([P, M], M),
        ([M, D, P], D),
        ([D, U, H], U),
    ],
    ids=["healthy", "suspended", "progressing", "missing", "degraded", "unknown"],
)
def test_aggregate_is_worst_in_argo_order(
    statuses: list[HealthStatus], worst: HealthStatus
) -> None:
    assert aggregate(Health(s) for s in statuses).status == worst


def test_aggregate_keeps_the_message_of_the_first_worst() -> None:
    healths = [
        Health(P, "Waiting for rollout to finish"),
        Health(D, "back-off restarting failed container=api"),
        Health(D, "Job has reached the specified backoff limit"),
    ]
    assert aggregate(healths) == healths[1]


def test_aggregate_of_fixtures() -> None:
    app = [assess(load(f)) for f in ("deployment-healthy.yaml", "service-lb-pending.yaml")]
    assert aggregate(app).status == P
    app.append(assess(load("pod-crashloop.yaml")))
    assert aggregate(app).status == D


# registry


def test_built_in_kinds_are_registered() -> None:
    assert REGISTRY.kinds() == [
        ("", "PersistentVolumeClaim"),
        ("", "Pod"),
        ("", "Service"),
        ("apps", "DaemonSet"),
        ("apps", "Deployment"),
        ("apps", "ReplicaSet"),
        ("apps", "StatefulSet"),
        ("argoproj.io", "AnalysisRun"),
        ("argoproj.io", "Rollout"),
        ("batch", "Job"),
    ]


def test_registry_register_and_lookup() -> None:
    registry = Registry()

    @registry.register("argoproj.io", "Rollout")
    def rollout(obj: dict[str, Any]) -> Health:
        return Health(S, "Rollout is paused")

    assert registry.lookup("argoproj.io", "Rollout") is rollout
    assert rollout({}) == Health(S, "Rollout is paused")  # the decorator returns the function
    assert registry.lookup("", "Rollout") is None
    assert registry.kinds() == [("argoproj.io", "Rollout")]


def test_registry_refuses_a_second_check_for_a_kind() -> None:
    registry = Registry()
    registry.register("", "Pod")(lambda obj: Health(H))
    with pytest.raises(ValueError, match="Pod in the core group already has a health check"):
        registry.register("", "Pod")(lambda obj: Health(D))


def test_registered_kind_is_used_by_assess() -> None:
    @register("tests.conveyor.dev", "Widget")
    def widget(obj: dict[str, Any]) -> Health:
        spinning = (obj.get("status") or {}).get("spinning")
        return Health(H) if spinning else Health(P, "Widget is not spinning yet")

    obj = {"apiVersion": "tests.conveyor.dev/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert assess(obj) == Health(P, "Widget is not spinning yet")
    obj["status"] = {"spinning": True}
    assert assess(obj) == Health(H)
