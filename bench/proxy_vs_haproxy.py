"""The Service proxy side by side with HAProxy, over the same replicas, in one run.

What a user would put in front of the replicas instead is Debian's ``haproxy``; this runs one
(``balance roundrobin``, keep-alive and connection reuse on both sides, one thread, as the
proxy has one event loop) on a free 127.0.0.1 port with a generated config, next to a
``ServiceProxy`` over the same upstream processes (``bench/service_proxy.py --serve``), and
measures with ``bench/loadgen.py`` (50 keep-alive connections, its own process):

  saturated  each connection sends its next request as soon as the last is answered:
             throughput (target: the proxy at least 0.8 x HAProxy's) and p99 there;
  paced      a steady rate every path sustains (``--paced`` x the slowest one's throughput):
             the p99 each hop adds over the replicas reached directly (target: the proxy
             within 1 ms of HAProxy's); and at saturation, the p99 the proxy adds over
             direct (target: under 2 ms);
  stats      the proxy's own code per request with and without per-ReplicaSet stats, fed
             through null transports (steady to a tenth of a microsecond), against the
             CPU the whole hop costs (target: stats at most 5 %); and the same proxy under
             load recording or not (noisier);
  accuracy   10,000 requests through the proxy at canary weights 1, 10, 25, 50, 75, 99
             (replica 0 is the stable ReplicaSet, replica 1 the canary): the share served.

Figures are medians of ``--repeat`` interleaved runs; nothing here asserts timing.

    .venv/bin/python bench/proxy_vs_haproxy.py [--duration 3] [--repeat 3] [--replicas 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from conveyor.logging import configure  # noqa: E402
from conveyor.targets.local.network.context import ProxyContext, ProxyOptions  # noqa: E402
from conveyor.targets.local.network.endpoints import Endpoint  # noqa: E402
from conveyor.targets.local.network.http_frontend import HttpFrontend  # noqa: E402
from conveyor.targets.local.network.http_upstream import HttpUpstream  # noqa: E402
from conveyor.targets.local.network.proxy import ServiceProxy  # noqa: E402
from conveyor.targets.local.network.stats import ServiceStats  # noqa: E402
from service_proxy import free_port, load, median, row, verdict, wait_listening  # noqa: E402

HAPROXY_CONFIG = """\
global
    maxconn 4096
    nbthread {threads}
defaults
    mode http
    timeout connect 3s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
    http-reuse always
frontend service
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
{servers}
"""


async def start_haproxy(
    binary: str, ports: list[int], threads: int, workdir: Path
) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    servers = "\n".join(f"    server r{i} 127.0.0.1:{p}" for i, p in enumerate(ports))
    config = workdir / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(threads=threads, port=port, servers=servers))
    subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True)
    proc = await asyncio.create_subprocess_exec(binary, "-db", "-f", str(config))
    await wait_listening(port)
    return proc, port


def _cpu_seconds(proc: asyncio.subprocess.Process) -> float:
    times = psutil.Process(proc.pid).cpu_times()
    return float(times.user + times.system)


async def _load(
    port: str,
    connections: int,
    duration: float,
    rate: float | None,
    cpu: Callable[[], float] | None,
) -> dict[str, Any]:
    """One loadgen run, plus the CPU the hop spent per request (``cpu_us``; 0 for direct).

    The proxies under test run in this process, which does nothing else meanwhile; HAProxy's
    CPU is read from its process. CPU per request is steadier than throughput on a shared
    machine.
    """
    clock = cpu or time.process_time
    before = clock()
    result = await load(port, connections, duration, rate)
    spent = clock() - before
    result["cpu_us"] = (
        spent / result["requests"] * 1e6 if result["requests"] and "," not in port else 0.0
    )
    return result


class _NullTransport:
    """Stands in for both sockets, so that only the proxy's own work is timed."""

    def write(self, data: bytes) -> None:
        return

    def is_closing(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return True

    def pause_reading(self) -> None:
        return

    def resume_reading(self) -> None:
        return

    def close(self) -> None:
        return


def request_cost(stats: ServiceStats | None, n: int = 50_000) -> float:
    """CPU seconds the proxy's own code takes per request (parse, balance, frame, record),
    without sockets: a request fed to a client connection, its response to the upstream one."""
    ctx = ProxyContext("bench", ProxyOptions(), stats)
    ctx.balancer.replace(
        [Endpoint("127.0.0.1", 1, replicaset="a"), Endpoint("127.0.0.1", 2, replicaset="b")]
    )
    for peer in ctx.balancer.peers:
        up = HttpUpstream(ctx, peer)
        up.connection_made(_NullTransport())  # type: ignore[arg-type]
        up.idle_since = time.monotonic() + 1e9
        peer.idle.append(up)
    front = HttpFrontend(ctx)
    front.connection_made(_NullTransport())  # type: ignore[arg-type]
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: conveyor-loadgen\r\n\r\n"
    body = b'{"version": "v1", "pod": "bench-0"}'
    response = (
        b"HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    start = time.process_time()
    for _ in range(n):
        front.data_received(request)
        assert front.upstream is not None
        front.upstream.data_received(response)
    return (time.process_time() - start) / n


def stats_cost() -> tuple[float, float]:
    """The proxy's own CPU per request without and with stats (medians of 5 interleaved)."""
    without, with_ = [], []
    for _ in range(5):
        without.append(request_cost(None))
        with_.append(request_cost(ServiceStats()))
    return statistics.median(without), statistics.median(with_)


async def _send(port: int, total: int, connections: int = 4) -> None:
    """``total`` GET requests over ``connections`` keep-alive connections, one at a time each."""

    async def one(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(one(total // connections) for _ in range(connections)))


def _served(stats: ServiceStats) -> dict[str, int]:
    return {rs: sum(s.requests_by_class().values()) for rs, s in stats.snapshot().items()}


async def accuracy(port: int, proxy: ServiceProxy, stats: ServiceStats) -> None:
    """The canary's share of 10,000 requests at each weight, as the proxy's stats count it."""
    print("accuracy: 10,000 requests per weight through the proxy (4 keep-alive connections)")
    for weight in (1, 10, 25, 50, 75, 99):
        before = _served(stats)
        proxy.set_weights({"stable": 100 - weight, "canary": weight})
        await _send(port, 10_000)
        after = _served(stats)
        canary = after.get("canary", 0) - before.get("canary", 0)
        total = sum(after.values()) - sum(before.values())
        share = canary / total * 100 if total else 0.0
        print(
            f"  weight {weight:>2}: {total} requests, canary served {canary} = {share:.2f} % "
            f"(target within 0.1 pp: {verdict(abs(share - weight) <= 0.1)})"
        )
    proxy.set_weights(None)


async def main(args: argparse.Namespace) -> None:
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        sys.exit("haproxy not found: apt-get install haproxy (see docs/benchmarks.md)")
    version = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {version}")
    print(f"{args.replicas} {args.upstream} replicas, {args.connections} keep-alive connections, "
          f"median of {args.repeat} runs of {args.duration:g} s\n")  # fmt: skip
    ports = [free_port() for _ in range(args.replicas)]
    serve = [sys.executable, str(ROOT / "bench" / "service_proxy.py"), "--serve", args.upstream]
    upstreams = [
        await asyncio.create_subprocess_exec(*serve, "--port", str(port)) for port in ports
    ]
    with_stats = ServiceStats()
    proxy = ServiceProxy(name="bench/web/http", port=0, protocol="http", stats=with_stats)
    endpoints = [
        Endpoint("127.0.0.1", port, name=f"r{i}", replicaset="stable" if i == 0 else "canary")
        for i, port in enumerate(ports)
    ]
    runs: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        haproxy = None
        try:
            for port in ports:
                await wait_listening(port)
            haproxy, haproxy_port = await start_haproxy(binary, ports, args.threads, Path(tmp))
            await proxy.start()
            proxy.set_endpoints(endpoints)
            direct = ",".join(str(p) for p in ports)
            paths = {
                "direct": direct,
                "haproxy": str(haproxy_port),
                "conveyor": str(proxy.port),
                "conveyor, no stats": str(proxy.port),  # the same proxy, recording nothing
            }
            for port in paths.values():  # warm up
                await load(port, args.connections, 1.0)
            cpu = {"haproxy": lambda: _cpu_seconds(haproxy)}  # the others run in this process

            async def measure(name: str, rate: float | None) -> dict[str, Any]:
                proxy.set_stats(None if name == "conveyor, no stats" else with_stats)
                return await _load(
                    paths[name], args.connections, args.duration, rate, cpu.get(name)
                )

            for i in range(args.repeat):  # interleaved, order reversed every other round
                for name in list(paths)[:: -1 if i % 2 else 1]:
                    runs.setdefault(name, []).append(await measure(name, None))
            # a steady load every path sustains: a fraction of the slowest one's throughput
            rate = round(min(median(r)["rps"] for r in runs.values()) * args.paced)
            for i in range(args.repeat):
                for name in list(paths)[:: -1 if i % 2 else 1]:
                    runs.setdefault(f"{name} paced", []).append(await measure(name, rate))
            figures = {name: median(r) for name, r in runs.items()}
            for name, fig in figures.items():
                label = name.replace(" paced", f" paced {rate}/s")
                cpu_text = f"   hop CPU {fig['cpu_us']:5.1f} us/req" if fig["cpu_us"] else ""
                print(row(label, fig) + cpu_text)
            sat = paced = figures
            ratio = sat["conveyor"]["rps"] / sat["haproxy"]["rps"]
            hap_added = paced["haproxy paced"]["p99_ms"] - paced["direct paced"]["p99_ms"]
            conv_added = paced["conveyor paced"]["p99_ms"] - paced["direct paced"]["p99_ms"]
            sat_added = sat["conveyor"]["p99_ms"] - sat["direct"]["p99_ms"]
            hap_sat_added = sat["haproxy"]["p99_ms"] - sat["direct"]["p99_ms"]
            tput_cost = 1 - sat["conveyor"]["rps"] / sat["conveyor, no stats"]["rps"]
            cpu_cost = 1 - sat["conveyor, no stats"]["cpu_us"] / sat["conveyor"]["cpu_us"]
            own_without, own_with = stats_cost()
            per_record = own_with - own_without
            print()
            print(
                f"  throughput conveyor/haproxy {ratio:.2f} "
                f"(target >= 0.80: {verdict(ratio >= 0.8)})"
            )
            print(
                f"  p99 added, paced: haproxy {hap_added:+.2f} ms, conveyor {conv_added:+.2f} ms "
                f"(target within 1 ms of haproxy: {verdict(conv_added - hap_added <= 1)})"
            )
            print(
                f"  p99 added, saturated: haproxy {hap_sat_added:+.2f} ms, conveyor "
                f"{sat_added:+.2f} ms (target < 2 ms: {verdict(sat_added < 2)})"
            )
            share = per_record * 1e6 / sat["conveyor"]["cpu_us"] * 100
            print(
                f"  stats cost (target <= 5 %): the proxy's own code takes "
                f"{own_without * 1e6:.2f} us per request without stats, "
                f"{own_with * 1e6:.2f} us with: +{per_record * 1e6:.2f} us = {share:.1f} % of "
                f"the {sat['conveyor']['cpu_us']:.1f} us the hop costs "
                f"({verdict(share <= 5)}); measured under load: CPU per request "
                f"{cpu_cost * 100:+.1f} %, throughput {-tput_cost * 100:+.1f} % (within noise)"
            )
            print()
            proxy.set_stats(with_stats)
            await accuracy(proxy.port, proxy, with_stats)
        finally:
            await proxy.stop()
            if haproxy is not None:
                haproxy.terminate()
                await haproxy.wait()
            for upstream in upstreams:
                upstream.terminate()
                await upstream.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=3.0, help="seconds of load per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median shown)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="HAProxy's nbthread")
    parser.add_argument("--upstream", choices=["threading", "asyncio"], default="asyncio")
    parser.add_argument(
        "--paced",
        type=float,
        default=0.5,
        help="paced rate, as a fraction of the slowest path's throughput",
    )
    configure("WARNING")
    asyncio.run(main(parser.parse_args()))
