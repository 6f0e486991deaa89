"""The AnalysisRun controller inside the local runtime: an AnalysisRun applied on its own runs
and ends in a phase, its status in Argo's shape; measurements run beside the worker (a slow
one stalls nothing), bounded in number, their failures surfaced; a measurement is written
through the journal before the run's phase changes because of it; Secret args are read from
the run's namespace and masked; fieldRef, terminate and Error runs.

Providers here are scripted at Conveyor's own seam (the Provider protocol); the web provider
against a real HTTP server is tested at the end and in the kill -9 test.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from analysis_helpers import BrokenJournal, JSONServer

from conveyor.analysis.providers import Provider, RunContext, default_providers
from conveyor.analysis.providers.base import Immediate, begin, evaluated
from conveyor.artifacts import ArtifactStore
from conveyor.clock import Clock
from conveyor.model.analysis.kinds import Metric
from conveyor.model.analysis.status import Measurement
from conveyor.model.objects import Object, ObjectKey
from conveyor.targets.local.images import ArtifactImages
from conveyor.targets.local.journal import MemoryJournal, StateJournal
from conveyor.targets.local.runtime import LocalRuntime
from conveyor.targets.local.target import LocalTarget
from support.runtime_helpers import wait_for
from support.service_stats import Stats, Traffic


class Scripted(Immediate):
    """A provider whose value comes from ``values`` (a number per measurement), optionally
    held until ``gate`` opens; it remembers the URLs it was asked for and how many ran at
    once."""

    kind = "web"

    def __init__(self, values: list[float] | None = None) -> None:
        self.values = list(values or [])
        self.gate: asyncio.Event | None = None
        self.urls: list[str] = []
        self.running = 0
        self.most = 0
        self.fail_with: Exception | None = None

    async def measure(self, metric: Metric, clock: Clock, context: RunContext) -> Measurement:
        started = begin(clock)
        assert metric.provider.web is not None
        self.urls.append(metric.provider.web.url)
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail_with is not None:
                raise self.fail_with
            value = self.values.pop(0) if self.values else 1.0
            return evaluated(metric, value, str(value), started, clock)
        finally:
            self.running -= 1


def runtime_on(journal: StateJournal, tmp_path: Path, providers: dict[str, Provider],
               concurrency: int = 8) -> LocalRuntime:  # fmt: skip
    return LocalRuntime(
        runtime_dir=tmp_path / "runtime",
        journal=journal,
        images=ArtifactImages(ArtifactStore(tmp_path / "artifacts")),
        flush_interval=0.01,
        analysis_providers=providers,
        analysis_concurrency=concurrency,
    )


@pytest.fixture
def scripted() -> Scripted:
    return Scripted()


@pytest.fixture
async def target(tmp_path: Path, scripted: Scripted) -> AsyncIterator[LocalTarget]:
    runtime = runtime_on(MemoryJournal(), tmp_path, {"web": scripted}, concurrency=2)
    await runtime.start()
    yield LocalTarget(runtime)
    await runtime.stop()


def run(name: str, *metrics: dict[str, Any], args: list[Any] | None = None,
        labels: dict[str, str] | None = None) -> Object:  # fmt: skip
    meta: dict[str, Any] = {"name": name, "namespace": "default"}
    if labels:
        meta["labels"] = labels
    spec: dict[str, Any] = {"metrics": list(metrics)}
    if args:
        spec["args"] = args
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": meta,
            "spec": spec}  # fmt: skip


def metric(
    name: str = "success-rate", url: str = "http://metrics/q", **fields: Any
) -> dict[str, Any]:
    return {"name": name, "successCondition": "result >= 0.95",
            "provider": {"web": {"url": url}}, **fields}  # fmt: skip


async def status_of(target: LocalTarget, name: str) -> dict[str, Any]:
    obj = await target.get(ObjectKey("argoproj.io", "AnalysisRun", "default", name))
    assert obj is not None
    return obj.get("status") or {}


async def final(target: LocalTarget, name: str, timeout: float = 30) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        status = await status_of(target, name)
        return status if status.get("phase") not in (None, "Pending", "Running") else None

    result: dict[str, Any] = await wait_for(done, timeout=timeout, what=f"{name} to end")
    return result


async def test_a_run_applied_on_its_own_measures_and_ends_in_a_phase(
    target: LocalTarget, scripted: Scripted
) -> None:
    scripted.values = [0.99, 0.97, 0.96]
    await target.apply(run("ok", metric(interval="1s", count=3)))
    status = await final(target, "ok")
    assert status["phase"] == "Successful"
    [result] = status["metricResults"]
    assert result["name"] == "success-rate" and result["phase"] == "Successful"
    assert result["count"] == result["successful"] == 3
    assert [m["value"] for m in result["measurements"]] == ["0.99", "0.97", "0.96"]
    assert status["runSummary"] == {"count": 1, "successful": 1}
    assert status["startedAt"] and status["completedAt"]


async def test_a_failed_measurement_fails_the_run(target: LocalTarget, scripted: Scripted) -> None:
    scripted.values = [0.5]
    await target.apply(run("bad", metric()))
    status = await final(target, "bad")
    assert status["phase"] == "Failed"
    assert (
        status["message"]
        == 'Metric "success-rate" assessed Failed due to failed (1) > failureLimit (0)'
    )


async def test_a_slow_measurement_stalls_nothing_else(
    target: LocalTarget, scripted: Scripted
) -> None:
    scripted.gate = asyncio.Event()
    await target.apply(run("slow", metric()))
    await wait_for(lambda: _is(scripted.running == 1), what="the measurement to start")
    # the worker goes on: a Namespace applied now is reconciled while the query hangs
    await target.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})

    async def active() -> bool:
        ns = await target.get(ObjectKey("", "Namespace", "", "other"))
        return bool(ns and (ns.get("status") or {}).get("phase") == "Active")

    await wait_for(active, what="the Namespace reconciled during the measurement")
    assert (await status_of(target, "slow"))["phase"] == "Running"
    scripted.gate.set()
    assert (await final(target, "slow"))["phase"] == "Successful"


async def test_measurements_in_flight_are_bounded(target: LocalTarget, scripted: Scripted) -> None:
    scripted.gate = asyncio.Event()
    for i in range(5):
        await target.apply(run(f"r{i}", metric()))
    await wait_for(lambda: _is(scripted.running == 2), what="two measurements running")
    runtime = target.runtime
    keys = [ObjectKey("argoproj.io", "AnalysisRun", "default", f"r{i}") for i in range(5)]
    await wait_for(
        lambda: _is(sum(len(runtime.analysis.in_flight(k)) for k in keys) == 5),
        what="every run's measurement started (3 waiting for a slot)",
    )
    assert scripted.running == 2  # the limit of this runtime (analysis_concurrency=2)
    scripted.gate.set()
    for i in range(5):
        assert (await final(target, f"r{i}"))["phase"] == "Successful"
    assert scripted.most == 2


async def test_a_provider_that_raises_gives_an_error_measurement_and_an_event(
    target: LocalTarget, scripted: Scripted
) -> None:
    scripted.fail_with = RuntimeError("connection pool exploded")
    await target.apply(run("broken", metric(consecutiveErrorLimit=0)))
    status = await final(target, "broken")
    assert status["phase"] == "Error"
    [measurement] = status["metricResults"][0]["measurements"]
    assert measurement["phase"] == "Error"
    assert "connection pool exploded" in measurement["message"]
    events = await target.events(ObjectKey("argoproj.io", "AnalysisRun", "default", "broken"))
    assert any(e.reason == "MeasurementFailed" and e.type == "Warning" for e in events)


async def test_secret_args_are_read_from_the_run_namespace_and_masked(
    target: LocalTarget, scripted: Scripted
) -> None:
    token = "s3cr3t-t0ken"
    await target.apply({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "creds", "namespace": "default"},
                        "data": {"token": base64.b64encode(token.encode()).decode()}})  # fmt: skip
    label = {"fieldRef": {"fieldPath": "metadata.labels['app']"}}
    args = [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
            {"name": "app", "valueFrom": label}]  # fmt: skip
    url = "http://metrics/q?app={{args.app}}&token={{args.token}}"
    scripted.values = [0.5]
    await target.apply(run("masked", metric(url=url), args=args, labels={"app": "web"}))
    status = await final(target, "masked")
    assert scripted.urls == [f"http://metrics/q?app=web&token={token}"]  # the real value
    obj = await target.get(ObjectKey("argoproj.io", "AnalysisRun", "default", "masked"))
    assert token not in json.dumps(obj)
    assert status["phase"] == "Failed"


async def test_a_missing_secret_is_an_error_run_that_names_it(target: LocalTarget) -> None:
    args = [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "t"}}}]
    await target.apply(run("nosecret", metric(url="http://x/{{args.token}}"), args=args))
    status = await final(target, "nosecret")
    assert status["phase"] == "Error"
    assert status["message"] == "args.token: key 't' of secret 'absent' was not found"


async def test_terminate_ends_an_indefinite_run(target: LocalTarget, scripted: Scripted) -> None:
    await target.apply(run("forever", metric(interval="1s")))
    await wait_for(lambda: _measured(target, "forever", 2), timeout=30, what="two measurements")
    key = ObjectKey("argoproj.io", "AnalysisRun", "default", "forever")
    await target.patch(key, {"spec": {"terminate": True}})
    status = await final(target, "forever")
    assert status["phase"] == "Successful"
    assert status["message"] == "Run Terminated"


async def test_the_phase_waits_for_its_measurement_to_be_written(tmp_path: Path) -> None:
    journal = BrokenJournal()
    scripted = Scripted([0.5])
    runtime = runtime_on(journal, tmp_path, {"web": scripted})
    await runtime.start()
    target = LocalTarget(runtime)
    key = ObjectKey("argoproj.io", "AnalysisRun", "default", "durable")
    try:
        journal.broken = True
        await target.apply(run("durable", metric()))
        await wait_for(lambda: _event(target, key, "MeasurementNotPersisted"),
                       what="the barrier failing")  # fmt: skip
        status = await status_of(target, "durable")
        assert status["metricResults"][0]["measurements"][0]["value"] == "0.5"
        assert status["phase"] == "Running"  # not Failed: that measurement could still be lost
        journal.broken = False
        assert (await final(target, "durable"))["phase"] == "Failed"
        [stored] = [o for o in journal.state.objects if o["kind"] == "AnalysisRun"]
        assert stored["status"]["metricResults"][0]["measurements"][0]["value"] == "0.5"
    finally:
        journal.broken = False
        await runtime.stop()


@pytest.mark.processes  # a real HTTP server
async def test_web_metric_against_a_real_server(tmp_path: Path) -> None:
    with JSONServer({"ok": 0.98}).running() as server:
        url = server.url
        runtime = runtime_on(MemoryJournal(), tmp_path, default_providers())
        await runtime.start()
        target = LocalTarget(runtime)
        try:
            m = metric(url=url, successCondition="result.ok >= 0.95", count=2, interval="1s")
            await target.apply(run("web", m))
            status = await final(target, "web")
        finally:
            await runtime.stop()
    assert status["phase"] == "Successful"
    assert [x["value"] for x in status["metricResults"][0]["measurements"]] == ['{"ok":0.98}'] * 2


async def _is(value: bool) -> bool:
    return value


async def _measured(target: LocalTarget, name: str, n: int) -> bool:
    results = (await status_of(target, name)).get("metricResults") or [{}]
    return len(results[0].get("measurements") or []) >= n


async def _event(target: LocalTarget, key: ObjectKey, reason: str) -> bool:
    return any(e.reason == reason for e in await target.events(key))


async def test_builtin_plugin_metric_reads_the_service_stats(tmp_path: Path) -> None:
    stats = Stats({("default", "web"): {"7d9f8": Traffic(ok=97, errors=3)}})
    runtime = LocalRuntime(
        runtime_dir=tmp_path / "runtime",
        journal=MemoryJournal(),
        images=ArtifactImages(ArtifactStore(tmp_path / "artifacts")),
        analysis_providers=default_providers(stats=stats),
    )
    await runtime.start()
    target = LocalTarget(runtime)
    config = {"service": "web", "replicaSet": "{{args.canary}}", "measure": "successRate"}
    m = {"name": "success-rate", "successCondition": "result[0] >= 0.95",
         "provider": {"plugin": {"conveyor/builtin": config}}}  # fmt: skip
    try:
        await target.apply(run("builtin", m, args=[{"name": "canary", "value": "web-7d9f8"}]))
        status = await final(target, "builtin")
    finally:
        await runtime.stop()
    assert status["phase"] == "Successful"
    result = status["metricResults"][0]
    assert result["measurements"][0]["value"] == "[0.97]"
    assert result["metadata"]["replicaSet"] == "web-7d9f8"
