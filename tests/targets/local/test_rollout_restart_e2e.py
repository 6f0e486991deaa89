"""kill -9 of the local runtime in the middle of a canary: the same step, the same pause start
and the same weights after the restart (weights are in memory: served again from status); and
just after an abort by analysis: still aborted, all traffic on stable, the analysis not run
again."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.artifacts import ArtifactStore
from support.metric_gate import serving
from support.rollout_helpers import rollout, versions
from support.runtime_helpers import make_app_repo, service

pytestmark = [pytest.mark.slow, pytest.mark.processes]

SCRIPT = Path(__file__).with_name("rollout_process.py")
STEPS = [{"setWeight": 20}, {"pause": {"duration": "10m"}}, {"setWeight": 60}]
STRATEGY = {
    "canary": {
        "canaryService": "shop-canary",
        "stableService": "shop",
        "trafficRouting": {"smi": {}},
        "steps": STEPS,
    }
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    root = tmp_path_factory.mktemp("artifacts")
    repo, shas = make_app_repo(root, ["v1", "v2"])
    store = ArtifactStore(root / "store")

    async def build() -> None:
        for version, sha in zip(["v1", "v2"], shas, strict=True):
            await store.build("hello", source=str(repo), revision=sha, tag=version)

    asyncio.run(build())
    return store


class Runtime:
    """One run of rollout_process.py, its printed snapshots read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []

    async def until(
        self, check: Callable[[dict[str, Any]], bool], what: str, timeout: float = 120.0
    ) -> dict[str, Any]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    raise AssertionError(f"the runtime exited before {what}: {self.seen[-1:]}")
                if not line.startswith(b"SNAP "):
                    continue  # the runtime's own log
                snap: dict[str, Any] = json.loads(line[5:])
                self.seen.append(snap)
                if check(snap):
                    return snap


async def start(args: list[str]) -> Runtime:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), *args, stdout=asyncio.subprocess.PIPE, limit=2**22
    )
    return Runtime(proc)


def at_pause(snap: dict[str, Any]) -> bool:
    st = snap["status"]
    canary = st.get("currentPodHash")
    return (
        st.get("currentStepIndex") == 1
        and bool(st.get("pauseConditions"))
        and snap["ready"].get(canary, 0) >= 1
        and snap["ready"].get(st.get("stableRS"), 0) >= 2
        and snap["port"] is not None
    )


async def test_kill_9_at_a_timed_pause_resumes_with_the_same_step_and_weights(
    tmp_path: Path, artifacts: ArtifactStore
) -> None:
    stages = [
        [service("shop"), {**service("shop-canary"), "spec": service("shop")["spec"]},
         rollout("shop", "hello:v1", STRATEGY)],
        [rollout("shop", "hello:v2", STRATEGY)],
    ]  # fmt: skip
    stages_file = tmp_path / "stages.json"
    stages_file.write_text(json.dumps(stages))
    home = str(tmp_path / "home")
    first = await start([home, str(artifacts.root), str(stages_file)])
    try:
        before = await first.until(at_pause, "the timed pause")
        url = f"http://127.0.0.1:{before['port']}/"
        assert await versions(url, 10) == {"v1": 8, "v2": 2}
    finally:
        first.proc.kill()  # SIGKILL: no cleanup at all
        await first.proc.wait()
    st = before["status"]
    served = {st["stableRS"]: 80, st["currentPodHash"]: 20}
    assert before["weights"] == served

    second = await start([home, str(artifacts.root)])
    try:
        after = await second.until(lambda s: at_pause(s) and s["weights"] == served, "resumed")
        assert after["status"]["pauseConditions"] == st["pauseConditions"]  # same start time
        assert after["status"]["canary"]["weights"] == st["canary"]["weights"]
        assert after["status"]["currentStepIndex"] == 1
        # the recorded weights never moved, not even while the Pods were starting again
        for snap in second.seen:
            assert snap["status"].get("currentStepIndex") == 1
            assert snap["status"]["canary"]["weights"] == st["canary"]["weights"]
        url = f"http://127.0.0.1:{after['port']}/"
        assert await versions(url, 10) == {"v1": 8, "v2": 2}
    finally:
        second.proc.kill()
        await second.proc.wait()


def aborted(snap: dict[str, Any]) -> bool:
    st = snap["status"]
    canary, stable = st.get("currentPodHash"), st.get("stableRS")
    return (
        bool(st.get("abort"))
        and snap["weights"] == {stable: 100, canary: 0}
        and snap["port"] is not None
    )


async def test_kill_9_just_after_an_abort_stays_aborted_on_stable(
    tmp_path: Path, artifacts: ArtifactStore
) -> None:
    with serving() as gate:  # the metric fails: the background analysis aborts the update
        template = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "gate", "namespace": "default"},
            "spec": {"metrics": [gate.metric()]},
        }
        strategy = {
            "canary": {
                **STRATEGY["canary"],
                "steps": [{"setWeight": 50}, {"pause": {}}],
                "analysis": {"templates": [{"templateName": "gate"}]},
            }
        }
        stages = [
            [service("shop"), {**service("shop-canary"), "spec": service("shop")["spec"]},
             template, rollout("shop", "hello:v1", strategy)],
            [rollout("shop", "hello:v2", strategy)],
        ]  # fmt: skip
        stages_file = tmp_path / "stages.json"
        stages_file.write_text(json.dumps(stages))
        home = str(tmp_path / "home")
        first = await start([home, str(artifacts.root), str(stages_file)])
        try:
            before = await first.until(aborted, "the abort")
        finally:
            first.proc.kill()  # SIGKILL at once: the abort was just carried out
            await first.proc.wait()
        st = before["status"]
        stable, canary = st["stableRS"], st["currentPodHash"]
        message = st["message"]
        assert st["phase"] == "Degraded"
        assert message.startswith("RolloutAborted: Rollout aborted update to revision 2: ")
        assert 'Metric "gate" assessed Failed' in message
        [(run, recorded)] = before["runs"].items()
        assert recorded["phase"] == "Failed"
        hits = gate.hits

        second = await start([home, str(artifacts.root)])
        try:
            after = await second.until(
                lambda s: aborted(s) and s["ready"].get(stable, 0) >= 2, "stable Ready again"
            )
            for snap in second.seen:  # from the first moment on: aborted, all on stable
                assert snap["weights"] == {stable: 100, canary: 0}
                assert snap["status"].get("abort") is True
                assert (snap["status"]["phase"], snap["status"]["message"]) == ("Degraded", message)
            assert after["status"]["canary"]["weights"] == st["canary"]["weights"]
            assert after["status"]["currentStepIndex"] == 0
            assert after["runs"] == {run: recorded}  # the same run, not measured again
            assert gate.hits == hits
            url = f"http://127.0.0.1:{after['port']}/"
            assert await versions(url, 10) == {"v1": 10}
        finally:
            second.proc.kill()
            await second.proc.wait()
