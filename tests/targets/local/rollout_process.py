"""The local runtime in its own process, for the Rollout kill -9 test.

Usage: ``python rollout_process.py HOME ARTIFACTS [STAGES.json]``.

With STAGES (a list of lists of manifests) it applies the first stage, waits until the Rollout
``shop`` is Healthy, then applies the next. It prints one JSON line whenever what the test
watches changes: the Rollout's status, the weights the stable Service serves, its port, the
Ready Pods per ReplicaSet and the AnalysisRuns' status. The test kills it with SIGKILL and
starts it again without STAGES.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from conveyor.artifacts import ArtifactStore
from conveyor.bootstrap import local_target
from conveyor.model.objects import ObjectKey
from conveyor.settings import Settings
from conveyor.targets.local.kubelet import KubeletOptions
from conveyor.targets.local.network.services import pod_is_ready, replicaset_of
from conveyor.targets.local.target import LocalTarget

ROLLOUT = ObjectKey("argoproj.io", "Rollout", "default", "shop")


def snapshot(target: LocalTarget) -> dict[str, Any]:
    runtime = target.runtime
    rollout = runtime.store.get(ROLLOUT) or {}
    svc = runtime.store.get(ObjectKey("", "Service", "default", "shop")) or {}
    ready: dict[str, int] = {}
    for pod in runtime.store.list(kind="Pod", namespace="default"):
        if pod_is_ready(pod):
            ready[replicaset_of(pod)] = ready.get(replicaset_of(pod), 0) + 1
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}]
    runs = {
        run["metadata"]["name"]: run.get("status") or {}
        for run in runtime.store.list(kind="AnalysisRun", namespace="default")
    }
    return {
        "status": rollout.get("status") or {},
        "weights": runtime.services.weights("default", "shop"),
        "port": (ingress[0].get("ports") or [{}])[0].get("port"),
        "ready": ready,
        "runs": runs,
    }


async def main(home: Path, artifacts: Path, stages: list[list[dict[str, Any]]]) -> None:
    settings = Settings.from_env(home=home)
    options = KubeletOptions(backoff_base=0.5, backoff_cap=2.0)
    async with local_target(settings, options, ArtifactStore(artifacts)) as target:
        last: dict[str, Any] | None = None
        pending = list(stages)
        while True:
            now = snapshot(target)
            if pending and (not last or now["status"].get("phase") == "Healthy"):
                for manifest in pending.pop(0):
                    await target.apply(manifest)
            if now != last:
                print("SNAP", json.dumps(now), flush=True)
                last = now
            await asyncio.sleep(0.1)


if __name__ == "__main__":
    loaded = json.loads(Path(sys.argv[3]).read_text()) if len(sys.argv) > 3 else []
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]), loaded))
