"""Benchmark of the local runtime: readiness time, Service overhead, memory per Pod.

Measures, in one run, on one local runtime wired as Conveyor runs it (``bootstrap.local_target``):

  ready     time from apply to all replicas Ready, for 1, 10 and 50 replicas (median of
            ``--repeat`` runs; the readiness probe runs every second, so one period is the
            floor);
  service   50 concurrent keep-alive connections, direct to one replica and through a
            Service (over that same replica, and over 3 replicas), interleaved, median of
            ``--repeat`` runs:
              saturated  each connection sends its next request as soon as the last one is
                         answered: the throughput each path reaches (target: the Service at
                         least half of direct). Latency here is mostly queueing;
              paced      a steady ``--paced`` x the direct throughput on the same connections:
                         the p99 the Service's hop adds to a request (target: under 2 ms);
  memory    Conveyor's own memory per 100 Pods: the RSS growth of this process, which runs
            the runtime (controllers, kubelet, probes, Service proxies, store journal), from
            no Pods to 100 Ready Pods. The Pods' processes are separate processes, children
            of this one, and are not in that figure; their total RSS and USS are shown apart.

The workload is examples/hello-app (stdlib threading HTTP server) built as an artifact. The
load generator runs in its own process (bench/loadgen.py) so that it does not share this
process's event loop. Figures only, nothing here asserts timing.

    .venv/bin/python bench/runtime.py [--duration 3] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conveyor.artifacts import ArtifactStore  # noqa: E402
from conveyor.bootstrap import local_target  # noqa: E402
from conveyor.logging import configure  # noqa: E402
from conveyor.model.objects import ObjectKey  # noqa: E402
from conveyor.settings import Settings  # noqa: E402
from conveyor.targets.local.network.services import pod_is_ready  # noqa: E402
from conveyor.targets.local.target import LocalTarget  # noqa: E402
from conveyor.targets.protocol import Selector  # noqa: E402
from support.runtime_helpers import (  # noqa: E402
    READY_PROBE,
    deployment,
    make_app_repo,
    service,
    service_port,
)

CONNECTIONS = 50
REPLICA_COUNTS = (1, 10, 50)
MEMORY_PODS = 100
TARGET_THROUGHPUT_RATIO = 0.5
TARGET_ADDED_P99_MS = 2.0
MIB = 2**20


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu": _cpu_model(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# --- the runtime ---------------------------------------------------------------------------


async def pods(target: LocalTarget, app: str) -> list[dict[str, Any]]:
    return await target.list(Selector(kind="Pod", labels={"app": app}))


async def ready_count(target: LocalTarget, app: str) -> int:
    return sum(pod_is_ready(p) for p in await pods(target, app))


async def wait_ready(target: LocalTarget, app: str, replicas: int, timeout: float = 300) -> None:
    async with asyncio.timeout(timeout):
        while await ready_count(target, app) < replicas:
            await asyncio.sleep(0.02)


async def time_to_ready(target: LocalTarget, name: str, replicas: int) -> float:
    started = time.perf_counter()
    await target.apply(deployment(name, "hello:v1", replicas=replicas, probes=READY_PROBE))
    await wait_ready(target, name, replicas)
    return time.perf_counter() - started


async def remove(target: LocalTarget, name: str, *, with_service: bool = False) -> None:
    await target.delete(ObjectKey("apps", "Deployment", "default", name))
    if with_service:
        await target.delete(ObjectKey("", "Service", "default", name))
    async with asyncio.timeout(120):
        while await pods(target, name):
            await asyncio.sleep(0.1)


# --- measurements --------------------------------------------------------------------------


async def measure_ready(target: LocalTarget, repeat: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for replicas in REPLICA_COUNTS:
        runs = []
        for attempt in range(repeat):
            name = f"ready{replicas}-{attempt}"
            runs.append(round(await time_to_ready(target, name, replicas), 3))
            await remove(target, name)
        result[str(replicas)] = {"median_s": statistics.median(runs), "runs_s": runs}
        progress(f"  {replicas} replicas Ready: {runs} s")
    return result


def process_memory(proc: psutil.Process) -> tuple[int, int]:
    """(RSS, USS) of one process; USS counts only the pages no other process shares."""
    try:
        full = proc.memory_full_info()
        return full.rss, full.uss
    except psutil.AccessDenied:
        rss = proc.memory_info().rss
        return rss, rss
    except psutil.NoSuchProcess:
        return 0, 0


async def measure_memory(target: LocalTarget, count: int) -> dict[str, Any]:
    me = psutil.Process()
    # warm up: every code path a Pod takes, once, so that the baseline holds imports and caches
    await time_to_ready(target, "warmup", 1)
    await remove(target, "warmup")
    await asyncio.sleep(1)
    gc.collect()
    before = me.memory_info().rss
    seconds = await time_to_ready(target, "memory", count)
    await asyncio.sleep(3)  # a few probe periods, log lines and journal flushes
    gc.collect()
    after = me.memory_info().rss
    children = me.children(recursive=True)
    sizes = [process_memory(child) for child in children]
    await remove(target, "memory")
    growth = after - before
    return {
        "pods": count,
        "ready_s": round(seconds, 2),
        "conveyor_rss_before_mib": round(before / MIB, 1),
        "conveyor_rss_after_mib": round(after / MIB, 1),
        "conveyor_mib_per_100_pods": round(growth / MIB * 100 / count, 1),
        "pod_processes": len(children),
        "pod_processes_rss_mib": round(sum(r for r, _ in sizes) / MIB, 1),
        "pod_processes_uss_mib": round(sum(u for _, u in sizes) / MIB, 1),
    }


async def load(port: int, duration: float, rate: float | None = None) -> dict[str, Any]:
    """One run of bench/loadgen.py in its own process; its JSON result."""
    args = ["--host", "127.0.0.1", "--port", str(port)]
    args += ["--connections", str(CONNECTIONS), "--duration", str(duration)]
    if rate:
        args += ["--rps", str(rate)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "bench" / "loadgen.py"), *args, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise RuntimeError(f"bench/loadgen.py exited with {proc.returncode}")
    return dict(json.loads(out))


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's median over the runs: one noisy run on a shared machine moves nothing."""
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


async def measure_service(
    target: LocalTarget, duration: float, repeat: int, paced: float
) -> dict[str, Any]:
    await target.apply(deployment("one", "hello:v1", replicas=1, probes=READY_PROBE))
    await target.apply(service("one"))
    await target.apply(deployment("three", "hello:v1", replicas=3, probes=READY_PROBE))
    await target.apply(service("three"))
    await wait_ready(target, "one", 1)
    await wait_ready(target, "three", 3)
    [pod] = await pods(target, "one")
    direct_port = target.runtime.kubelet.host_port(ObjectKey.of(pod), "http")
    one = await target.get(ObjectKey("", "Service", "default", "one"))
    three = await target.get(ObjectKey("", "Service", "default", "three"))
    ports = {
        "direct": direct_port,
        "service_1": service_port(one) if one else None,
        "service_3": service_port(three) if three else None,
    }
    missing = [path for path, port in ports.items() if not port]
    if missing:
        raise RuntimeError(f"no port for {', '.join(missing)}")
    paths: dict[str, int] = {path: int(port or 0) for path, port in ports.items()}
    for port in paths.values():  # warm up: server threads, pooled upstream connections
        await load(port, 1.0)

    saturated: dict[str, list[dict[str, Any]]] = {path: [] for path in paths}
    for attempt in range(repeat):  # interleaved, so that a busy moment hits every path alike
        for path, port in paths.items():
            saturated[path].append(await load(port, duration))
        progress(f"  saturated run {attempt + 1}/{repeat} done")
    rate = round(median(saturated["direct"])["rps"] * paced)
    paced_runs: dict[str, list[dict[str, Any]]] = {path: [] for path in paths}
    for attempt in range(repeat):
        for path, port in paths.items():
            paced_runs[path].append(await load(port, duration, rate))
        progress(f"  paced run {attempt + 1}/{repeat} done")
    await remove(target, "one", with_service=True)
    await remove(target, "three", with_service=True)

    sat = {path: median(runs) for path, runs in saturated.items()}
    pac = {path: median(runs) for path, runs in paced_runs.items()}
    ratio = sat["service_1"]["rps"] / sat["direct"]["rps"] if sat["direct"]["rps"] else 0.0
    added_paced = pac["service_1"]["p99_ms"] - pac["direct"]["p99_ms"]
    added_saturated = sat["service_1"]["p99_ms"] - sat["direct"]["p99_ms"]
    return {
        "connections": CONNECTIONS,
        "duration_s": duration,
        "repeat": repeat,
        "paced_rate_rps": rate,
        "saturated": sat,
        "paced": pac,
        "runs": {"saturated": saturated, "paced": paced_runs},
        "throughput_ratio_1_replica": round(ratio, 2),
        "throughput_ratio_3_replicas": round(
            sat["service_3"]["rps"] / sat["direct"]["rps"] if sat["direct"]["rps"] else 0.0, 2
        ),
        "added_p99_ms_paced": round(added_paced, 2),
        "added_p99_ms_saturated": round(added_saturated, 2),
        "targets": {
            "throughput_ratio_at_least": TARGET_THROUGHPUT_RATIO,
            "throughput_met": ratio >= TARGET_THROUGHPUT_RATIO,
            "added_p99_ms_under": TARGET_ADDED_P99_MS,
            "added_p99_paced_met": added_paced < TARGET_ADDED_P99_MS,
            "added_p99_saturated_met": added_saturated < TARGET_ADDED_P99_MS,
        },
    }


# --- report --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def table(headers: list[str], rows: list[list[str]], align: str) -> list[str]:
    """A Markdown-style table, readable as text; ``align`` is one of l/r per column."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        parts: list[str] = []
        for cell, width, how in zip(cells, widths, align, strict=True):
            parts.append(cell.ljust(width) if how == "l" else cell.rjust(width))
        return "| " + " | ".join(parts) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + ":" if a == "r" else "-" * (w + 2)
            for w, a in zip(widths, align, strict=True)
        )
        + "|"
    )
    return [fmt(headers), rule, *(fmt(r) for r in rows)]


def report(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        f"Conveyor local runtime benchmark, {m['date']}",
        f"{m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}, "
        f"{m['platform']}",
        f"command: {result['command']}",
        "",
        f"Apply to all replicas Ready (readiness probe every 1 s; median of "
        f"{result['repeat']} runs):",
        "",
    ]
    ready = result["ready"]
    lines += table(
        ["replicas", "seconds (median)", "runs"],
        [
            [n, f"{r['median_s']:.2f}", " ".join(f"{s:.2f}" for s in r["runs_s"])]
            for n, r in ready.items()
        ],
        "rrl",
    )
    s = result["service"]
    t = s["targets"]
    labels: dict[str, str] = {
        "direct": "direct to one replica",
        "service_1": "Service over that replica",
        "service_3": "Service over 3 replicas",
    }
    rows: list[list[str]] = []
    for mode, key in (("saturated", "saturated"), (f"paced {s['paced_rate_rps']}/s", "paced")):
        for path, label in labels.items():
            r = s[key][path]
            rows.append(
                [
                    mode,
                    label,
                    f"{r['rps']:.0f}",
                    f"{r['p50_ms']:.2f}",
                    f"{r['p99_ms']:.2f}",
                    f"{r['errors']:.0f}",
                ]
            )
    lines += [
        "",
        f"Service vs direct, {s['connections']} concurrent keep-alive connections, median of "
        f"{s['repeat']} interleaved runs of {s['duration_s']:g} s:",
        "",
        *table(["load", "path", "req/s", "p50 ms", "p99 ms", "errors"], rows, "llrrrr"),
        "",
        f"  throughput Service/direct: {s['throughput_ratio_1_replica']:.2f} over 1 replica, "
        f"{s['throughput_ratio_3_replicas']:.2f} over 3 "
        f"(target >= {t['throughput_ratio_at_least']}: {verdict(t['throughput_met'])})",
        f"  p99 added by the Service, paced: {s['added_p99_ms_paced']:+.2f} ms "
        f"(target < {t['added_p99_ms_under']:g} ms: {verdict(t['added_p99_paced_met'])}); "
        f"saturated: {s['added_p99_ms_saturated']:+.2f} ms "
        f"({verdict(t['added_p99_saturated_met'])}; mostly queueing)",
    ]
    mem = result["memory"]
    lines += [
        "",
        f"Memory with {mem['pods']} Ready Pods (Ready in {mem['ready_s']:.1f} s):",
        "",
        *table(
            ["what", "MiB"],
            [
                [
                    f"Conveyor's process RSS before -> after {mem['pods']} Pods",
                    f"{mem['conveyor_rss_before_mib']:.0f} -> {mem['conveyor_rss_after_mib']:.0f}",
                ],
                ["Conveyor's RSS growth per 100 Pods", f"{mem['conveyor_mib_per_100_pods']:.1f}"],
                [
                    f"the {mem['pod_processes']} Pod processes, RSS summed (shared pages counted "
                    "in each)",
                    f"{mem['pod_processes_rss_mib']:.0f}",
                ],
                [
                    f"the {mem['pod_processes']} Pod processes, USS summed (their own pages)",
                    f"{mem['pod_processes_uss_mib']:.0f}",
                ],
            ],
            "lr",
        ),
        "",
        "  Conveyor's figure is its own process only; each Pod is a separate host process "
        "(here a Python HTTP server), shown apart.",
    ]
    return "\n".join(lines)


async def main(
    duration: float, repeat: int, paced: float, command: str, render: Callable[[Any], str]
) -> None:
    result: dict[str, Any] = {"machine": machine(), "command": command, "repeat": repeat}
    work = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    try:
        repo, shas = make_app_repo(work, ["v1"])
        store = ArtifactStore(work / "artifacts")
        progress("building the hello-app artifact")
        await store.build("hello", source=str(repo), revision=shas[0], tag="v1")
        settings = Settings.from_env(home=work / "home")
        async with local_target(settings, artifacts=store) as target:
            progress(f"memory: {MEMORY_PODS} Pods")
            result["memory"] = await measure_memory(target, MEMORY_PODS)
            progress("apply to Ready")
            result["ready"] = await measure_ready(target, repeat)
            progress("Service vs direct")
            result["service"] = await measure_service(target, duration, repeat, paced)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(render(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds of load per run (default 3)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per figure, median shown (default 3)"
    )
    parser.add_argument(
        "--paced",
        type=float,
        default=0.5,
        help="paced load as a fraction of the direct throughput (default 0.5)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    configure("WARNING")  # the runtime's info logs (one per Pod event) would bury the figures
    command = "python bench/runtime.py" + "".join(f" {a}" for a in sys.argv[1:])
    renderer: Callable[[Any], str] = (lambda r: json.dumps(r, indent=2)) if args.json else report
    asyncio.run(main(args.duration, args.repeat, args.paced, command, renderer))
