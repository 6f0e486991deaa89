"""A sync carried out against the in-memory target: waves wait for health, prune, time out.

The target decides health as the test says (``settle=False`` or ``hold``), and the executor's
step timeout runs on the injected clock, so nothing here waits for real time to pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sync_helpers import (
    NAMESPACE,
    SHA1,
    SHA256,
    SYNC_OPTIONS,
    Cluster,
    annotated,
    by_name,
    configmap,
    deployment,
    in_wave,
    job,
    key,
    namespace,
    running_cluster,
    service,
)

from conveyor.model.objects import ObjectKey
from conveyor.targets.protocol import TRACKING_LABEL


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with running_cluster() as running:
        yield running


async def test_a_sync_applies_every_object_in_plan_order_and_reports_each(
    cluster: Cluster,
) -> None:
    desired = [deployment("web"), service("web"), configmap("config"), in_wave(configmap("z"), 1)]
    outcome = await cluster.sync(desired)
    assert (outcome.phase, outcome.message) == ("Succeeded", "successfully synced (all tasks run)")
    assert cluster.target.applied() == [
        key("ConfigMap", "config"),
        key("Service", "web"),
        key("Deployment", "web"),
        key("ConfigMap", "z"),
    ]
    results = by_name(outcome.resources)
    assert results["Deployment/web"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
        "namespace": NAMESPACE,
        "name": "web",
        "status": "Synced",
        "message": "deployment.apps/web created",
        "syncPhase": "Sync",
    }
    live = await cluster.target.get(key("Deployment", "web"))
    assert live is not None and live["metadata"]["labels"][TRACKING_LABEL] == "shop"


async def test_syncing_again_reports_unchanged_and_configured(cluster: Cluster) -> None:
    await cluster.sync([configmap("same"), configmap("changed")])
    outcome = await cluster.sync([configmap("same"), configmap("changed", {"k": "new"})])
    messages = {name: r["message"] for name, r in by_name(outcome.resources).items()}
    assert messages == {
        "ConfigMap/same": "configmap/same unchanged",
        "ConfigMap/changed": "configmap/changed configured",
    }


@pytest.mark.parametrize("revision", [SHA1, SHA256], ids=["sha1", "sha256"])
async def test_a_sync_at_a_sha256_revision_is_carried_out_like_any_other(
    cluster: Cluster, revision: str
) -> None:
    outcome = await cluster.sync([configmap("a")], revision=revision)
    assert outcome.phase == "Succeeded"
    assert cluster.target.applied() == [key("ConfigMap", "a")]


async def test_a_wave_waits_until_the_one_before_is_healthy() -> None:
    async with running_cluster(settle=False) as cluster:
        web = key("Deployment", "web")
        running = cluster.start([deployment("web"), in_wave(configmap("after"), 1)])
        await cluster.reported("wave 0 applied", lambda r: "Deployment/web" in by_name(r))
        assert await cluster.target.get(key("ConfigMap", "after")) is None
        cluster.target.make_healthy(web)
        outcome = await running
    assert outcome.phase == "Succeeded"
    target = cluster.target
    assert target.index("apply", web) < target.index("healthy", web)
    assert target.index("healthy", web) < target.index("apply", key("ConfigMap", "after"))


async def test_the_last_wave_is_not_waited_for() -> None:
    async with running_cluster(settle=False) as cluster:
        outcome = await cluster.sync([configmap("first"), in_wave(deployment("web"), 1)])
    assert outcome.phase == "Succeeded"  # the app's health shows the rest, not the sync
    assert ("healthy", key("Deployment", "web")) not in cluster.target.history


async def test_a_degraded_object_fails_its_wave_and_later_waves_never_run(
    cluster: Cluster,
) -> None:
    web = key("Deployment", "web")
    cluster.target.hold(web)
    running = cluster.start([deployment("web"), in_wave(configmap("after"), 1)])
    await cluster.reported("wave 0 applied", lambda r: "Deployment/web" in by_name(r))
    cluster.target.degrade(web)
    outcome = await running
    assert outcome.phase == "Failed"
    assert outcome.message == (
        'deployment.apps/web is Degraded: Deployment "web" exceeded its progress deadline'
    )
    assert key("ConfigMap", "after") not in cluster.target.applied()


async def test_a_step_that_becomes_healthy_just_in_time_goes_on() -> None:
    async with running_cluster(step_timeout=300.0) as cluster:
        web = key("Deployment", "web")
        cluster.target.hold(web)
        running = cluster.start([deployment("web"), in_wave(configmap("after"), 1)])
        await cluster.reported("wave 0 applied", lambda r: "Deployment/web" in by_name(r))
        cluster.clock.advance(299.0)
        cluster.target.make_healthy(web)
        outcome = await running
    assert outcome.phase == "Succeeded"
    assert key("ConfigMap", "after") in cluster.target.applied()


async def test_a_step_times_out_on_the_injected_clock() -> None:
    async with running_cluster(step_timeout=300.0) as cluster:
        web = key("Deployment", "web")
        cluster.target.hold(web)
        running = cluster.start([deployment("web"), in_wave(configmap("after"), 1)])
        await cluster.reported("wave 0 applied", lambda r: "Deployment/web" in by_name(r))
        cluster.clock.advance(301.0)
        cluster.target.report_progress(web)  # a change: the executor looks again, too late
        outcome = await running
    assert outcome.phase == "Failed"
    assert outcome.message == (
        "timed out after 300s waiting for deployment.apps/web to become healthy"
    )
    assert key("ConfigMap", "after") not in cluster.target.applied()


async def test_an_invalid_object_fails_the_sync_before_anything_is_applied(
    cluster: Cluster,
) -> None:
    broken = deployment("broken")
    broken["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    outcome = await cluster.sync([configmap("fine"), in_wave(broken, 1)])
    assert outcome.phase == "Failed"
    assert outcome.message.startswith("deployment.apps/broken: ")
    assert outcome.message.endswith("spec.template.spec.containers[0].image is required")
    assert cluster.target.applied() == []
    assert set(cluster.target.dry_runs) == {key("ConfigMap", "fine"), key("Deployment", "broken")}


async def test_a_missing_namespace_fails_unless_the_sync_creates_it(cluster: Cluster) -> None:
    elsewhere = configmap("x")
    elsewhere["metadata"]["namespace"] = "other"
    outcome = await cluster.sync([elsewhere])
    assert outcome.phase == "Failed"
    assert 'namespaces "other" not found' in outcome.message

    created = await cluster.sync([namespace("other"), elsewhere])
    assert created.phase == "Succeeded"
    assert cluster.target.applied() == [
        ObjectKey("", "Namespace", "", "other"),
        ObjectKey("", "ConfigMap", "other", "x"),
    ]


async def test_create_namespace_creates_the_destination_namespace_first() -> None:
    async with running_cluster(with_namespace=False) as cluster:
        outcome = await cluster.sync([configmap("a")], create_namespace=True)
    assert outcome.phase == "Succeeded"
    assert cluster.target.applied() == [
        ObjectKey("", "Namespace", "", NAMESPACE),
        key("ConfigMap", "a"),
    ]


async def test_a_dry_run_reports_what_it_would_do_and_changes_nothing() -> None:
    async with running_cluster(existing=[configmap("old")]) as cluster:
        outcome = await cluster.sync([configmap("new")], dry_run=True, prune=True)
    assert outcome.phase == "Succeeded"
    assert outcome.message == "successfully synced (dry run)"
    assert {n: (r["status"], r["message"]) for n, r in by_name(outcome.resources).items()} == {
        "ConfigMap/new": ("Synced", "configmap/new (dry run)"),
        "ConfigMap/old": ("Pruned", "configmap/old (dry run)"),
    }
    assert cluster.target.history == []


# -- prune -----------------------------------------------------------------------------------


async def test_prune_deletes_what_git_no_longer_has_dependants_first() -> None:
    existing = [configmap("keep"), configmap("old-config"), deployment("old-web"), service("old")]
    async with running_cluster(existing=existing) as cluster:
        outcome = await cluster.sync([configmap("keep")], prune=True)
    assert outcome.phase == "Succeeded"
    assert cluster.target.deleted() == [
        key("Deployment", "old-web"),
        key("Service", "old"),
        key("ConfigMap", "old-config"),
    ]
    assert cluster.target.index("apply", key("ConfigMap", "keep")) < cluster.target.index(
        "delete", key("Deployment", "old-web")
    )
    assert by_name(outcome.resources)["Service/old"]["status"] == "Pruned"
    assert cluster.live.app_objects("shop") == [cluster.live.get(key("ConfigMap", "keep"))]


async def test_without_prune_nothing_is_deleted_and_the_message_says_so() -> None:
    existing = [configmap("old"), annotated(configmap("pinned"), **{SYNC_OPTIONS: "Prune=false"})]
    async with running_cluster(existing=existing) as cluster:
        outcome = await cluster.sync([configmap("new")])
        pinned = await cluster.sync([configmap("new")], prune=True)
    assert outcome.phase == "Succeeded"
    assert outcome.message == "successfully synced (2 resources require pruning)"
    assert by_name(outcome.resources)["ConfigMap/old"]["status"] == "PruneSkipped"
    assert cluster.target.deleted() == [key("ConfigMap", "old")]
    assert by_name(pinned.resources)["ConfigMap/pinned"] == {
        **by_name(pinned.resources)["ConfigMap/pinned"],
        "status": "PruneSkipped",
        "message": "ignored (no prune: Prune=false)",
    }


async def test_prune_last_deletes_after_every_wave_is_healthy() -> None:
    existing = [annotated(configmap("legacy"), **{SYNC_OPTIONS: "PruneLast=true"})]
    async with running_cluster(existing=existing) as cluster:
        outcome = await cluster.sync(
            [deployment("web"), in_wave(deployment("worker"), 5)], prune=True
        )
    assert outcome.phase == "Succeeded"
    target = cluster.target
    assert target.index("healthy", key("Deployment", "worker")) < target.index(
        "delete", key("ConfigMap", "legacy")
    )


# -- which objects ----------------------------------------------------------------------------


async def test_a_selective_sync_applies_only_the_selected_resources() -> None:
    async with running_cluster(existing=[configmap("gone")]) as cluster:
        outcome = await cluster.sync(
            [configmap("a"), configmap("b"), job("migrate", "PreSync")],
            prune=True,
            selected=frozenset({key("ConfigMap", "b")}),
        )
    assert outcome.phase == "Succeeded"
    assert cluster.target.history == [("apply", key("ConfigMap", "b"))]


async def test_apply_out_of_sync_only_leaves_synced_objects_alone() -> None:
    existing = [configmap("same"), configmap("drifted", {"k": "old"})]
    async with running_cluster(existing=existing) as cluster:
        outcome = await cluster.sync(
            [configmap("same"), configmap("drifted"), configmap("new")],
            out_of_sync={key("ConfigMap", "drifted")},
            apply_out_of_sync_only=True,
        )
    assert outcome.phase == "Succeeded"
    assert cluster.target.applied() == [key("ConfigMap", "drifted"), key("ConfigMap", "new")]


async def test_cancelling_a_sync_stops_it_where_it_is() -> None:
    async with running_cluster(settle=False) as cluster:
        running = cluster.start([deployment("web"), in_wave(configmap("after"), 1)])
        await cluster.reported("wave 0 applied", lambda r: "Deployment/web" in by_name(r))
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert cluster.target.applied() == [key("Deployment", "web")]
