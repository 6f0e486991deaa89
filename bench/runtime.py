"""Benchmark of the local runtime: readiness time, Service overhead, memory per Pod.

Prints:
  - time from apply to all replicas Ready, for 1, 10 and 50 replicas;
  - throughput and p50/p99 latency at 50 concurrent keep-alive connections, direct to one
    replica and through the Service (over that one replica, and over 3 replicas);
  - Conveyor's own memory (RSS of this process, children excluded) per 100 Pods.

The workload is examples/hello-app (stdlib HTTP server) built as an artifact; readiness probes
run every second. The load generator runs in its own process (bench/loadgen.py) so that it
does not share this process's event loop.

    .venv/bin/python bench/runtime.py [--duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conveyor.artifacts import ArtifactStore  # noqa: E402
from conveyor.bootstrap import local_target  # noqa: E402
from conveyor.model.objects import ObjectKey  # noqa: E402
from conveyor.settings import Settings  # noqa: E402
from conveyor.targets.local.services import pod_is_ready  # noqa: E402
from conveyor.targets.local.target import LocalTarget  # noqa: E402
from conveyor.targets.protocol import Selector  # noqa: E402
from support.runtime_helpers import READY_PROBE, deployment, make_app_repo, service, service_port  # noqa: E402


async def ready_count(target: LocalTarget, app: str) -> int:
    pods = await target.list(Selector(kind="Pod", labels={"app": app}))
    return sum(pod_is_ready(p) for p in pods)


async def pod_count(target: LocalTarget, app: str) -> int:
    return len(await target.list(Selector(kind="Pod", labels={"app": app})))


async def time_to_ready(target: LocalTarget, name: str, replicas: int) -> float:
    started = time.perf_counter()
    await target.apply(deployment(name, "hello:v1", replicas=replicas, probes=READY_PROBE))
    while await ready_count(target, name) < replicas:
        await asyncio.sleep(0.02)
    return time.perf_counter() - started


async def remove(target: LocalTarget, name: str) -> None:
    await target.delete(ObjectKey("apps", "Deployment", "default", name))
    while await pod_count(target, name):
        await asyncio.sleep(0.1)


async def load(port: int, duration: float) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / "loadgen.py"),
        "127.0.0.1",
        str(port),
        "--connections",
        "50",
        "--duration",
        str(duration),
        stdout=subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    return dict(json.loads(out))


def row(label: str, result: dict[str, Any]) -> str:
    return (
        f"  {label:<34} {result['rps']:>9.0f} req/s   p50 {result['p50_ms']:6.2f} ms   "
        f"p99 {result['p99_ms']:6.2f} ms   errors {result['errors']}"
    )


async def main(duration: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    try:
        repo, shas = make_app_repo(work, ["v1"])
        store = ArtifactStore(work / "artifacts")
        await store.build("hello", source=str(repo), revision=shas[0], tag="v1")
        settings = Settings.from_env(home=work / "home")
        async with local_target(settings, artifacts=store) as target:
            print("Apply to all replicas Ready (readiness probe every 1 s):")
            for replicas in (1, 10, 50):
                seconds = await time_to_ready(target, f"ready{replicas}", replicas)
                print(f"  {replicas:>3} replicas: {seconds:6.2f} s")
                await remove(target, f"ready{replicas}")

            print(f"\nService proxy, 50 concurrent keep-alive connections, {duration:.0f} s each:")
            await target.apply(deployment("one", "hello:v1", replicas=1, probes=READY_PROBE))
            await target.apply(service("one"))
            await target.apply(deployment("three", "hello:v1", replicas=3, probes=READY_PROBE))
            await target.apply(service("three"))
            while await ready_count(target, "one") < 1 or await ready_count(target, "three") < 3:
                await asyncio.sleep(0.05)
            [pod] = await target.list(Selector(kind="Pod", labels={"app": "one"}))
            direct_port = target.runtime.kubelet.host_port(ObjectKey.of(pod), "http")
            one = await target.get(ObjectKey("", "Service", "default", "one"))
            three = await target.get(ObjectKey("", "Service", "default", "three"))
            assert direct_port and one and three
            direct = await load(direct_port, duration)
            via_one = await load(service_port(one) or 0, duration)
            via_three = await load(service_port(three) or 0, duration)
            print(row("direct to one replica", direct))
            print(row("Service over that one replica", via_one))
            print(row("Service over 3 replicas", via_three))
            print(
                f"  Service/direct throughput: {via_one['rps'] / direct['rps']:.2f} (1 replica), "
                f"{via_three['rps'] / direct['rps']:.2f} (3 replicas); "
                f"added p99: {via_one['p99_ms'] - direct['p99_ms']:+.2f} ms (1 replica)"
            )
            await remove(target, "one")
            await remove(target, "three")

            print("\nConveyor's memory per 100 Pods (this process's RSS, children excluded):")
            me = psutil.Process()
            before = me.memory_info().rss
            seconds = await time_to_ready(target, "hundred", 100)
            await asyncio.sleep(2)
            after = me.memory_info().rss
            children = sum(c.memory_info().rss for c in me.children(recursive=True))
            print(f"  100 Pods Ready in {seconds:.1f} s")
            print(
                f"  Conveyor RSS {before / 2**20:.0f} MiB -> {after / 2**20:.0f} MiB: "
                f"{(after - before) / 2**20:.1f} MiB per 100 Pods"
            )
            print(f"  (the 100 workload processes themselves: {children / 2**20:.0f} MiB)")
            await remove(target, "hundred")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds of load per measurement"
    )
    asyncio.run(main(parser.parse_args().duration))
