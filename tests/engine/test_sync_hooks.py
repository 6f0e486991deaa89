"""Hooks in a sync: PreSync, Sync, PostSync and SyncFail, and their delete policies.

The in-memory target holds every workload (``settle=False``) unless a test lets it settle, so
each test says when a hook finishes and asserts what the sync did before and after.
"""

from __future__ import annotations

from sync_helpers import (
    WAVE,
    Cluster,
    annotated,
    by_name,
    configmap,
    deployment,
    in_wave,
    job,
    key,
    running_cluster,
)

from conveyor.model.objects import Object
from conveyor.targets.protocol import TRACKING_LABEL

MIGRATE = key("Job", "migrate")
SMOKE = key("Job", "smoke")
WEB = key("Deployment", "web")
CONFIG = key("ConfigMap", "config")


async def applied(cluster: Cluster, *keys: object) -> None:
    await cluster.target.until(
        lambda: all(k in cluster.target.applied() for k in keys), what=f"{keys} applied"
    )


async def test_presync_runs_first_and_postsync_after_everything_is_healthy() -> None:
    async with running_cluster(settle=False) as cluster:
        target = cluster.target
        running = cluster.start(
            [
                job("smoke", "PostSync"),
                deployment("web"),
                configmap("config"),
                job("migrate", "PreSync"),
            ]
        )
        await applied(cluster, MIGRATE)
        report = await cluster.reported("the hook running", lambda r: "Job/migrate" in by_name(r))
        assert by_name(report)["Job/migrate"]["hookPhase"] == "Running"
        assert target.applied() == [MIGRATE]
        target.make_healthy(MIGRATE)
        await applied(cluster, WEB)
        target.make_healthy(WEB)
        await applied(cluster, SMOKE)
        target.make_healthy(SMOKE)
        outcome = await running
    assert outcome.phase == "Succeeded"
    assert [verb for verb, _ in target.history] == [
        "apply", "healthy",  # migrate
        "apply", "apply",  # config, web
        "healthy",  # web
        "apply", "healthy",  # smoke
    ]  # fmt: skip
    assert target.applied() == [MIGRATE, CONFIG, WEB, SMOKE]
    results = by_name(outcome.resources)
    assert {
        n: (r["syncPhase"], r.get("hookType"), r.get("hookPhase")) for n, r in results.items()
    } == {
        "Job/migrate": ("PreSync", "PreSync", "Succeeded"),
        "ConfigMap/config": ("Sync", None, None),
        "Deployment/web": ("Sync", None, None),
        "Job/smoke": ("PostSync", "PostSync", "Succeeded"),
    }
    hook = await target.get(MIGRATE)
    assert hook is not None and hook["metadata"]["labels"][TRACKING_LABEL] == "shop"


async def test_a_failed_presync_hook_fails_the_sync_before_anything_is_applied() -> None:
    async with running_cluster(settle=False) as cluster:
        running = cluster.start([job("migrate", "PreSync"), configmap("config")])
        await applied(cluster, MIGRATE)
        cluster.target.fail(MIGRATE, "Job has reached the specified backoff limit")
        outcome = await running
    assert outcome.phase == "Failed"
    assert outcome.message == (
        "PreSync hook job.batch/migrate failed: Job has reached the specified backoff limit"
    )
    assert cluster.target.applied() == [MIGRATE]
    result = by_name(outcome.resources)["Job/migrate"]
    assert (result["status"], result["hookPhase"]) == ("SyncFailed", "Failed")
    assert await cluster.target.get(MIGRATE) is not None  # kept for inspection: no HookFailed


async def test_hook_waves_run_one_after_the_other() -> None:
    async with running_cluster(settle=False) as cluster:
        second = key("Job", "second")
        running = cluster.start(
            [in_wave(job("second", "PreSync"), 1), in_wave(job("migrate", "PreSync"), -1)]
        )
        await applied(cluster, MIGRATE)
        assert cluster.target.applied() == [MIGRATE]
        cluster.target.make_healthy(MIGRATE)
        await applied(cluster, second)
        cluster.target.make_healthy(second)
        outcome = await running
    assert outcome.phase == "Succeeded"
    assert cluster.target.index("healthy", MIGRATE) < cluster.target.index("apply", second)


async def test_a_sync_hook_holds_its_wave_like_a_resource() -> None:
    async with running_cluster(settle=False) as cluster:
        seed = key("Job", "seed")
        running = cluster.start(
            [job("seed", "Sync"), configmap("config"), in_wave(configmap("z"), 1)]
        )
        await applied(cluster, seed, CONFIG)
        assert key("ConfigMap", "z") not in cluster.target.applied()
        cluster.target.make_healthy(seed)
        outcome = await running
    assert outcome.phase == "Succeeded"
    assert cluster.target.index("healthy", seed) < cluster.target.index(
        "apply", key("ConfigMap", "z")
    )


async def test_a_hook_that_is_not_a_job_or_pod_is_done_once_created() -> None:
    async with running_cluster(settle=False) as cluster:
        marker = annotated(configmap("marker"), **{"argocd.argoproj.io/hook": "PreSync"})
        outcome = await cluster.sync([marker, configmap("config")])
    assert outcome.phase == "Succeeded"
    assert by_name(outcome.resources)["ConfigMap/marker"]["hookPhase"] == "Succeeded"


async def test_a_pod_hook_passes_when_its_pod_succeeds() -> None:
    pod: Object = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "notify",
            "namespace": "shop",
            "annotations": {"argocd.argoproj.io/hook": "PostSync"},
        },
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "shop:1"}]},
    }
    notify = key("Pod", "notify")
    async with running_cluster(settle=False) as cluster:
        running = cluster.start([configmap("config"), pod])
        await applied(cluster, notify)
        cluster.target.make_healthy(notify)
        outcome = await running
    assert outcome.phase == "Succeeded"
    assert by_name(outcome.resources)["Pod/notify"]["hookPhase"] == "Succeeded"


# -- SyncFail ---------------------------------------------------------------------------------


async def test_syncfail_hooks_run_when_a_wave_fails_and_only_then() -> None:
    cleanup = key("Job", "cleanup")
    desired: list[Object] = [deployment("web"), job("cleanup", "SyncFail")]
    async with running_cluster() as cluster:
        succeeded = await cluster.sync(desired)
        assert succeeded.phase == "Succeeded"
        assert cleanup not in cluster.target.applied()

        cluster.target.hold(WEB)
        changed = [deployment("web", replicas=2), in_wave(configmap("z"), 1), desired[1]]
        running = cluster.start(changed)
        await cluster.target.until(lambda: cluster.target.applied().count(WEB) == 2, what="web")
        cluster.target.degrade(WEB)
        failed = await running
    assert failed.phase == "Failed"
    assert cluster.target.index("degraded", WEB) < cluster.target.index("apply", cleanup)
    result = by_name(failed.resources)["Job/cleanup"]
    assert (result["syncPhase"], result["hookType"], result["hookPhase"]) == (
        "SyncFail",
        "SyncFail",
        "Succeeded",
    )


async def test_a_failing_syncfail_hook_leaves_the_sync_failed_for_its_first_reason() -> None:
    async with running_cluster(settle=False) as cluster:
        cleanup = key("Job", "cleanup")
        running = cluster.start([job("migrate", "PreSync"), job("cleanup", "SyncFail")])
        await applied(cluster, MIGRATE)
        cluster.target.fail(MIGRATE, "migration failed")
        await applied(cluster, cleanup)
        cluster.target.fail(cleanup, "cleanup failed too")
        outcome = await running
    assert outcome.phase == "Failed"
    assert outcome.message == "PreSync hook job.batch/migrate failed: migration failed"
    assert by_name(outcome.resources)["Job/cleanup"]["hookPhase"] == "Failed"


async def test_a_failed_selective_sync_runs_no_syncfail_hook() -> None:
    async with running_cluster() as cluster:
        cluster.target.hold(WEB)
        running = cluster.start(
            [deployment("web"), in_wave(configmap("z"), 1), job("cleanup", "SyncFail")],
            selected=frozenset({WEB, key("ConfigMap", "z")}),
        )
        await applied(cluster, WEB)
        cluster.target.degrade(WEB)
        outcome = await running
    assert outcome.phase == "Failed"
    assert cluster.target.applied() == [WEB]  # Argo CD: a selective sync runs no hooks


# -- delete policies --------------------------------------------------------------------------


async def test_hook_succeeded_deletes_the_hook_once_it_passed() -> None:
    async with running_cluster() as cluster:
        outcome = await cluster.sync([job("migrate", "PreSync", policy="HookSucceeded")])
    assert outcome.phase == "Succeeded"
    assert cluster.target.history == [
        ("apply", MIGRATE),
        ("healthy", MIGRATE),
        ("delete", MIGRATE),
    ]
    assert await cluster.target.get(MIGRATE) is None


async def test_hook_failed_deletes_a_failed_hook_and_keeps_a_passed_one() -> None:
    async with running_cluster(settle=False) as cluster:
        running = cluster.start([job("migrate", "PreSync", policy="HookFailed")])
        await applied(cluster, MIGRATE)
        cluster.target.fail(MIGRATE, "boom")
        failed = await running
        assert failed.phase == "Failed"
        assert cluster.target.deleted() == [MIGRATE]

    async with running_cluster() as cluster:
        passed = await cluster.sync([job("migrate", "PreSync", policy="HookFailed")])
        assert passed.phase == "Succeeded"
        assert await cluster.target.get(MIGRATE) is not None


async def test_before_hook_creation_replaces_the_last_run_once_it_is_gone() -> None:
    async with running_cluster() as cluster:
        await cluster.sync([job("migrate", "PreSync")])  # no policy: BeforeHookCreation
        first = await cluster.target.get(MIGRATE)
        assert first is not None
        cluster.target.finalize(MIGRATE)
        running = cluster.start([job("migrate", "PreSync")])
        await cluster.target.until(lambda: MIGRATE in cluster.target.deleted(), what="deleted")
        assert cluster.target.applied() == [MIGRATE]  # the new one waits for the old to go
        cluster.target.finish_deletion(MIGRATE)
        outcome = await running
        second = await cluster.target.get(MIGRATE)
    assert outcome.phase == "Succeeded"
    assert cluster.target.applied() == [MIGRATE, MIGRATE]
    assert second is not None and second["metadata"]["uid"] != first["metadata"]["uid"]


async def test_waiting_for_the_last_hook_to_go_times_out_on_the_clock() -> None:
    async with running_cluster(step_timeout=60.0) as cluster:
        await cluster.sync([job("migrate", "PreSync")])
        cluster.target.finalize(MIGRATE)
        running = cluster.start([job("migrate", "PreSync"), configmap("config")])
        await cluster.target.until(lambda: MIGRATE in cluster.target.deleted(), what="deleted")
        cluster.clock.advance(61.0)
        cluster.target.touch(MIGRATE)  # a change: the executor looks again, too late
        outcome = await running
    assert outcome.phase == "Failed"
    assert "job.batch/migrate to be deleted" in outcome.message
    assert CONFIG not in cluster.target.applied()


# -- Helm hooks --------------------------------------------------------------------------------


async def test_a_helm_pre_upgrade_hook_runs_before_the_resources_and_is_cleaned_up() -> None:
    hook = annotated(
        job("migrate"),
        **{
            "helm.sh/hook": "pre-upgrade",
            "helm.sh/hook-delete-policy": "hook-succeeded",
            WAVE: "0",
        },
    )
    async with running_cluster() as cluster:
        outcome = await cluster.sync([configmap("config"), hook])
    assert outcome.phase == "Succeeded"
    assert cluster.target.history == [
        ("apply", MIGRATE),
        ("healthy", MIGRATE),
        ("delete", MIGRATE),
        ("apply", CONFIG),
    ]
