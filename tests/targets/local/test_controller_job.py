"""The Job controller's plans, driven through runs that succeed, fail, time out and pause."""

from __future__ import annotations

from typing import Any

import pytest
from controller_sim import Cluster, condition, is_terminating, job

from conveyor.targets.local.controllers import plan_job


def active_pods(cluster: Cluster) -> list[dict[str, Any]]:
    return [
        p
        for p in cluster.pods()
        if not is_terminating(p) and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]


def status(cluster: Cluster, name: str = "migrate") -> dict[str, Any]:
    return dict(cluster.get("Job", name)["status"])


def run(
    cluster: Cluster,
    outcome: Any = lambda pod: True,
    *,
    name: str = "migrate",
    rounds: int = 100,
    step: float = 1.0,
) -> list[int]:
    """Sync, start new Pods, finish running ones per ``outcome``; the active count per round."""
    seen: list[int] = []
    for _ in range(rounds):
        plan = cluster.sync_job(name)
        seen.append(plan.status["active"])
        if condition(cluster.get("Job", name), "Complete") or condition(
            cluster.get("Job", name), "Failed"
        ):
            return seen
        for pod in cluster.pods():
            if is_terminating(pod):
                del cluster.objects[("Pod", pod["metadata"]["name"])]
            elif not pod.get("status"):
                cluster.start_pod(pod)
            elif pod["status"]["phase"] == "Running":
                cluster.finish_pod(pod, succeeded=bool(outcome(pod)))
        cluster.advance(step)
    raise AssertionError(f"job {name} did not finish in {rounds} rounds")


# -- the Pods of a Job --------------------------------------------------------------------------


def test_a_job_starts_one_pod_from_its_template() -> None:
    cluster = Cluster()
    j = cluster.add(job())

    plan = cluster.sync_job("migrate")

    (pod,) = plan.create
    uid = j["metadata"]["uid"]
    assert pod["metadata"]["name"] == "migrate-00001"
    assert pod["metadata"]["generateName"] == "migrate-"
    assert pod["metadata"]["namespace"] == "default"
    assert pod["metadata"]["labels"] == {
        "task": "migrate",
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "migrate",
        "controller-uid": uid,
        "job-name": "migrate",
    }
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "migrate",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert pod["spec"] == j["spec"]["template"]["spec"]
    assert plan.status == {
        "active": 1,
        "ready": 0,
        "succeeded": 0,
        "failed": 0,
        "terminating": 0,
        "startTime": "2026-01-01T12:00:00Z",
    }
    assert plan.requeue_after is None


def test_a_template_without_a_job_restart_policy_runs_with_never() -> None:
    cluster = Cluster()
    cluster.add(job(restart_policy=None))

    (pod,) = cluster.sync_job("migrate").create

    assert pod["spec"]["restartPolicy"] == "Never"


def test_planning_leaves_its_inputs_alone() -> None:
    cluster = Cluster()
    j = cluster.add(job(parallelism=2, completions=4))
    cluster.sync_job("migrate")
    pods = cluster.pods()
    cluster.finish_pod(pods[0], succeeded=False)
    before = repr((j, pods))

    plan_job(j, pods, cluster.now, cluster.new_name)

    assert repr((j, pods)) == before


# -- completions and parallelism ----------------------------------------------------------------


def test_a_single_pod_job_completes() -> None:
    cluster = Cluster()
    cluster.add(job())

    run(cluster)

    st = status(cluster)
    assert (st["active"], st["succeeded"], st["failed"]) == (0, 1, 0)
    complete = condition(cluster.get("Job", "migrate"), "Complete")
    assert (complete["status"], complete["reason"]) == ("True", "CompletionsReached")
    assert st["completionTime"] == "2026-01-01T12:00:02Z"
    assert st["startTime"] == "2026-01-01T12:00:00Z"
    assert len(cluster.pods()) == 1  # finished Pods are kept, for their logs


def test_completions_with_parallelism_never_run_more_than_allowed() -> None:
    cluster = Cluster()
    cluster.add(job(completions=5, parallelism=2))

    seen = run(cluster)

    assert max(seen) == 2
    assert status(cluster)["succeeded"] == 5
    assert len(cluster.pods()) == 5  # exactly one Pod per completion
    assert condition(cluster.get("Job", "migrate"), "Complete")["status"] == "True"


def test_parallelism_above_the_remaining_completions_is_capped() -> None:
    cluster = Cluster()
    cluster.add(job(completions=3, parallelism=5))

    seen = run(cluster)

    assert seen[0] == 3 and max(seen) == 3
    assert status(cluster)["succeeded"] == 3


def test_a_work_queue_job_ends_when_one_pod_succeeded_and_the_rest_finished() -> None:
    cluster = Cluster()
    cluster.add(job(parallelism=3))
    cluster.sync_job("migrate")
    for pod in cluster.pods():
        cluster.start_pod(pod)
    first, *others = cluster.pods()
    cluster.finish_pod(first, succeeded=True)

    plan = cluster.sync_job("migrate")

    assert plan.create == () and plan.delete == ()  # the others may finish their work
    assert plan.status["active"] == 2
    assert condition(cluster.get("Job", "migrate"), "Complete") is None
    for pod in others:
        cluster.finish_pod(pod, succeeded=True)
    cluster.sync_job("migrate")
    assert condition(cluster.get("Job", "migrate"), "Complete")["status"] == "True"
    assert status(cluster)["succeeded"] == 3


def test_lowering_parallelism_removes_pods() -> None:
    cluster = Cluster()
    cluster.add(job(completions=10, parallelism=4))
    cluster.sync_job("migrate")
    for pod in cluster.pods()[:2]:
        cluster.start_pod(pod)
    cluster.edit("Job", "migrate", lambda s: s.__setitem__("parallelism", 1))

    plan = cluster.sync_job("migrate")

    # the two that never started go first, then one of the running ones
    assert plan.delete[:2] == tuple(p["metadata"]["name"] for p in cluster.pods()[2:])
    assert len(plan.delete) == 3 and plan.status["active"] == 1
    plan = cluster.sync_job("migrate")  # terminating Pods are not deleted again, nor counted
    assert (plan.create, plan.delete) == ((), ())
    assert plan.status["failed"] == 0 and plan.status["terminating"] == 3


def test_zero_completions_is_complete_at_once() -> None:
    cluster = Cluster()
    cluster.add(job(completions=0))

    plan = cluster.sync_job("migrate")

    assert plan.create == ()
    assert condition(cluster.get("Job", "migrate"), "Complete")["status"] == "True"


# -- failures and the backoff limit -------------------------------------------------------------


def test_a_failed_pod_is_replaced_after_an_exponential_delay() -> None:
    cluster = Cluster()
    cluster.add(job(backoffLimit=6))
    cluster.sync_job("migrate")
    (first,) = cluster.pods()
    cluster.start_pod(first)
    cluster.finish_pod(first, succeeded=False)

    plan = cluster.sync_job("migrate")
    assert plan.create == () and plan.requeue_after == pytest.approx(10.0)
    assert plan.status["failed"] == 1 and plan.status["active"] == 0

    cluster.advance(10)
    (second,) = cluster.sync_job("migrate").create
    cluster.finish_pod(cluster.get("Pod", second["metadata"]["name"]), succeeded=False)
    plan = cluster.sync_job("migrate")
    assert plan.create == () and plan.requeue_after == pytest.approx(20.0)  # doubled

    cluster.advance(20)
    plan = cluster.sync_job("migrate")
    assert len(plan.create) == 1 and plan.status["failed"] == 2


def test_backoff_limit_fails_the_job_with_never() -> None:
    cluster = Cluster()
    cluster.add(job(backoffLimit=2))

    run(cluster, lambda pod: False, step=60)

    j = cluster.get("Job", "migrate")
    failed = condition(j, "Failed")
    assert (failed["status"], failed["reason"], failed["message"]) == (
        "True",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert status(cluster)["failed"] == 3  # backoffLimit retries after the first failure
    assert len(cluster.pods()) == 3
    assert "completionTime" not in status(cluster)


def test_backoff_limit_zero_fails_on_the_first_failure() -> None:
    cluster = Cluster()
    cluster.add(job(backoffLimit=0))

    run(cluster, lambda pod: False)

    assert condition(cluster.get("Job", "migrate"), "Failed")["reason"] == "BackoffLimitExceeded"
    assert status(cluster)["failed"] == 1


def test_a_failed_job_stops_its_running_pods() -> None:
    cluster = Cluster()
    cluster.add(job(parallelism=2, completions=4, backoffLimit=0))
    cluster.sync_job("migrate")
    failing, running = cluster.pods()
    cluster.start_pod(running)
    cluster.finish_pod(failing, succeeded=False)

    plan = cluster.sync_job("migrate")

    assert plan.delete == (running["metadata"]["name"],)
    assert plan.status["active"] == 0 and plan.status["failed"] == 1
    assert condition(cluster.get("Job", "migrate"), "Failed")["status"] == "True"


def test_restarts_count_against_the_backoff_limit_with_on_failure() -> None:
    cluster = Cluster()
    cluster.add(job(restart_policy="OnFailure", backoffLimit=3))
    cluster.sync_job("migrate")
    (pod,) = cluster.pods()
    cluster.start_pod(pod)
    pod["status"]["containerStatuses"][0]["restartCount"] = 2

    plan = cluster.sync_job("migrate")
    assert plan.delete == () and condition(cluster.get("Job", "migrate"), "Failed") is None

    pod["status"]["containerStatuses"][0]["restartCount"] = 3
    plan = cluster.sync_job("migrate")

    assert plan.delete == (pod["metadata"]["name"],)
    assert condition(cluster.get("Job", "migrate"), "Failed")["reason"] == "BackoffLimitExceeded"


def test_success_resets_the_failure_backoff() -> None:
    cluster = Cluster()
    cluster.add(job(completions=3, parallelism=1))
    cluster.sync_job("migrate")
    (first,) = cluster.pods()
    cluster.finish_pod(first, succeeded=False)
    cluster.advance(10)
    (second,) = cluster.sync_job("migrate").create
    cluster.advance(1)
    cluster.finish_pod(cluster.get("Pod", second["metadata"]["name"]), succeeded=True)

    plan = cluster.sync_job("migrate")

    assert len(plan.create) == 1 and plan.requeue_after is None


def test_a_pod_deleted_by_hand_is_replaced_without_counting_as_a_failure() -> None:
    cluster = Cluster()
    cluster.add(job(backoffLimit=0))
    cluster.sync_job("migrate")
    (pod,) = cluster.pods()
    cluster.start_pod(pod)
    cluster.delete("Pod", pod["metadata"]["name"])

    plan = cluster.sync_job("migrate")

    assert len(plan.create) == 1 and plan.status["failed"] == 0


def test_pod_replacement_policy_failed_waits_for_terminating_pods() -> None:
    cluster = Cluster()
    cluster.add(job(podReplacementPolicy="Failed"))
    cluster.sync_job("migrate")
    (pod,) = cluster.pods()
    cluster.delete("Pod", pod["metadata"]["name"])

    assert cluster.sync_job("migrate").create == ()
    del cluster.objects[("Pod", pod["metadata"]["name"])]
    assert len(cluster.sync_job("migrate").create) == 1


def test_counts_do_not_drop_when_finished_pods_are_deleted() -> None:
    cluster = Cluster()
    cluster.add(job(completions=2, backoffLimit=5))
    run(cluster, lambda pod: pod["metadata"]["name"] != "migrate-00001", step=30)
    assert (status(cluster)["succeeded"], status(cluster)["failed"]) == (2, 1)
    cluster.get("Job", "migrate")["status"]["conditions"] = []  # as if it were still running
    for pod in cluster.pods():
        del cluster.objects[("Pod", pod["metadata"]["name"])]

    plan = cluster.sync_job("migrate")

    assert (plan.status["succeeded"], plan.status["failed"]) == (2, 1)
    assert plan.create == ()


# -- deadline and suspension --------------------------------------------------------------------


def test_active_deadline_fails_the_job_and_stops_its_pods() -> None:
    cluster = Cluster()
    cluster.add(job(activeDeadlineSeconds=30))
    plan = cluster.sync_job("migrate")
    (pod,) = cluster.pods()
    cluster.start_pod(pod)
    assert plan.requeue_after == pytest.approx(30.0)

    cluster.advance(12)
    plan = cluster.sync_job("migrate")
    assert plan.requeue_after == pytest.approx(18.0)
    cluster.advance(plan.requeue_after or 0)
    plan = cluster.sync_job("migrate")

    failed = condition(cluster.get("Job", "migrate"), "Failed")
    assert (failed["reason"], failed["message"]) == (
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )
    assert plan.delete == (pod["metadata"]["name"],) and plan.status["active"] == 0
    assert plan.requeue_after is None


def test_a_job_created_suspended_runs_nothing_until_resumed() -> None:
    cluster = Cluster()
    cluster.add(job(suspend=True, activeDeadlineSeconds=30))

    plan = cluster.sync_job("migrate")

    assert plan.create == () and "startTime" not in plan.status
    suspended = condition(cluster.get("Job", "migrate"), "Suspended")
    assert (suspended["status"], suspended["reason"]) == ("True", "JobSuspended")
    cluster.advance(600)
    assert condition(cluster.get("Job", "migrate"), "Failed") is None

    cluster.edit("Job", "migrate", lambda s: s.__setitem__("suspend", False))
    plan = cluster.sync_job("migrate")

    assert len(plan.create) == 1
    assert plan.status["startTime"] == "2026-01-01T12:10:00Z"
    suspended = condition(cluster.get("Job", "migrate"), "Suspended")
    assert (suspended["status"], suspended["reason"], suspended["message"]) == (
        "False",
        "JobResumed",
        "Job resumed",
    )
    assert plan.requeue_after == pytest.approx(30.0)


def test_suspending_a_running_job_stops_its_pods_without_failures() -> None:
    cluster = Cluster()
    cluster.add(job(parallelism=2, completions=2, backoffLimit=0))
    cluster.sync_job("migrate")
    for pod in cluster.pods():
        cluster.start_pod(pod)
    cluster.edit("Job", "migrate", lambda s: s.__setitem__("suspend", True))

    plan = cluster.sync_job("migrate")

    assert len(plan.delete) == 2 and plan.status["active"] == 0
    assert "startTime" not in plan.status
    for pod in cluster.pods():  # the kubelet stops them: they end as Failed, being deleted
        cluster.finish_pod(pod, succeeded=False)
    plan = cluster.sync_job("migrate")
    assert plan.status["failed"] == 0 and plan.delete == ()
    assert condition(cluster.get("Job", "migrate"), "Failed") is None

    cluster.edit("Job", "migrate", lambda s: s.__setitem__("suspend", False))
    run(cluster)
    assert status(cluster)["succeeded"] == 2


def test_a_job_that_never_was_suspended_has_no_suspended_condition() -> None:
    cluster = Cluster()
    cluster.add(job())

    run(cluster)

    assert condition(cluster.get("Job", "migrate"), "Suspended") is None


# -- finished Jobs ------------------------------------------------------------------------------


def test_a_finished_job_does_nothing_more() -> None:
    cluster = Cluster()
    cluster.add(job())
    run(cluster)
    before = status(cluster)
    (pod,) = cluster.pods()
    del cluster.objects[("Pod", pod["metadata"]["name"])]
    cluster.advance(3600)

    plan = cluster.sync_job("migrate")

    assert (plan.create, plan.delete, plan.requeue_after) == ((), (), None)
    assert plan.status == before
